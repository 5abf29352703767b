"""The post-mortem names who acknowledged and who approved each approved step, with their role
and through what -- in the JSON summary, the Markdown and the page. The real app under uvicorn,
users with tokens, SQLite or PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from tests.unit.postmortem.rig import database_url
from tests.unit.runbookd.audit_app import CLI_AGENT, outage, serve


def test_the_postmortem_names_the_acknowledger_and_the_approver(tmp_path: Path) -> None:
    with database_url(tmp_path) as url, serve(url) as app:
        outage(app)
        with app.client("rob", **CLI_AGENT) as rob:
            assert rob.post("/api/v1/incidents/INC-1/ack", json={"by": "rob"}).is_success
        with app.client("ana") as ana:
            decided = ana.post(
                "/api/v1/approvals/INC-1:switch_channel", json={"approve": True, "by": "ana"}
            )
            assert decided.is_success, decided.text
        with app.client() as admin:
            summary = admin.get("/api/v1/incidents/INC-1/postmortem?format=json").json()
            markdown = admin.get("/api/v1/incidents/INC-1/postmortem?format=md").text
            page = admin.get("/postmortems/INC-1").text
    timings = summary["timings"]
    assert (timings["acknowledged_by"], timings["acknowledged_role"]) == ("rob", "responder")
    assert (timings["acknowledged_via"], timings["acknowledged_as"]) == (
        "cli",
        "rob (responder) via cli",
    )
    [approval] = summary["approvals"]
    assert (approval["step"], approval["decision"], approval["by"]) == (
        "switch_channel",
        "approved",
        "ana",
    )
    assert (approval["role"], approval["via"]) == ("approver", "api")
    assert approval["by_as"] == "ana (approver) via api"
    assert "acknowledged by rob (responder) via cli after" in summary["what_happened"][1]
    assert "by rob (responder) via cli |" in markdown
    assert "- switch\\_channel: approved by ana (approver) via api at" in markdown
    assert "rob (responder) via cli" in page and "ana (approver) via api" in page
