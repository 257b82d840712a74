"""The executor: plans compiled once per (fetches, feeds) signature."""
from .plan import Plan

__all__ = ["Plan"]
