"""Optimizers; `rules` holds their update rules, shared by every front end."""
from . import rules  # noqa: F401
