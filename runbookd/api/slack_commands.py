"""The text of the ``/runbookd`` slash command: ``ack INC-12``, ``resolve INC-12``,
``approve INC-12:step``, ``deny INC-12:step``, ``status [INC-12]``, ``help``."""

from __future__ import annotations

from dataclasses import dataclass

#: Words a person may type for each action.
WORDS = {
    "ack": "ack",
    "acknowledge": "ack",
    "resolve": "resolve",
    "approve": "approve",
    "deny": "deny",
    "status": "status",
    "help": "help",
}
#: Actions that need an id.
NEEDS_ID = {"ack": "INC-12", "resolve": "INC-12", "approve": "INC-12:step", "deny": "INC-12:step"}


@dataclass(frozen=True)
class Command:
    action: str
    target: str = ""
    #: why the text was not understood (shown above the help)
    problem: str | None = None


def parse_command(text: str) -> Command:
    words = text.split()
    if not words:
        return Command("help")
    action = WORDS.get(words[0].lower())
    if action is None:
        return Command("help", problem=f"unknown command {words[0]!r}")
    if len(words) > 2:
        return Command("help", problem=f"{words[0]} takes at most one id")
    target = words[1] if len(words) == 2 else ""
    if action in NEEDS_ID and not target:
        return Command("help", problem=f"{words[0]} needs an id, e.g. {NEEDS_ID[action]}")
    # Incident ids are upper case (INC-12); a step id after the colon keeps its case.
    head, colon, step = target.partition(":")
    return Command(action, head.upper() + colon + step)


def help_text(command: str, problem: str | None = None) -> str:
    lines = [f"{problem}.", ""] if problem else []
    lines += [
        f"`{command} ack INC-12` acknowledge an incident (responder)",
        f"`{command} resolve INC-12` resolve it (responder)",
        f"`{command} approve INC-12:step` / `deny INC-12:step` decide a waiting step (approver)",
        f"`{command} status [INC-12]` the open incidents, or one (viewer)",
        f"`{command} help` this text",
    ]
    return "\n".join(lines)
