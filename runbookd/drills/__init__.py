"""runbookd.drills."""
