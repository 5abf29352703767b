"""Runnable examples that sit beside runbookd (not part of its packages)."""
