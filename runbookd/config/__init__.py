"""runbookd.config."""
