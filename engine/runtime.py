"""The engine: events and timer expiries in, commands out -- ``Engine``, one mixin per concern.

Detection runs through the compiled durable_rules rulesets; what needs time -- windows,
``for`` holds, heartbeats, correlation expiry, escalation deadlines -- is kept on timers owned
by the engine and read from an injected clock, so a virtual clock replays hours of an incident
in milliseconds. Nothing in the engine does I/O: callers execute the ``notify`` and ``run_step``
commands and report back with ``call_finished``.

Where each part lives; a module imports only those below it, and the concerns in the middle
do not import one another (verification extends steps):

    runtime        ``Engine``: the composition, nothing else
    detection      ingest, triggers, correlation halves, ``for`` holds, heartbeats, counting
                   windows, explain
    lifecycle      open, attach, raise, recover, resolve, acknowledge, close, reopen, notes
    inhibition     firings an open incident of another runbook suppresses, released later
    retention      settled incidents leave memory and come back; idle state is swept
    escalation     levels, notifications and their retries, escalate
    muting         silences and maintenance windows: no incident opens, paging pauses
    verification   call results, verification, rollback, impact figures, handling timers
    steps          the step machine: conditions, approvals, safety rails, dispatch, retries
    core           the state, commands, calls and timers, timer dispatch, the hooks
    errors, keys, timing, held   ``EngineError``; incident keys and ids; retention and retry
                   delays; held (inhibited) firings

Callers import ``Engine`` from here (the service, the simulator, snapshots).
"""

from __future__ import annotations

from runbookd.engine.detection import Detection
from runbookd.engine.escalation import Escalation
from runbookd.engine.inhibition import Inhibition
from runbookd.engine.lifecycle import Lifecycle
from runbookd.engine.muting import Muting
from runbookd.engine.retention import Retention
from runbookd.engine.steps import Steps
from runbookd.engine.verification import Verification


class Engine(Detection, Lifecycle, Inhibition, Retention, Escalation, Muting, Verification, Steps):
    """The rules engine: every concern's mixin over ``engine.core.EngineCore``."""
