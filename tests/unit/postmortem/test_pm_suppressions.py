"""The post-mortem lists the alerts kept from paging while the incident was open: inhibited ones
with the inhibiting incident, silenced ones with the silence (real engine thread and tables,
virtual clock, SQLite or PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

from runbookd.postmortem.load import load_summary
from runbookd.postmortem.render import render
from runbookd.service.oncall import Overrides
from runbookd.service.silences import SilenceBook, SilenceWorker
from tests.unit.postmortem.rig import REPO, T0, Rig

DATABASE = REPO / "runbooks" / "10-database" / "database-abnormal.yaml"
PAYMENTS = REPO / "runbooks" / "03-payment" / "payment-failed.yaml"
ORDERS = REPO / "runbooks" / "02-orders" / "order-creation-failed.yaml"


class SilencingRig(Rig):
    """The rig with the service's silences applied, as ``runbookd serve`` runs them."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.worker = SilenceWorker(
            self.db, silences=SilenceBook(), overrides=Overrides(), wall=self.wall
        )
        self.worker.recover()


def database_outage(rig: SilencingRig, gateway_alerts: int = 1) -> None:
    rig.alert("PostgresqlReplicationLag", instance="db-1:9187")
    rig.alert("PostgresqlTooManyConnections", instance="db-1:9187")  # INC-1 opens
    rig.at(timedelta(minutes=1))
    for n in range(gateway_alerts):  # payment-failed is inhibited by database-abnormal
        rig.alert("PaymentGatewayErrorsHigh", gateway=f"gw-{n}")
    rig._journal(
        "silence",
        {
            "op": "add",
            "id": "s-kernel",
            "matchers": ['alertname="PostgresqlDown"'],
            "startsAt": (T0 + timedelta(minutes=2)).isoformat(),
            "endsAt": (T0 + timedelta(hours=1)).isoformat(),
            "createdBy": "ana",
            "comment": "kernel upgrade",
        },
    )
    rig.at(timedelta(minutes=3))
    rig.alert("PostgresqlDown", instance="db-1:9187")  # joins INC-1, silenced
    rig.at(timedelta(minutes=4))
    rig.action(action="resolve", incident="INC-1", by="alice")
    rig.at(timedelta(minutes=5))
    # After the incident: not its suppression (and payment-failed may page now).
    rig.alert("PaymentGatewayErrorsHigh", gateway="gw-late")
    rig.at(timedelta(minutes=6))


def test_suppressed_and_silenced_alerts_are_listed_with_what_kept_them(db_url: str) -> None:
    rig = SilencingRig(db_url, runbooks=[DATABASE, PAYMENTS])
    database_outage(rig)
    summary = load_summary(rig.db, "INC-1")
    assert [(x.alert, x.outcome, x.runbook, x.by, x.labels) for x in summary.suppressions] == [
        (
            "PaymentGatewayErrorsHigh",
            "suppressed",
            "payment-failed",
            "INC-1 (database-abnormal)",
            {"gateway": "gw-0"},
        ),
        (
            "PostgresqlDown",
            "silenced",
            "database-abnormal",
            "silence s-kernel",
            {"instance": "db-1:9187"},
        ),
    ]
    assert summary.suppressions[0].at == T0 + timedelta(minutes=1)
    markdown = render(summary, "md")
    assert "### Suppressions" in markdown
    assert (
        "PaymentGatewayErrorsHigh (gateway=gw-0), firing, for payment-failed: suppressed by "
        "INC-1 (database-abnormal)"
    ) in markdown
    assert (
        "PostgresqlDown (instance=db-1:9187), firing, for database-abnormal: silenced by silence s-kernel"
        in markdown
    )
    assert "gw-late" not in markdown
    html = render(summary, "html")
    assert "<h3>Suppressions</h3>" in html and "silenced by silence s-kernel" in html


def test_a_storm_of_suppressions_is_listed_short(db_url: str) -> None:
    rig = SilencingRig(db_url, runbooks=[DATABASE, PAYMENTS])
    database_outage(rig, gateway_alerts=25)
    summary = load_summary(rig.db, "INC-1")
    assert len(summary.suppressions) == 20 and summary.suppressions_more == 6
    assert "and 6 more (the alerts page lists them all)" in render(summary, "md")


def test_an_incident_without_suppressions_has_no_such_section(db_url: str) -> None:
    rig = SilencingRig(db_url, runbooks=[DATABASE])
    rig.alert("PostgresqlReplicationLag", instance="db-1:9187")
    rig.alert("PostgresqlTooManyConnections", instance="db-1:9187")
    rig.at(timedelta(minutes=1))
    summary = load_summary(rig.db, "INC-1")
    assert summary.suppressions == [] and "Suppressions" not in render(summary, "md")


def test_the_held_back_runbook_s_incident_lists_what_another_incident_held_back(
    db_url: str,
) -> None:
    rig = SilencingRig(db_url, runbooks=[DATABASE, ORDERS])
    rig.alert("OrderCreationDown", client="web")  # INC-1, order-creation-failed
    rig.at(timedelta(minutes=1))
    rig.alert("PostgresqlReplicationLag", instance="db-1:9187")
    rig.alert("PostgresqlTooManyConnections", instance="db-1:9187")  # INC-2, the database
    rig.at(timedelta(minutes=2))
    rig.alert("OrderCreationDown", client="ios")  # another client's: held back by INC-2
    rig.at(timedelta(minutes=3))
    summary = load_summary(rig.db, "INC-1")
    assert [(x.labels, x.by) for x in summary.suppressions] == [
        ({"client": "ios"}, "INC-2 (database-abnormal)")
    ]
