"""``Access`` from the settings: the users (with the Slack and PagerDuty ids of the schedules'
people they name), the shared credential of ``auth``, and the trusted proxies."""

from __future__ import annotations

from typing import TYPE_CHECKING

from runbookd.api.auth import Credentials
from runbookd.api.principals import Access
from runbookd.auth.users import Users, unknown_people
from runbookd.oncall.loader import load_paths

if TYPE_CHECKING:
    from runbookd.config.settings import Settings


def shared_credentials(settings: Settings) -> Credentials:
    """``auth``'s single token or basic pair: the webhooks' credential, and an admin login."""
    auth = settings.auth
    return Credentials(
        bearer_token=auth.bearer_token.get_secret_value() if auth.bearer_token else None,
        basic_username=auth.basic_username,
        basic_password=auth.basic_password.get_secret_value() if auth.basic_password else None,
    )


def build_access(settings: Settings) -> tuple[Access, list[str]]:
    """The access of ``settings``, and problems (a ``person:`` the schedules do not have)."""
    accounts = [u.account() for u in settings.users]
    people = load_paths(list(settings.schedules)).people if any(a.person for a in accounts) else {}
    access = Access(
        users=Users(accounts, people),
        shared=shared_credentials(settings),
        trusted_proxies=tuple(settings.auth.trusted_proxies),
        secrets=_chatops_secrets(settings),
        csrf_secret=csrf.get_secret_value() if (csrf := settings.web.csrf_secret) else None,
    )
    return access, unknown_people(accounts, people)


def _chatops_secrets(settings: Settings) -> tuple[str, ...]:
    # Kept out of notes and the audit log like the shared credential (Access.redactor).
    slack = settings.chatops.slack.signing_secret
    pagerduty = settings.chatops.pagerduty.webhook_secrets
    return tuple(s.get_secret_value() for s in ([slack] if slack else []) + list(pagerduty))
