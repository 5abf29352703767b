"""Alert and people's text is data in post-mortems: in Markdown and HTML it renders as the same
text, never as markup, a link, a script or template code; runbook templates run sandboxed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from runbookd.postmortem import edits
from runbookd.postmortem.load import load_summary_and_runbook
from runbookd.postmortem.markdown import escape_markdown
from runbookd.postmortem.render import render, render_html, render_markdown
from tests.unit.postmortem.rig import PAYMENT, T0, Rig

HOSTILE = "<script>alert(1)</script> [click](http://evil.example/x) {{ 7*7 }} **bold** | x"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def md_to_html(text: str) -> str:
    return MarkdownIt("commonmark").enable("table").render(text)


@pytest.mark.parametrize(
    "text",
    [
        HOSTILE,
        "# heading",
        "- item",
        "12. item",
        "`code` and ``more``",
        "![img](http://evil.example/i.png)",
        "<http://evil.example>",
        "a & b &amp; c",
        "line one\n\n# line two",
        "www.evil.example",
        "===",
        "\\*not emphasis\\*",
    ],
)
def test_escaped_text_renders_as_itself(text: str) -> None:
    html = md_to_html("- " + escape_markdown(text))
    assert "<a " not in html and "<script" not in html and "<img" not in html
    assert "<em>" not in html and "<strong>" not in html and "<code>" not in html
    assert "<h1>" not in html and "<ol" not in html
    # What a reader sees is the original text (line breaks become spaces; no link breaking
    # marks once the zero-width spaces are taken out).
    inner = html.removeprefix("<ul>\n<li>").removesuffix("</li>\n</ul>\n")
    shown = (
        inner.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"').replace("&amp;", "&")
    )
    assert shown.replace("\u200b", "") == " ".join(text.splitlines())


def hostile_incident(rig: Rig) -> None:
    rig.alert("PaymentFailureRateHigh", channel="alipay", detail=HOSTILE)
    rig.alert("PaymentChannelProbeFailed", channel="alipay", detail=HOSTILE)
    rig.action(action="note", incident="INC-1", by="<b>eve</b>", text=HOSTILE)
    rig.action(action="resolve", incident="INC-1", by="eve", reason=HOSTILE)
    rig.at(timedelta(minutes=1))
    edits.add_follow_up(
        rig.db,
        "INC-1",
        title=HOSTILE,
        owner="[owner](http://evil.example)",
        due=None,
        status="open",
        by="eve",
        now=NOW,
    )
    edits.set_lessons(rig.db, "INC-1", text=HOSTILE + "\n\n# not a heading", by="eve", now=NOW)


def test_hostile_text_stays_inert_in_markdown_and_html(db_url: str) -> None:
    rig = Rig(db_url)
    hostile_incident(rig)
    summary, runbook = load_summary_and_runbook(rig.db, "INC-1", now=NOW)
    assert summary.labels["detail"] == HOSTILE  # the data is kept as it came
    assert [n.text for n in summary.notes] == [HOSTILE]

    md = render(summary, "md", runbook)
    rendered = md_to_html(md)
    assert "<script" not in rendered and "<a " not in rendered and "<b>" not in rendered
    assert "http://" not in md  # a renderer that links bare URLs finds none
    assert "49" not in md and "{{ 7" in md
    assert "<h1>not a heading" not in rendered
    # The text is shown (escaped), not dropped.
    assert rendered.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 3

    html = render(summary, "html", runbook)
    assert "<script>" not in html and "<b>eve</b>" not in html
    assert 'href="http://evil' not in html and "49" not in html
    assert html.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 3
    assert "{{ 7*7 }}" in html


def runbook_with_template(tmp_path: Path, name: str, template: str) -> Path:
    source = PAYMENT.read_text().replace("postmortem:\n", f"postmortem:\n  template: {name}\n")
    path = tmp_path / "payment.yaml"
    path.write_text(source)
    (tmp_path / name).write_text(template)
    return path


def test_runbook_markdown_template_replaces_the_default_and_still_escapes(
    db_url: str, tmp_path: Path
) -> None:
    path = runbook_with_template(
        tmp_path,
        "pm.md.j2",
        "# Payments review {{ s.incident }}\n\ndetail: {{ s.labels.detail }}\n"
        "ttr: {{ s.timings.time_to_resolve | duration }}\n",
    )
    rig = Rig(db_url, runbooks=[path])
    hostile_incident(rig)
    summary, runbook = load_summary_and_runbook(rig.db, "INC-1", now=NOW)
    assert summary.template == "pm.md.j2"
    md = render(summary, "md", runbook)
    assert md.startswith("# Payments review INC-1\n")
    assert "ttr: 0s" in md
    assert "<script" not in md_to_html(md) and "http://" not in md
    # The HTML page keeps the default: the template's name does not end in .html.j2.
    assert "<!doctype html>" in render(summary, "html", runbook)


def test_runbook_html_template_is_autoescaped(db_url: str, tmp_path: Path) -> None:
    path = runbook_with_template(
        tmp_path,
        "pm.html.j2",
        "<html><body><h1>{{ s.title }}</h1>{{ s.labels.detail }}</body></html>",
    )
    rig = Rig(db_url, runbooks=[path])
    hostile_incident(rig)
    summary, runbook = load_summary_and_runbook(rig.db, "INC-1", now=NOW)
    html = render(summary, "html", runbook)
    assert html.startswith("<html><body><h1>Payment channel abnormal</h1>&lt;script&gt;")


@pytest.mark.parametrize(
    "template",
    [
        "{{ s.__class__.__mro__ }}",
        "{{ s.model_config.__class__.__subclasses__() }}",
        "{{ nosuchvariable }}",
        "{% for x in s.steps %}{{ x.id.format.__globals__ }}{% endfor %}",
    ],
)
def test_a_failing_or_unsafe_runbook_template_falls_back_to_the_default(
    db_url: str, template: str
) -> None:
    rig = Rig(db_url)
    hostile_incident(rig)
    summary, _ = load_summary_and_runbook(rig.db, "INC-1", now=NOW)
    md = render_markdown(summary, template)
    assert md.startswith("# Post-mortem: Payment channel abnormal (INC-1)")
    assert "post-mortem template failed" in md
    assert "<!doctype html>" in render_html(summary, template)


def test_missing_template_file_is_reported_in_the_post_mortem(db_url: str, tmp_path: Path) -> None:
    path = runbook_with_template(tmp_path, "pm.md.j2", "custom {{ s.incident }}\n")
    rig = Rig(db_url, runbooks=[path])
    rig.alert("PaymentFailureRateHigh", channel="alipay")
    rig.alert("PaymentChannelProbeFailed", channel="alipay")
    (tmp_path / "pm.md.j2").unlink()
    summary, runbook = load_summary_and_runbook(rig.db, "INC-1", now=T0)
    md = render(summary, "md", runbook)
    assert "cannot be read" in md and md.startswith("# Post-mortem:")
