"""runbookd.toolchain."""
