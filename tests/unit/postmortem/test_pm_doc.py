"""docs/runbook-language.md describes what a post-mortem template sees: every summary field,
every filter, every deadline outcome; and its example template renders as written."""

from __future__ import annotations

import re
import typing
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel

from runbookd.postmortem import render as render_module
from runbookd.postmortem.load import load_summary
from runbookd.postmortem.model import DeadlineOutcome, Summary
from runbookd.postmortem.render import render_markdown
from tests.unit.postmortem.rig import Rig, run_payment_outage

DOC = (Path(__file__).parents[3] / "docs" / "runbook-language.md").read_text(encoding="utf-8")
SECTION = DOC[DOC.index("### The service's post-mortem") : DOC.index("## 11.")]


def models(root: type[BaseModel]) -> list[type[BaseModel]]:
    found, todo = [], [root]
    while todo:
        model = todo.pop()
        if model in found:
            continue
        found.append(model)
        for info in model.model_fields.values():
            stack = [info.annotation]
            while stack:
                ann = stack.pop()
                if isinstance(ann, type) and issubclass(ann, BaseModel):
                    todo.append(ann)
                stack.extend(typing.get_args(ann))
    return found


def test_every_summary_field_is_documented() -> None:
    missing = [
        f"{model.__name__}.{name}"
        for model in models(Summary)
        for name in model.model_fields
        if f"`{name}`" not in SECTION
    ]
    assert missing == []


def test_every_filter_and_outcome_is_documented() -> None:
    env = render_module._MD
    ours = sorted(set(env.filters) - set(type(env)().filters))
    assert ours == ["after", "duration", "number", "when"]
    assert [f for f in ours if f"`{f}" not in SECTION] == []
    assert [o for o in typing.get_args(DeadlineOutcome) if f"`{o}`" not in SECTION] == []


def test_the_example_template_renders(db_url: str) -> None:
    [example] = re.findall(r"^```\n(.*?)^```$", SECTION, re.MULTILINE | re.DOTALL)
    rig = Rig(db_url)
    run_payment_outage(rig)
    summary = load_summary(rig.db, "INC-1", now=datetime(2026, 3, 2, tzinfo=UTC))
    text = render_markdown(summary, example)
    assert "template failed" not in text
    assert text.splitlines()[0] == "# Payment channel abnormal (INC-1)"
    assert "Resolved after 7m30s." in text
    assert "- Failed payments during the incident: 42 payments" in text
