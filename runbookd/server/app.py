"""``create_app(settings)``: the composition root. Nothing is built at import time.

The lifespan builds the ``Service`` (store, journal writer, engine thread, executor), and routes
are mounted once it exists, so a bad runbook or an unreachable database fails the start before
anything listens.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.params import Depends
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from runbookd import __version__
from runbookd.alerts.polling import Poll
from runbookd.alerts.routes import ingest_router
from runbookd.api.alerts import alerts_router
from runbookd.api.approvals import approvals_router
from runbookd.api.audit_log import audit_router
from runbookd.api.auth import Credentials, require
from runbookd.api.chatops_pagerduty import pagerduty_router
from runbookd.api.chatops_slack import SlackChatops, slack_router
from runbookd.api.incidents import incidents_router
from runbookd.api.oncall import oncall_router
from runbookd.api.postmortem import postmortem_router
from runbookd.api.principals import Access, principal_of, require_role
from runbookd.api.reports import reports_router
from runbookd.api.runbooks import runbooks_router
from runbookd.api.silences import silences_router
from runbookd.auth.roles import Role
from runbookd.config.settings import SettingsError
from runbookd.connectors.base import ConnectorSpec, Settings
from runbookd.drills.schedule import DrillJob
from runbookd.server.access import build_access
from runbookd.server.reload import Reloader, reload_router
from runbookd.server.slack import slack_chatops, slack_specs, slack_tasks
from runbookd.service.cluster import ClusterOptions
from runbookd.service.core import Options, Service
from runbookd.web.routes import web_router

if TYPE_CHECKING:
    from runbookd.config.settings import Settings as RunbookdSettings


def build_app(
    options: Options,
    *,
    credentials: Credentials | None = None,
    access: Access | None = None,
    max_body_bytes: int = 1_048_576,
    specs: Mapping[str, ConnectorSpec] | None = None,
    connector_settings: Mapping[str, Settings] | None = None,
    load: Callable[[], RunbookdSettings] | None = None,
    started: RunbookdSettings | None = None,
    sighup: bool = False,
    config: Path | None = None,
    pagerduty_secrets: Sequence[bytes] = (),
    slack: SlackChatops | None = None,
) -> FastAPI:
    """The app for explicit options (tests, benchmarks); ``create_app`` maps settings onto it.

    ``load`` re-reads the configuration for a reload (without it a reload re-reads the runbooks
    only), ``started`` is the configuration the app was built from, and ``sighup`` makes SIGHUP
    reload too (only for the process's main thread: ``runbookd serve``). ``config`` is the file
    ``load`` reads, so that a refused reload logs its problems with their lines. ``slack``
    turns on the Slack buttons and endpoints (docs/chatops.md)."""
    if specs is None:
        from runbookd.connectors.registry import load_specs

        specs = load_specs()
    specs = slack_specs(specs, slack)  # pages through Slack carry buttons
    service = Service(options, specs, connector_settings)
    credentials = credentials or Credentials()
    # No dependency at all when auth is off: FastAPI's dependency solving costs ~12% of a
    # webhook request's CPU even for a check that always passes (bench/RESULTS.md, Ingest).
    webhooks: list[Depends] = [Depends(require(credentials))] if credentials.required else []
    access = access or Access(shared=credentials)
    service.redactor = access.redactor  # the configured secrets stay out of notes and the log
    # Everything but the ingest webhooks: who the request is (users, the shared credential as
    # an admin, trusted proxies); the webhooks keep the shared credential alone.
    guard: list[Depends] = [Depends(principal_of)] if access.required else []
    reloader = Reloader(service, specs, load, started, config=config)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await service.start()
        stop_slack = slack_tasks(service, slack)
        reloader.started()
        loop = asyncio.get_running_loop()
        if sighup:
            reloader.install_sighup(loop)
        try:
            yield
        finally:
            if sighup:
                reloader.remove_sighup(loop)
            await stop_slack()
            await service.stop()

    app = FastAPI(
        title="runbookd",
        version=__version__,
        description="Runbook automation for incident response.",
        lifespan=lifespan,
    )
    app.state.service = service
    # Who a request is (runbookd.api.principals): users, the shared credential, trusted proxies.
    app.state.access = access

    children: dict[tuple[str, str], Any] = {}

    def count(source: str, outcome: str, n: int) -> None:
        if not n:
            return
        child = children.get((source, outcome))
        if child is None:  # .labels() costs a lock and a dict build per call: keep the child
            m = service.metrics
            if outcome.startswith("rejected:"):
                child = m.requests_rejected.labels(source, outcome.partition(":")[2])
            elif outcome.startswith("rejected_alert:"):
                child = m.alerts_rejected.labels(source, outcome.partition(":")[2])
            elif outcome == "escaped":
                child = m.values_escaped.labels(source)
            else:
                child = m.alerts_received.labels(source, outcome)
            children[(source, outcome)] = child
        child.inc(1 if outcome.startswith("rejected:") else n)

    app.include_router(
        ingest_router(
            service.inbox,
            max_body_bytes=max_body_bytes,
            count=count,
            on_truncated=service.on_truncated,
            dependencies=webhooks,
        )
    )
    app.include_router(alerts_router(service, guard))
    app.include_router(reports_router(service, guard))
    app.include_router(incidents_router(service, guard))
    app.include_router(postmortem_router(service, guard))

    async def reload_all() -> list[str]:
        return list((await reloader.reload()).errors)

    app.include_router(runbooks_router(service, guard, reload_all))
    app.include_router(
        reload_router(reloader, [Depends(require_role(Role.ADMIN))] if access.required else [])
    )
    app.include_router(approvals_router(service, guard))
    app.include_router(oncall_router(service, guard))
    app.include_router(silences_router(service, guard))
    app.include_router(audit_router(service, guard))
    app.include_router(pagerduty_router(service, pagerduty_secrets))  # its signature is its auth
    app.include_router(slack_router(service, slack))  # Slack signs its requests itself
    # The pages for people (runbookd/web): a login, forms gated by role, CSRF on every form.
    app.include_router(web_router(service, access))

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        # Name the field first: "body.by: Field required" reads better than pydantic's list.
        errors = exc.errors()
        first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(p) for p in first["loc"])
        return JSONResponse(
            {"detail": f"{where}: {first['msg']}", "errors": _plain(errors)}, status_code=422
        )

    @app.get("/healthz", tags=["health"], summary="The process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], summary="Store reachable, engine running, schema current")
    async def readyz() -> JSONResponse:
        checks = await asyncio.to_thread(service.ready)
        return JSONResponse(checks, status_code=200 if checks["ok"] else 503)

    @app.get(
        "/metrics",
        tags=["health"],
        summary="Prometheus metrics",
        response_class=PlainTextResponse,  # documents text/plain, the exposition format
    )
    async def metrics() -> Response:
        return Response(generate_latest(service.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app


def _plain(errors: Any) -> list[dict[str, Any]]:
    return [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", ""))} for e in errors]


def create_app(
    settings: RunbookdSettings,
    load: Callable[[], RunbookdSettings] | None = None,
    *,
    sighup: bool = False,
    config: Path | None = None,
) -> FastAPI:
    """The app for a loaded configuration (``runbookd serve``); ``load`` reads it again for a
    reload (see ``build_app``)."""
    from runbookd.connectors.registry import load_settings as load_connector_settings
    from runbookd.connectors.registry import load_specs

    specs = load_specs()
    connector_settings = load_connector_settings(specs, settings.connectors)
    access, problems = build_access(settings, connector_settings)
    if problems:
        raise SettingsError(problems)
    options = Options(
        database_url=settings.database_url_resolved(),
        runbooks=list(settings.runbooks),
        schedules=tuple(settings.schedules),
        fallback_runbook=settings.fallback_runbook,
        windows=settings.windows_section(),
        fallback_notify=n.model_dump() if (n := settings.fallback_notify) else None,
        dry_run=settings.engine.dry_run,
        ingest_batch_max=settings.ingest.batch_max,
        ingest_commit_interval=settings.ingest.commit_interval.total_seconds(),
        engine_batch_max=settings.engine.batch_max,
        engine_retention=settings.engine.retention.total_seconds(),
        outcome_retention=settings.retention.alert_outcomes,
        snapshot_every=settings.engine.snapshot_every,
        snapshot_interval=settings.engine.snapshot_interval.total_seconds(),
        workers=settings.executor.workers,
        default_timeout=settings.executor.default_timeout.total_seconds(),
        alertmanager_api_url=settings.alertmanager.api_url,
        alertmanager_timeout=settings.alertmanager.timeout.total_seconds(),
        polls=tuple(_polls(settings)),
        breaker_failures=settings.executor.breaker_failures,
        breaker_open_for=settings.executor.breaker_open_for.total_seconds(),
        drills=tuple(
            DrillJob(d.cron, None if d.runbooks == "all" else tuple(d.runbooks))
            for d in settings.drills
        ),
        cluster=ClusterOptions(
            enabled=settings.cluster.enabled,
            role=settings.cluster.role,
            name=settings.cluster.name,
            lease_ttl=settings.cluster.lease_ttl.total_seconds(),
            clock_margin=settings.cluster.clock_margin.total_seconds(),
            lock_timeout=settings.cluster.lock_timeout.total_seconds(),
            idle_in_transaction_timeout=settings.cluster.idle_in_transaction_timeout.total_seconds(),
        ),
    )
    return build_app(
        options,
        credentials=access.shared,
        access=access,
        max_body_bytes=settings.server.max_body_bytes,
        specs=specs,
        connector_settings=connector_settings,
        load=load,
        started=settings,
        sighup=sighup,
        config=config,
        pagerduty_secrets=settings.chatops.pagerduty.secrets(),
        slack=slack_chatops(settings),
    )


def _polls(settings: RunbookdSettings) -> list[Poll]:
    out = []
    for poll in settings.polling:
        url = settings.poll_url(poll)
        if url is None:  # the settings loader reports this; never start a poll with no target
            continue
        out.append(Poll(poll.name, poll.query, poll.every.total_seconds(), url, dict(poll.labels)))
    return out
