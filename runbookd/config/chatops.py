"""``chatops`` in config.yaml: what runbookd needs to answer people in Slack (docs/chatops.md)."""

from __future__ import annotations

from pydantic import Field

from runbookd.config.sections import OptionalSecret, OptionalText, Section


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
