"""``runbookd users hash-token``: the hash to put in ``users[].token_hash`` for a token.

The token is read from stdin (never an argument: arguments end up in shell history and in
``ps``), without its trailing newline, so ``openssl rand -hex 32 | tee token | runbookd users
hash-token`` gives the token to hand out and the hash to configure.
"""

from __future__ import annotations

import argparse
import sys


def cmd_hash_token(_args: argparse.Namespace) -> int:
    from runbookd.auth.tokens import hash_token

    token = sys.stdin.read().rstrip("\r\n")
    if not token:
        print("runbookd users hash-token: no token on stdin", file=sys.stderr)
        return 2
    if "\n" in token:
        print("runbookd users hash-token: the token must be one line", file=sys.stderr)
        return 2
    print(hash_token(token))
    return 0


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    users = sub.add_parser("users", help="users and service accounts (docs/access.md)")
    verbs = users.add_subparsers(dest="users_command", required=True)
    hashing = verbs.add_parser(
        "hash-token", help="read a token on stdin, print the token_hash to configure"
    )
    hashing.set_defaults(func=cmd_hash_token)
