"""What the verbs that talk to a running server share: ``--url``/``--token``/``--json`` and
running one call with the exit codes of ``runbookd incidents`` (0 ok, 1 the API refused,
2 usage, 3 unreachable)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from typing import Any

from runbookd.cli.client import DEFAULT_URL, ApiError, Client, Unreachable


def run(
    prog: str,
    args: argparse.Namespace,
    call: Callable[[Client], Any],
    show: Callable[[Any], None],
) -> int:
    """``call`` on a client for ``--url`` (or $RUNBOOKD_URL); its answer to ``show``, or as
    JSON with ``--json``; text answers are written as they are."""
    url = getattr(args, "url", None) or os.environ.get("RUNBOOKD_URL") or DEFAULT_URL
    token = getattr(args, "token", None) or os.environ.get("RUNBOOKD_TOKEN") or None
    if not url.startswith(("http://", "https://")):
        print(f"{prog}: --url must start with http:// or https://, got {url!r}", file=sys.stderr)
        return 2
    try:
        with Client(url, token) as api:
            data = call(api)
    except Unreachable as exc:
        print(
            f"{prog}: {exc}; is the server running? start it with `runbookd serve`", file=sys.stderr
        )
        return 3
    except ApiError as exc:
        print(f"{prog}: {exc.status} {exc.detail}", file=sys.stderr)
        return 1
    if isinstance(data, str):
        sys.stdout.write(data)
    elif getattr(args, "json", False):
        print(json.dumps(data, indent=2))
    else:
        show(data)
    return 0


def common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--url",
        default=argparse.SUPPRESS,
        help=f"server base URL (default: $RUNBOOKD_URL or {DEFAULT_URL})",
    )
    common.add_argument(
        "--token", default=argparse.SUPPRESS, help="API bearer token (default: $RUNBOOKD_TOKEN)"
    )
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="raw JSON")
    return common
