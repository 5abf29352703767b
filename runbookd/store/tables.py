"""The tables, as SQLAlchemy Core metadata shared by the hot paths and the Alembic migrations.

Why Core and not SQLModel classes here: the webhook and engine paths insert hundreds of rows per
transaction, and ORM objects cost more than the database does on that path (shared notes,
ingest-performance). SQLModel is used where objects are read by people: see ``runbookd.store.read``.

The journal is the source of truth. Every engine input -- an alert, a generic event, a person's
acknowledgement, a connector's result -- is a journal row before anyone is told it was received.
The engine's state is a pure function of the applied rows (plus the recorded ticks), so after a
crash it is rebuilt by replaying them; see ``runbookd.service.worker``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

metadata = MetaData()

#: BIGINT on PostgreSQL, INTEGER on SQLite (where only INTEGER PRIMARY KEY autoincrements).
SeqType = BigInteger().with_variant(Integer(), "sqlite")

journal = Table(
    "journal",
    metadata,
    Column("seq", SeqType, primary_key=True, autoincrement=True),
    #: event | action | call_result | runbooks
    Column("kind", String(16), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("payload", Text, nullable=False),
    # Finds the runbook library an incident ran under (post-mortems) without scanning the
    # events. Partial, so the alert hot path writes no index entry for its own rows.
    Index(
        "ix_journal_library",
        "seq",
        sqlite_where=text("kind = 'runbooks'"),
        postgresql_where=text("kind = 'runbooks'"),
    ),
)

#: The latest state seen per alert fingerprint: what tells a retry or an HA copy from news.
alert_state = Table(
    "alert_state",
    metadata,
    Column("fingerprint", String(128), primary_key=True),
    Column("starts_at", String(40), nullable=False),
    Column("status", String(10), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

#: One row per webhook call: for audits and for counting truncated notifications.
receipt = Table(
    "receipt",
    metadata,
    Column("id", SeqType, primary_key=True, autoincrement=True),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("source", String(32), nullable=False),
    Column("receiver", String(256), nullable=False, default=""),
    Column("group_key", Text, nullable=False, default=""),
    Column("external_url", Text, nullable=False, default=""),
    Column("truncated_alerts", Integer, nullable=False, default=0),
    Column("accepted", Integer, nullable=False),
    Column("duplicates", Integer, nullable=False),
)

#: Single row (id = 1): the last journal row the engine applied and committed the effects of.
engine_state = Table(
    "engine_state",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("applied_seq", SeqType, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

#: When the engine fired due timers, and after which journal row: replay repeats them exactly.
engine_tick = Table(
    "engine_tick",
    metadata,
    Column("id", SeqType, primary_key=True, autoincrement=True),
    Column("after_seq", SeqType, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)

#: The engine's state at ``applied_seq``, including the ticks up to ``tick_id`` (runbookd.service.snapshots).
#: A start restores the newest usable row and replays only what came after it.
engine_snapshot = Table(
    "engine_snapshot",
    metadata,
    Column("id", SeqType, primary_key=True, autoincrement=True),
    Column("applied_seq", SeqType, nullable=False),
    Column("tick_id", SeqType, nullable=False),
    Column("format", Integer, nullable=False),
    Column("code", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("capture_s", Float, nullable=False),
    Column("library_digest", String(64), nullable=True),
    Column("data", LargeBinary, nullable=False),
)

#: Who runs the engine (runbookd.service.lease): one row per shard, only ever shard 0 today. The
#: epoch grows by one at every change of holder; a commit checks it, so a paused or cut-off leader
#: whose lease was taken over cannot store anything (its epoch is no longer the row's).
engine_lease = Table(
    "engine_lease",
    metadata,
    Column("shard", Integer, primary_key=True, autoincrement=False),
    Column("holder", String(200), nullable=False),
    Column("epoch", BigInteger, nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("acquired_at", DateTime(timezone=True), nullable=False),
)

#: What became of every event the engine ingested (engine.outcomes, migration 0007): opened or
#: joined an incident, waits in a correlation, counted, held by a `for`, or matched nothing.
#: Written by the engine thread with the batch it belongs to, so it exists exactly once.
alert_outcome = Table(
    "alert_outcome",
    metadata,
    Column("id", SeqType, primary_key=True, autoincrement=True),
    #: when it was received (the engine's clock reads the journal row's time)
    Column("at", DateTime(timezone=True), nullable=False),
    #: alert | event
    Column("kind", String(8), nullable=False),
    Column("name", String(256), nullable=False),
    Column("status", String(10), nullable=False),
    Column("fingerprint", String(128), nullable=True),
    #: opened | joined | pending | counted | held | heartbeat | observed | unmatched
    Column("outcome", String(16), nullable=False),
    Column("incident_id", String(64), nullable=True),
    Column("runbook", String(128), nullable=True),
    Column("labels", Text, nullable=False),
    #: every per-runbook result (engine.outcomes.Fate), as JSON text
    Column("results", Text, nullable=False),
    Index("ix_alert_outcome_at", "at"),
    Index("ix_alert_outcome_name", "name", "at"),
    Index("ix_alert_outcome_outcome", "outcome", "at"),
)

#: Connector calls the engine asked for; the executor runs each once per call_id.
outbox = Table(
    "outbox",
    metadata,
    Column("call_id", String(200), primary_key=True),
    Column("incident_id", String(64), nullable=True),
    Column("kind", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("payload", Text, nullable=False),
    #: pending | done | failed
    Column("status", String(10), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Column("error", Text, nullable=True),
    Index("ix_outbox_status", "status"),
)

incident = Table(
    "incident",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("runbook", String(128), nullable=False),
    Column("runbook_version", Integer, nullable=False),
    Column("section", String(32), nullable=False),
    Column("title", Text, nullable=False),
    Column("severity", String(10), nullable=False),
    Column("status", String(16), nullable=False),
    Column("key", Text, nullable=False),
    Column("labels", JSON, nullable=False),
    Column("opened_at", DateTime(timezone=True), nullable=False),
    Column("acknowledged_at", DateTime(timezone=True), nullable=True),
    Column("acknowledged_by", String(256), nullable=True),
    Column("mitigated_at", DateTime(timezone=True), nullable=True),
    Column("resolved_at", DateTime(timezone=True), nullable=True),
    Column("resolved_by", String(256), nullable=True),
    Column("closed_at", DateTime(timezone=True), nullable=True),
    Column("alerts", Integer, nullable=False),
    Column("detail", JSON, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_incident_status", "status"),
    Index("ix_incident_opened_at", "opened_at"),
    # The web list's runbook filter and its list of runbooks (migration 0004).
    Index("ix_incident_runbook", "runbook", "opened_at"),
)

timeline = Table(
    "timeline",
    metadata,
    Column("id", SeqType, primary_key=True, autoincrement=True),
    Column("incident_id", String(64), nullable=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("kind", String(24), nullable=False),
    Column("summary", Text, nullable=False),
    Column("data", Text, nullable=False),
    Column("journal_seq", SeqType, nullable=True),
    Index("ix_timeline_incident", "incident_id", "id"),
    # Partial: which incidents had a step finish (the remediation report, migration 0004).
    Index(
        "ix_timeline_step_outcome",
        "incident_id",
        sqlite_where=text("kind = 'step_outcome'"),
        postgresql_where=text("kind = 'step_outcome'"),
    ),
)

#: Who did what, through what, from where, and how it went (runbookd.auth.audit, migration
#: 0008). A journaled action's row is written with its journal entry (``journal_seq``) in one
#: transaction, and the engine settles ``outcome`` in the commit of the batch that applied it.
audit = Table(
    "audit",
    metadata,
    Column("id", SeqType, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(256), nullable=False),
    Column("role", String(16), nullable=True),
    #: user | service | token | anonymous
    Column("kind", String(16), nullable=False),
    #: web | api | cli | slack | pagerduty
    Column("via", String(16), nullable=False),
    Column("address", String(64), nullable=True),
    Column("action", String(32), nullable=False),
    #: incident | approval | schedule | silence | runbooks | follow_up
    Column("target_kind", String(16), nullable=False),
    Column("target", String(256), nullable=False),
    Column("incident_id", String(64), nullable=True),
    #: pending | applied | refused | denied | failed
    Column("outcome", String(16), nullable=False),
    Column("reason", Text, nullable=True),
    Column("detail", Text, nullable=False),
    Column("journal_seq", SeqType, nullable=True),
    Index("ix_audit_at", "at"),
    Index("ix_audit_actor", "actor", "id"),
    Index("ix_audit_incident", "incident_id", "id"),
    Index("ix_audit_journal_seq", "journal_seq"),
    # GET /api/v1/audit?target= and ?action=, newest first (migration 0010).
    Index("ix_audit_target", "target", "id"),
    Index("ix_audit_action", "action", "id"),
)

#: Inbound webhook deliveries already taken (migration 0009): a vendor that retries (PagerDuty
#: v3 redelivers until it gets a 2xx) sends the same event id again, and the primary key makes
#: every replica, before and after a restart, act on it once (runbookd.store.webhook_events).
webhook_event = Table(
    "webhook_event",
    metadata,
    #: pagerduty (slack, ... later)
    Column("source", String(16), primary_key=True),
    Column("event_id", String(200), primary_key=True),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("event_type", String(64), nullable=False),
    Column("incident_id", String(64), nullable=True),
    #: claimed (being acted on) | done
    Column("status", String(16), nullable=False),
    Index("ix_webhook_event_received_at", "received_at"),
)

# --- post-mortem edits (migration 0002) -------------------------------------------------------
# People's judgement about an incident: not engine inputs, so written straight to these tables
# by the API (runbookd.postmortem.edits), never through the journal.

#: An action item that came out of an incident: who does what by when, and where it stands.
follow_up = Table(
    "follow_up",
    metadata,
    Column("id", SeqType, primary_key=True, autoincrement=True),
    Column("incident_id", String(64), nullable=False),
    Column("title", Text, nullable=False),
    Column("owner", String(256), nullable=True),
    Column("due_date", Date, nullable=True),
    #: open | in_progress | done | dropped
    Column("status", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(256), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("updated_by", String(256), nullable=False),
    Index("ix_follow_up_incident", "incident_id", "id"),
    Index("ix_follow_up_status", "status", "due_date"),
)

#: The lessons section of an incident's post-mortem: one text per incident, last writer wins.
lessons = Table(
    "lessons",
    metadata,
    Column("incident_id", String(64), primary_key=True),
    Column("text", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("updated_by", String(256), nullable=False),
)

# --- drills (migration 0003) ------------------------------------------------------------------
# Read by people (the /reports page), written once per drill and never updated: the one table that
# is a SQLModel class, sharing the Core metadata above so Alembic and the schema stay one thing.

_drill_registry = registry(metadata=metadata)


class _DrillBase(SQLModel, registry=_drill_registry):
    pass


class DrillRun(_DrillBase, table=True):
    """One drill of one runbook (plan 12.1.2): its score and the checks behind it."""

    __tablename__ = "drill_run"
    __table_args__ = (Index("ix_drill_run_started_at", "started_at"),)

    id: int | None = Field(default=None, primary_key=True)
    runbook_id: str = Field(max_length=128)
    runbook_version: int
    started_at: datetime = Field(sa_type=DateTime(timezone=True))
    finished_at: datetime = Field(sa_type=DateTime(timezone=True))
    passed: bool
    #: Share of the drill's checks that passed, 0..1.
    score: float
    #: JSON text: the checks (name, passed, detail) and the synthetic signals of each drill.
    details: str = Field(sa_type=Text)
