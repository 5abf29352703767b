"""``runbookd serve`` and ``runbookd db upgrade``: load the configuration, then run (the process
itself is ``runbookd.server.serve``)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

DEFAULT_CONFIG = Path("config.yaml")


def _path(args: argparse.Namespace) -> Path | None:
    return (
        Path(args.config) if args.config else (DEFAULT_CONFIG if DEFAULT_CONFIG.exists() else None)
    )


def _settings(args: argparse.Namespace):  # type: ignore[no-untyped-def]  # returns Settings or None
    from runbookd.config.settings import SettingsError, load_settings

    try:
        return load_settings(_path(args), os.environ)
    except SettingsError as exc:
        print(f"runbookd: bad configuration:\n{exc}", file=sys.stderr)
        return None


def cmd_serve(args: argparse.Namespace) -> int:
    from runbookd.server.serve import serve, tune_process

    tune_process()  # before anything can start a thread (settings loading does not)
    settings = _settings(args)
    if settings is None:
        return 2
    from runbookd.config.settings import Settings, load_settings

    path = _path(args)

    def load() -> Settings:
        # The same file and rules as at start; the process's environment does not change.
        return load_settings(path, os.environ)

    return serve(settings, args.host, args.port, load, path)


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from runbookd.store.db import current_revision, make_engine, upgrade

    settings = _settings(args)
    if settings is None:
        return 2
    engine = make_engine(settings.database_url_resolved())
    try:
        before = current_revision(engine)
        upgrade(engine)
        after = current_revision(engine)
    except Exception as exc:
        print(f"runbookd db upgrade: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    print(f"schema at revision {after}" + (f" (was {before})" if before != after else " (current)"))
    return 0


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = sub.add_parser("serve", help="run the service (HTTP API, engine, executor)")
    serve.add_argument("--config", help="configuration file (default: ./config.yaml if present)")
    serve.add_argument("--host", help="listen address (overrides server.host)")
    serve.add_argument("--port", type=int, help="listen port (overrides server.port)")
    serve.set_defaults(func=cmd_serve)
    dbp = sub.add_parser("db", help="database schema")
    dbsub = dbp.add_subparsers(dest="db_command", required=True)
    up = dbsub.add_parser("upgrade", help="apply schema migrations")
    up.add_argument("--config", help="configuration file (default: ./config.yaml if present)")
    up.set_defaults(func=cmd_db_upgrade)
