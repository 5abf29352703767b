"""``chatops`` in config.yaml: what runbookd needs to accept requests from chat and paging tools
(docs/chatops.md).

``chatops.slack``: the Slack app's signing secret, and where approval requests go.

``chatops.pagerduty.webhook_secrets`` holds the signing secrets of PagerDuty v3 webhook
subscriptions. A list, because a secret is rotated by adding the new one beside the old one until
PagerDuty signs with the new one only. ``webhook_secrets_file`` (like every ``KEY_file``) names
a file read at start; it may hold several secrets, one a line, as a Kubernetes secret mount does.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, SecretStr, field_validator

from runbookd.config.sections import OptionalSecret, OptionalText, Section


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


class SlackChatopsSettings(Section):
    """``chatops.slack``: the Slack app's signing secret, and where approval requests go."""

    signing_secret: OptionalSecret = Field(
        None,
        description="The Slack app's signing secret (Basic Information > App Credentials); "
        "unset = the Slack endpoints answer 404 and messages carry no buttons. Also "
        "signing_secret_file or ${file:PATH}.",
    )
    approvals_channel: OptionalText = Field(
        None,
        description="Channel (name or id) where steps waiting for approval are posted with "
        "Approve and Deny buttons, through chat.postMessage and connectors.slack.bot_token; "
        "unset = approval requests are not posted.",
    )

    @property
    def enabled(self) -> bool:
        return self.signing_secret is not None


class ChatopsSettings(Section):
    slack: SlackChatopsSettings = Field(
        default_factory=SlackChatopsSettings, description="Buttons and commands in Slack."
    )
    pagerduty: PagerDutyWebhookSettings = Field(
        default_factory=PagerDutyWebhookSettings,
        description="Inbound PagerDuty v3 webhooks (acknowledge and resolve from PagerDuty).",
    )
