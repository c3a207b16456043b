"""What a plugin declares about one provider it offers."""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, get_args

from pydantic import BaseModel, SecretStr

from switchboard.core.avatar_videos.model import VideoReport
from switchboard.core.integrations.model import Capability
from switchboard.core.messaging.model import MessageNotice
from switchboard.core.sales.provider_payments import PaymentNotice
from switchboard.ports.providers import IncomingWebhook, ProviderEvent, WebhookAcknowledgement
from switchboard.ports.voice import VoiceMessages

_SLUG = re.compile(r"^[a-z][a-z0-9_]{1,39}$")


def _nested_secrets(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Dotted names of SecretStr fields inside nested models (top-level ones are fine)."""
    found = []
    for name, field in model.model_fields.items():
        for inner in (field.annotation, *get_args(field.annotation)):
            if isinstance(inner, type) and issubclass(inner, BaseModel):
                found += [
                    f"{prefix}{name}.{secret}"
                    for secret, sub in inner.model_fields.items()
                    if sub.annotation is SecretStr or SecretStr in get_args(sub.annotation)
                ]
                found += _nested_secrets(inner, f"{prefix}{name}.")
    return found


@dataclass(frozen=True)
class ProviderSpec:
    """One provider: what it is called, what it does, how it is configured, how it is built.

    ``config_model`` validates a tenant's configuration (declare secrets as ``SecretStr``: they
    are encrypted at rest like everything else, and never shown back in full). ``build`` receives
    one validated configuration and returns a new adapter for the capability's port; it is called
    afresh for each use, so an adapter never carries one tenant's secrets into another's work.
    """

    slug: str
    capability: Capability
    name: str
    config_model: type[BaseModel]
    build: Callable[[Any], object]
    description: str = ""
    # Checks an incoming call with the provider's own scheme and the tenant's configuration,
    # and returns its events; raises WebhookRejected when it cannot be proven genuine and fresh.
    verify_webhook: Callable[[Any, IncomingWebhook], list[ProviderEvent]] | None = None
    # A payments provider's events that tell of payments and refunds, by event type, each with
    # the function that reads one verified event into the core's notices (PaymentSucceeded,
    # RefundChanged); the worker records what they tell (docs/payments.md).
    payment_events: Mapping[str, Callable[[ProviderEvent], list[PaymentNotice]]] = dataclasses.field(
        default_factory=dict
    )
    # A voice provider's reading of its platform's server messages, and the shapes of its
    # answers to the ones that need an answer during the call (ports/voice.py).
    voice: VoiceMessages | None = None
    # The answer the provider expects once its call is stored, when a JSON 200 will not do.
    acknowledgement: WebhookAcknowledgement | None = None
    # An SMS provider's events about text messages (an inbound message, a status callback), by
    # event type, each with the function that reads one verified event into the core's notices
    # (InboundMessage, StatusReport); the worker records them (docs/messaging.md).
    message_events: Mapping[str, Callable[[ProviderEvent], list[MessageNotice]]] = dataclasses.field(
        default_factory=dict
    )
    # An avatar video provider's events about its videos, by event type, each with the function
    # that reads one verified event into a report; the worker moves the video forward with it
    # (docs/avatar-videos.md).
    video_events: Mapping[str, Callable[[ProviderEvent], VideoReport]] = dataclasses.field(
        default_factory=dict
    )

    def __post_init__(self) -> None:
        if not _SLUG.match(self.slug):
            raise ValueError(f"provider slug {self.slug!r}: lower case letters, digits and _, 2-40 long")
        # Accept the capability's name as text too; anything else is refused here, not later.
        object.__setattr__(self, "capability", Capability(self.capability))
        nested = _nested_secrets(self.config_model)
        if nested:
            where = f"{self.config_model.__name__} (found {', '.join(nested)})"
            raise ValueError(f"secrets must be top-level fields of {where}: nested ones cannot be masked")

    @property
    def secret_fields(self) -> frozenset[str]:
        """Fields typed ``SecretStr`` (or ``SecretStr | None``)."""
        return frozenset(
            name
            for name, field in self.config_model.model_fields.items()
            if field.annotation is SecretStr or SecretStr in get_args(field.annotation)
        )


def operator_api_base(given: str | None, setting: str) -> str | None:
    """Where a provider's SDK sends requests, if not to the provider itself: the operator's
    choice (a constructor argument, else the ``setting`` environment variable), never a
    tenant's, so no tenant can aim Switchboard's requests at an address of its choosing."""
    chosen = given if given is not None else os.environ.get(setting)
    return chosen.rstrip("/") if chosen else None
