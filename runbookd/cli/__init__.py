"""The ``runbookd`` command line: ``main`` builds the parser from one module per verb group.

Owns argument parsing, exit codes and what a command prints. Each verb imports what it runs only
when it runs, so ``runbookd check`` starts without the service's dependencies. May import every
other runbookd package; nothing imports it.
"""
