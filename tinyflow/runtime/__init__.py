"""The executor: plans compiled once per (fetches, feeds) signature, with memory planning."""
from ..passes.memory import MemoryStats
from .plan import MemoryBudgetError, Plan

__all__ = ["MemoryBudgetError", "MemoryStats", "Plan"]
