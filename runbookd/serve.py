"""``runbookd serve`` and ``runbookd db upgrade``: load the configuration, then run."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

DEFAULT_CONFIG = Path("config.yaml")


def _settings(args: argparse.Namespace):  # type: ignore[no-untyped-def]  # returns Settings or None
    from runbookd.settings import SettingsError, load_settings

    path = (
        Path(args.config) if args.config else (DEFAULT_CONFIG if DEFAULT_CONFIG.exists() else None)
    )
    try:
        return load_settings(path, os.environ)
    except SettingsError as exc:
        print(f"runbookd: bad configuration:\n{exc}", file=sys.stderr)
        return None


#: Loggers of the outbound HTTP client. httpx logs every request's full URL at INFO, and httpcore
#: the answers' headers at DEBUG; connector URLs carry secrets (a Slack webhook's path, a
#: ``?token=``) that runbookd masks everywhere else. The executor records each call instead.
QUIET_LOGGERS = ("httpx", "httpcore")


def configure_logging(level: str) -> None:
    """The service's logging: one line per record, at ``level``; the HTTP client's kept quiet."""
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def cmd_serve(args: argparse.Namespace) -> int:
    from runbookd import allocator, gcpolicy

    # Before any thread exists: an arena, once a thread took it, stays for the process's life.
    allocator.cap_arenas()
    gcpolicy.configure()

    import uvicorn

    from runbookd.app import create_app

    settings = _settings(args)
    if settings is None:
        return 2
    configure_logging(settings.log.level)
    host = args.host or settings.server.host
    port = args.port if args.port is not None else settings.server.port
    try:
        app = create_app(settings)
    except Exception as exc:  # connector settings and the like: say what, not a traceback
        print(f"runbookd: cannot start: {exc}", file=sys.stderr)
        return 2
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        access_log=settings.server.access_log,
        log_level=settings.log.level,
        lifespan="on",
        timeout_graceful_shutdown=10,
    )
    server = uvicorn.Server(config)
    gcpolicy.freeze_startup()  # after create_app: what it built lives as long as the process
    server.run()
    # uvicorn returns normally when the lifespan start failed; the reason is already logged.
    return 0 if server.started else 3


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
