"""The Block Kit of runbookd's Slack messages: buttons on pages and approval requests, and the
message that replaces them once someone answered.

A button's ``value`` is the incident id (Acknowledge, Resolve) or the approval id (Approve,
Deny): nothing secret, and nothing the server believes without checking who clicked it.
"""

from __future__ import annotations

from typing import Any

#: ``action_id`` of each button -> the action it asks for.
ACTIONS = {
    "runbookd_ack": "ack",
    "runbookd_resolve": "resolve",
    "runbookd_approve": "approve",
    "runbookd_deny": "deny",
}
#: The block that holds runbookd's buttons; a decided message loses it.
BLOCK_ID = "runbookd_actions"
#: What the replacement says, by action.
DONE = {"ack": "Acknowledged", "resolve": "Resolved", "approve": "Approved", "deny": "Denied"}

Block = dict[str, Any]


def _button(action_id: str, text: str, value: str, style: str | None = None) -> Block:
    button: Block = {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": text},
        "value": value,
    }
    if style is not None:
        button["style"] = style
    return button


def _text(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def page_buttons(incident: str) -> Block:
    return {
        "type": "actions",
        "block_id": BLOCK_ID,
        "elements": [
            _button("runbookd_ack", "Acknowledge", incident, "primary"),
            _button("runbookd_resolve", "Resolve", incident),
        ],
    }


def page_blocks(incident: str, text: str, blocks: list[Block] | None = None) -> list[Block]:
    """A page's blocks: the author's own (or the text as a section) and the buttons."""
    return [*(blocks if blocks else [_text(text)]), page_buttons(incident)]


def approval_text(approval: str, step: str, incident: str, deadline: str | None) -> str:
    until = f" until {deadline}" if deadline else ""
    return f"{incident}: step `{step}` waits for approval{until} ({approval})"


def approval_blocks(approval: str, text: str) -> list[Block]:
    return [
        _text(text),
        {
            "type": "actions",
            "block_id": BLOCK_ID,
            "elements": [
                _button("runbookd_approve", "Approve", approval, "primary"),
                _button("runbookd_deny", "Deny", approval, "danger"),
            ],
        },
    ]


def decided(original: list[Block], action: str, by: str, target: str) -> list[Block]:
    """The original message's blocks with runbookd's buttons replaced by who answered; after
    an acknowledgement the Resolve button stays (resolving is still to come)."""
    kept = [b for b in original if not (isinstance(b, dict) and b.get("block_id") == BLOCK_ID)]
    out = [*kept, {"type": "context", "elements": [_mrkdwn(f"{DONE[action]} by {by}")]}]
    if action == "ack":
        out.append(
            {
                "type": "actions",
                "block_id": BLOCK_ID,
                "elements": [_button("runbookd_resolve", "Resolve", target)],
            }
        )
    return out


def _mrkdwn(text: str) -> Block:
    return {"type": "mrkdwn", "text": text}
