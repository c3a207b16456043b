"""An example Switchboard plugin: one SMS provider, ``example_sms``.

Installed, it is found through its ``switchboard.plugins`` entry point (see pyproject.toml);
nothing in Switchboard names it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from switchboard.plugins import ProviderSpec, hookimpl
from switchboard.ports.providers import Capability, SmsMessage


class ExampleSmsConfig(BaseModel):
    """One tenant's account with the example SMS service."""

    model_config = ConfigDict(extra="forbid")

    auth_token: SecretStr = Field(min_length=16, max_length=200)
    sender: str = Field(pattern=r"^\+[1-9][0-9]{6,14}$", description="The number texts come from, E.164.")


@dataclass
class Outbox:
    """What was sent, for tests: never a configuration, so never a secret."""

    sent: list[tuple[str, SmsMessage]] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=itertools.count)

    def next_id(self) -> str:
        return f"example_sms_{next(self._ids):06d}"


class ExampleSms:
    """The SmsSender port, for one tenant's configuration."""

    def __init__(self, config: ExampleSmsConfig, outbox: Outbox) -> None:
        self._config = config
        self._outbox = outbox

    async def send_sms(self, message: SmsMessage) -> str:
        # A real adapter would call the provider here with self._config.auth_token.
        self._outbox.sent.append((self._config.sender, message))
        return self._outbox.next_id()


class ExamplePlugin:
    def __init__(self) -> None:
        self.outbox = Outbox()

    @hookimpl
    def switchboard_providers(self) -> list[ProviderSpec]:
        return [
            ProviderSpec(
                slug="example_sms",
                capability=Capability.SMS,
                name="Example SMS",
                config_model=ExampleSmsConfig,
                build=lambda config: ExampleSms(config, self.outbox),
                description="Sends text messages through the example service.",
            )
        ]


plugin = ExamplePlugin()
