"""``runbookd check-config``: validate the configuration and its runbooks as ``serve`` would,
without opening the store or starting anything (as ``amtool check-config`` does)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

DEFAULT_CONFIG = Path("config.yaml")


def cmd_check_config(args: argparse.Namespace) -> int:
    from runbookd.config.settings import SettingsError, load_settings
    from runbookd.toolchain.library import load_library, select_fallback

    path = Path(args.config) if args.config else DEFAULT_CONFIG
    if not path.exists():
        print(f"{path}: no such configuration file", file=sys.stderr)
        return 1
    try:
        settings = load_settings(path, os.environ)
    except SettingsError as exc:
        # The loader already names each problem by its key path, one per line.
        print(f"{path}: invalid configuration:\n{exc}", file=sys.stderr)
        return 1
    # Connector sections are validated by the registry at start (files of tls_config included).
    from runbookd.connectors.registry import SettingsError as ConnectorSettingsError
    from runbookd.connectors.registry import load_settings as load_connector_settings
    from runbookd.connectors.registry import load_specs

    specs = load_specs()
    try:
        load_connector_settings(specs, settings.connectors)
    except ConnectorSettingsError as exc:
        print(f"{path}: invalid configuration:", file=sys.stderr)
        for problem in exc.problems:
            print(f"{path}: {problem}", file=sys.stderr)
        return 1
    # Runbooks are part of what `serve` loads: a config pointing at broken ones is not fine.
    library = load_library(list(settings.runbooks), specs=specs)
    notify = settings.fallback_notify.model_dump() if settings.fallback_notify else None
    select_fallback(library, settings.fallback_runbook, str(path), notify=notify, specs=specs)
    for diagnostic in library.diagnostics:
        print(diagnostic, file=sys.stderr)
    if not library.ok:
        return 1
    if not library.files:
        where = ", ".join(map(str, settings.runbooks))
        print(f"{path}: runbooks: no runbook files under {where}", file=sys.stderr)
        return 1
    print(f"{path}: ok ({len(library.loaded)} runbooks, {len(settings.drills)} scheduled drills)")
    return 0


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    check = sub.add_parser(
        "check-config", help="validate config.yaml and its runbooks (key path of each problem)"
    )
    check.add_argument("config", nargs="?", help="configuration file (default: ./config.yaml)")
    check.set_defaults(func=cmd_check_config)
