"""``runbookd completion bash|zsh``: a shell completion script for the whole command line.

The script is generated from the argparse tree that parses the command line (shtab), so it offers
exactly the verbs and options the parser has, and completes without starting Python at each Tab.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import shtab

SHELLS = ("bash", "zsh")
# The arguments, by their dest in any verb, whose values are files or folders: the script
# completes paths for them (and, for the others, only the words the parser knows).
PATH_ARGUMENTS = frozenset({"paths", "files", "events", "config", "runbooks", "junit"})


def add_parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    root: Callable[[], argparse.ArgumentParser],
) -> None:
    # `root` builds the whole parser when the command runs: the script must cover every verb,
    # this one included, and the tree is not complete while it is still being built here.
    parser = sub.add_parser(
        "completion",
        help="print a shell completion script",
        description="Print a completion script for SHELL on stdout. Load it with "
        "`source <(runbookd completion bash)` (in ~/.bashrc) or `runbookd completion zsh > "
        '"${fpath[1]}/_runbookd"` (zsh, then start a new shell).',
    )
    parser.add_argument("shell", choices=SHELLS, help="the shell to complete for")
    parser.set_defaults(func=lambda args: _print(root(), args.shell))


def _print(parser: argparse.ArgumentParser, shell: str) -> int:
    _mark_paths(parser)
    print(shtab.complete(parser, shell=shell), end="")
    return 0


def _mark_paths(parser: argparse.ArgumentParser) -> None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in set(action.choices.values()):
                _mark_paths(child)
        elif action.dest in PATH_ARGUMENTS:
            action.complete = shtab.FILE  # type: ignore[attr-defined]  # shtab reads this attribute
