"""runbookd.service.core."""
