"""``fallback_notify``: the connector and parameters the fallback runbook's notice goes through.

The fallback runbook is the one runbook whose audience is decided by the installation, not by
the runbook's author, so config.yaml can redirect its levels without a copy of the file. The
override is journaled with the library (service/journal.py) so that a replay compiles exactly
the runbook the first run did.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from runbookd.connectors.base import ConnectorSpec
from runbookd.engine.checks import check_runbook
from runbookd.engine.lang.diagnostics import Diagnostic
from runbookd.engine.lang.loader import LoadedRunbook
from runbookd.engine.lang.model import Escalation, Level, Runbook


def with_notify(runbook: Runbook, notify: Mapping[str, Any] | None) -> Runbook:
    """``runbook`` with every escalation level sending through ``notify`` (``connector``,
    ``params`` and, when given, ``who``); unchanged when ``notify`` is None or the runbook is not a fallback runbook."""
    if notify is None or not runbook.detection.fallback:
        return runbook
    update: dict[str, Any] = {
        "connector": str(notify["connector"]),
        "params": dict(notify.get("params") or {}),
    }
    if notify.get("who"):
        update["who"] = str(notify["who"])
    if runbook.escalation is None:
        # A fallback that tells nobody by itself gets one level: the setting asks for a notice.
        level = Level(id="fallback-notify", connector=update["connector"], params=update["params"])
        escalation = Escalation(levels=[level.model_copy(update=update)])
    else:
        levels = [level.model_copy(update=update) for level in runbook.escalation.levels]
        escalation = runbook.escalation.model_copy(update={"levels": levels})
    return runbook.model_copy(update={"escalation": escalation})


def apply_notify(
    loaded: list[LoadedRunbook],
    notify: Mapping[str, Any] | None,
    specs: Mapping[str, ConnectorSpec],
    source: str,
) -> tuple[list[LoadedRunbook], list[Diagnostic]]:
    """The runbooks with the fallback's levels redirected, and the problems of the redirected
    call (unknown connector, wrong parameters, bad templates) named as the ``fallback_notify``
    setting of ``source``: the runbook file is not where they were written."""
    if notify is None:
        return loaded, []
    out: list[LoadedRunbook] = []
    problems: list[Diagnostic] = []
    for item in loaded:
        if item.runbook.detection.fallback:
            item = dataclasses.replace(item, runbook=with_notify(item.runbook, notify))
            for found in check_runbook(item, specs):
                message = f"fallback_notify: {found.message}"
                problems.append(Diagnostic(source, 1, 1, message))
        out.append(item)
    return out, list(dict.fromkeys(problems))
