"""The ``runbookd serve`` process: tune the interpreter, build the app, run uvicorn until stopped."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from runbookd.server.logformat import JsonFormatter

if TYPE_CHECKING:
    from runbookd.config.settings import Settings

#: Loggers of the outbound HTTP client. httpx logs every request's full URL at INFO, and httpcore
#: the answers' headers at DEBUG; connector URLs carry secrets (a Slack webhook's path, a
#: ``?token=``) that runbookd masks everywhere else. The executor records each call instead.
QUIET_LOGGERS = ("httpx", "httpcore")


def configure_logging(level: str, fmt: Literal["text", "json"] = "text") -> None:
    """The service's logging: one line per record, at ``level``; the HTTP client's kept quiet.

    ``fmt`` is ``log.format``: ``json`` writes each record as one JSON object (logformat.py).
    """
    handler = logging.StreamHandler()
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
        # a library's warning would otherwise be printed as bare text between the JSON lines
        logging.captureWarnings(True)
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level.upper(), handlers=[handler])
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def tune_process() -> None:
    """Before any thread exists: an arena, once a thread took it, stays for the process's life."""
    from runbookd.service import allocator, gcpolicy

    allocator.cap_arenas()
    gcpolicy.configure()


def serve(
    settings: Settings,
    host: str | None = None,
    port: int | None = None,
    load: Callable[[], Settings] | None = None,
    config_file: Path | None = None,
) -> int:
    """Run the service until it is stopped; the exit status of ``runbookd serve``.

    ``load`` reads the configuration (the file ``config_file``) again (SIGHUP, ``POST /-/reload``).
    ``tune_process`` must
    have run first, before anything started a thread.
    """
    import uvicorn

    from runbookd.server.app import create_app
    from runbookd.service import gcpolicy

    configure_logging(settings.log.level, settings.log.format)
    try:
        app = create_app(settings, load, sighup=True, config=config_file)
    except Exception as exc:  # connector settings and the like: say what, not a traceback
        print(f"runbookd: cannot start: {exc}", file=sys.stderr)
        return 2
    tls = settings.server.tls
    config = uvicorn.Config(
        app,
        ssl_certfile=str(tls.cert_file) if tls else None,
        ssl_keyfile=str(tls.key_file) if tls else None,
        host=host or settings.server.host,
        port=port if port is not None else settings.server.port,
        access_log=settings.server.access_log,
        log_level=settings.log.level,
        # uvicorn's own logging set-up gives its loggers text handlers of their own; in json
        # mode it is skipped, and its records reach the root handler configured above.
        log_config=None if settings.log.format == "json" else uvicorn.config.LOGGING_CONFIG,
        lifespan="on",
        # runbookd reads X-Forwarded-For itself, only from auth.trusted_proxies
        # (runbookd/api/principals.py). uvicorn's own handling would believe it from 127.0.0.1
        # and overwrite the peer address first, letting any local process pose as a trusted
        # proxy and hiding a real proxy on loopback (tests/e2e/test_proxy_headers.py).
        proxy_headers=False,
        timeout_graceful_shutdown=10,
    )
    server = uvicorn.Server(config)
    gcpolicy.freeze_startup()  # after create_app: what it built lives as long as the process
    server.run()
    # uvicorn returns normally when the lifespan start failed; the reason is already logged.
    return 0 if server.started else 3
