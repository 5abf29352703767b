"""``Access`` from the settings: the users (with the Slack and PagerDuty ids of the schedules'
people they name), the shared credential of ``auth``, the trusted proxies, and every configured
secret the redactor takes out of notes and the audit log."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, SecretStr

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


def build_access(
    settings: Settings, connectors: Mapping[str, BaseModel] | None = None
) -> tuple[Access, list[str]]:
    """The access of ``settings``, and problems (a ``person:`` the schedules do not have).

    ``connectors``: the loaded connector settings; their secrets (tokens, passwords, webhook
    URLs) are redacted too, as a person may paste one into a note or a reason."""
    accounts = [u.account() for u in settings.users]
    people = load_paths(list(settings.schedules)).people if any(a.person for a in accounts) else {}
    access = Access(
        users=Users(accounts, people),
        shared=shared_credentials(settings),
        trusted_proxies=tuple(settings.auth.trusted_proxies),
        secrets=_chatops_secrets(settings) + tuple(secret_values(connectors or {})),
        csrf_secret=csrf.get_secret_value() if (csrf := settings.web.csrf_secret) else None,
    )
    return access, unknown_people(accounts, people)


def _chatops_secrets(settings: Settings) -> tuple[str, ...]:
    # Kept out of notes and the audit log like the shared credential (Access.redactor).
    slack = settings.chatops.slack.signing_secret
    pagerduty = settings.chatops.pagerduty.webhook_secrets
    return tuple(s.get_secret_value() for s in ([slack] if slack else []) + list(pagerduty))


def secret_values(value: Any) -> Iterator[str]:
    """Every ``SecretStr`` value inside ``value`` (settings models, mappings, lists)."""
    if isinstance(value, SecretStr):
        yield value.get_secret_value()
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from secret_values(getattr(value, name))
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from secret_values(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from secret_values(item)
