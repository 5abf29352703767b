"""runbookd.server."""
