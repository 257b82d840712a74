"""Saving and loading: checkpoints as safetensors files (no pickle)."""
from .checkpoint import load, save

__all__ = ["load", "save"]
