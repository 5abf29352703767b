"""``chatops``: what runbookd needs to accept requests from chat and paging tools.

``chatops.pagerduty.webhook_secrets`` holds the signing secrets of PagerDuty v3 webhook
subscriptions. A list, because a secret is rotated by adding the new one beside the old one until
PagerDuty signs with the new one only. ``webhook_secrets_file`` (like every ``KEY_file``) names
a file read at start; it may hold several secrets, one a line, as a Kubernetes secret mount does.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, SecretStr, field_validator

from runbookd.config.sections import Section


def _lines(value: Any) -> Any:
    # One secret a line: what a ``webhook_secrets_file`` (or one environment variable) holds.
    if isinstance(value, str):
        return [line.strip() for line in value.splitlines() if line.strip()]
    return value


class PagerDutyWebhookSettings(Section):
    webhook_secrets: list[SecretStr] = Field(
        default_factory=list,
        description="Signing secrets of the PagerDuty v3 webhook subscriptions that post to "
        "/api/v1/chatops/pagerduty; several while one is rotated. Empty: the endpoint refuses "
        "every request with 401.",
    )

    _split = field_validator("webhook_secrets", mode="before")(_lines)

    @field_validator("webhook_secrets")
    @classmethod
    def _not_blank(cls, value: list[SecretStr]) -> list[SecretStr]:
        for index, secret in enumerate(value):
            if not secret.get_secret_value().strip():
                raise ValueError(f"secret {index + 1} is empty")
        return value

    def secrets(self) -> list[bytes]:
        """The secrets as the signature check takes them."""
        return [s.get_secret_value().encode() for s in self.webhook_secrets]


class ChatopsSettings(Section):
    pagerduty: PagerDutyWebhookSettings = Field(
        default_factory=PagerDutyWebhookSettings,
        description="Inbound PagerDuty v3 webhooks (acknowledge and resolve from PagerDuty).",
    )
