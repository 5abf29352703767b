"""Plan 11.3, people posing as our staff: after-sales files the reports, the shop warns users."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from examples.orderplatform.faults import FaultSpec
from examples.orderplatform.kernel import Domain, Kernel, duration, require

IMPERSONATION_CHANNELS = ("phone", "sms", "email", "chat", "social")
IMPERSONATED = ("customer_service", "seller", "courier")
#: Reports per order submitted on a normal day: a few scams always go round.
REPORT_SHARE = 0.0005


class NoticeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["impersonation_warning"]
    channel: str
    ttl_hours: float = Field(24, gt=0, le=24 * 30)
    reason: str | None = None


class Impersonation(Domain):
    faults = (
        FaultSpec(
            "impersonation_campaign",
            "11.3",
            "After-sales files impersonation reports on the channel at that rate; every fourth "
            "with loss: yes.",
            choices={"channel": ("phone", IMPERSONATION_CHANNELS)},
            numbers={"reports_per_hour": (12.0, 0.0, 10_000.0)},
        ),
    )

    def __init__(self, k: Kernel) -> None:
        super().__init__(k)
        self.reports = k.metrics.counter(
            "orders_impersonation_reports",
            "Customers' reports of someone posing as us.",
            channel=IMPERSONATION_CHANNELS,
            impersonated=IMPERSONATED,
        )
        self.report_log: list[dict[str, Any]] = []
        self.notices: list[dict[str, Any]] = []
        self._campaign_reports = 0

    def step(self, dt: float) -> None:
        k = self.k
        for _ in range(k.due("report", k.rate * REPORT_SHARE * dt)):
            self._report(k.pick(IMPERSONATION_CHANNELS), k.pick(("yes", "no"), (0.1, 0.9)))
        campaign = k.fault("impersonation_campaign")
        if campaign:
            for _ in range(
                k.due("impersonation_campaign", campaign["reports_per_hour"] / 3600 * dt)
            ):
                self._campaign_reports += 1
                self._report(
                    campaign["channel"], "yes" if self._campaign_reports % 4 == 0 else "no"
                )

    def _report(self, channel: str, loss: str) -> None:
        k = self.k
        impersonated = k.pick(IMPERSONATED, (0.6, 0.2, 0.2))
        case_id = k.new_id("C")
        self.reports.labels(channel=channel, impersonated=impersonated).inc()
        self.report_log.append(
            {
                "case_id": case_id,
                "channel": channel,
                "impersonated": impersonated,
                "loss": loss,
                "at": k.elapsed,
            }
        )
        k.emit(
            "ImpersonationReported",
            {"channel": channel, "impersonated": impersonated, "loss": loss},
            case_id=case_id,
        )

    # --- admin operations ---------------------------------------------------------------------

    def routes(self, router: APIRouter) -> None:
        @router.get(
            "/aftersales/impersonation-reports", summary="Impersonation reports of a channel"
        )
        def reports(channel: str, since: str = "24h") -> dict[str, Any]:
            require(channel, IMPERSONATION_CHANNELS, "channel")
            cutoff = self.k.elapsed - duration(since)
            mine = [r for r in self.report_log if r["channel"] == channel and r["at"] >= cutoff]
            return {
                "channel": channel,
                "count": len(mine),
                "reports": [
                    {
                        "case_id": r["case_id"],
                        "impersonated": r["impersonated"],
                        "loss": r["loss"],
                        "at": self.k.iso(r["at"] - self.k.elapsed),
                    }
                    for r in mine
                ],
            }

        @router.post("/notices", summary="A warning banner naming an impersonation channel")
        def add_notice(body: NoticeBody) -> dict[str, Any]:
            require(body.channel, IMPERSONATION_CHANNELS, "channel")
            live = self._live(body.kind)
            same = next((n for n in live if n["channel"] == body.channel), None)
            if same is None:
                same = {
                    "id": self.k.new_id("notice"),
                    "kind": body.kind,
                    "channel": body.channel,
                    "until": self.k.elapsed + body.ttl_hours * 3600,
                }
                self.notices.append(same)
            return {"id": same["id"], "active": len(self._live(body.kind))}

        @router.get("/notices", summary="Active notices of a kind")
        def notices(kind: str) -> dict[str, Any]:
            live = self._live(kind)
            return {
                "kind": kind,
                "active": len(live),
                "notices": [
                    {
                        "id": n["id"],
                        "channel": n["channel"],
                        "expires_at": self.k.iso(n["until"] - self.k.elapsed),
                    }
                    for n in live
                ],
            }

    def _live(self, kind: str) -> list[dict[str, Any]]:
        return [n for n in self.notices if n["kind"] == kind and n["until"] > self.k.elapsed]
