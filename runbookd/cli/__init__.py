"""runbookd.cli.main."""
