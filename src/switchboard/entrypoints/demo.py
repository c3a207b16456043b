"""Sample data, so a newcomer has something to look at (and the benchmark something to read).

A demo tenant is a plumbing business with customers and its voice side: the in-memory fake voice
platform (``fake_voice``) connected, a published front-desk agent answering one of its numbers,
and a few hundred past calls, each told the way a platform tells it (a ringing status, then the
end-of-call report) and recorded by ``apply_call_message``, which matches callers to customers by
phone. Nothing reaches an outside service: the agent's publication and the number's assignment
wait in the outbox for ``switchboard worker``, which carries them to the fake platform only.
What is drawn at random comes from ``seed``, so the same seed makes the same customers and calls
(only ids, the owner's credentials and the connection's secrets are new each time).
"""

from __future__ import annotations

import base64
import random
import secrets
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from switchboard.core.calls.agents import (
    Agent,
    AssignPhoneNumber,
    CreateAgent,
    PublishAgent,
    assign_phone_number,
    create_agent,
    publish_agent,
    webhook_path,
)
from switchboard.core.calls.calls import apply_call_message
from switchboard.core.calls.model import (
    CallAnalysis,
    CallCost,
    CallDirection,
    CallMessage,
    CallMessageKind,
    CallStatus,
    CostComponent,
    Sentiment,
    Speaker,
    TranscriptEntry,
)
from switchboard.core.customers.model import Customer
from switchboard.core.identity.handlers import Register, Registered, register
from switchboard.core.identity.model import Client, Principal
from switchboard.core.identity.sessions import Identity, context_of
from switchboard.core.integrations.handlers import ConnectProvider, connect_provider
from switchboard.entrypoints.voice_sync import sync_phone_numbers
from switchboard.ports.persistence import UnitOfWork
from switchboard.ports.providers import ProviderCatalog, ProviderRegistry

FIRST_NAMES = [
    "Ada",
    "Alan",
    "Amara",
    "Ana",
    "Ben",
    "Carla",
    "Chen",
    "Diego",
    "Elena",
    "Farah",
    "Grace",
    "Hiro",
    "Ines",
    "Jamal",
    "Jonas",
    "Kofi",
    "Lena",
    "Liam",
    "Maya",
    "Mei",
    "Nadia",
    "Noah",
    "Olga",
    "Omar",
    "Priya",
    "Rafael",
    "Sara",
    "Tariq",
    "Uma",
    "Victor",
    "Wen",
    "Yara",
    "Zoe",
]
LAST_NAMES = [
    "Abara",
    "Becker",
    "Costa",
    "Dubois",
    "Eriksen",
    "Fischer",
    "Garcia",
    "Haddad",
    "Ito",
    "Jensen",
    "Kowalski",
    "Larsen",
    "Moreau",
    "Nakamura",
    "Okafor",
    "Patel",
    "Quinn",
    "Rossi",
    "Santos",
    "Tanaka",
    "Urquhart",
    "Varga",
    "Weber",
    "Xu",
    "Yilmaz",
    "Zhang",
]
DOMAINS = ("example.com", "example.org", "example.net")
BATCH = 1000
CALL_BATCH = 100  # calls recorded per transaction
HISTORY_DAYS = 90
KNOWN_CALLERS_MAX = 2000  # customers kept in memory as the people who call and are called
BUSINESS = "Harbour Plumbing & Heating"
VOICE_PROVIDER = "fake_voice"
CURRENCY = "USD"
# What platforms bill per minute of a call, in micro-dollars (telephony, Deepgram-like speech
# recognition, ElevenLabs-like speech, the platform's own fee); the model's share varies per call.
PER_MINUTE = {
    CostComponent.TRANSPORT: 8_500,
    CostComponent.SPEECH_TO_TEXT: 10_000,
    CostComponent.TEXT_TO_SPEECH: 22_000,
    CostComponent.PLATFORM: 50_000,
}
MODEL_PER_MINUTE = (3_000, 14_000)

FIRST_MESSAGE = f"Thanks for calling {BUSINESS}, this is Sam. How can I help?"
FRONT_DESK = CreateAgent(
    name="Front desk",
    voice_provider="11labs",
    voice_id="21m00Tcm4TlvDq8ikWAM",
    model_provider="openai",
    model="gpt-4o-mini",
    system_prompt=(
        f"You are Sam, who answers the phone for {BUSINESS}, a plumbing and heating business.\n"
        "The caller is {{customer_name}} (known customer: {{customer_known}}); their upcoming "
        "appointments: {{upcoming_appointments}}.\n"
        "Book, move and quote jobs with your tools; for a leak or no heat in winter, transfer the "
        "caller to the on-call engineer. Keep answers short and friendly."
    ),
    first_message=FIRST_MESSAGE,
    tools=(
        "find_customer",
        "check_availability",
        "book_appointment",
        "reschedule_appointment",
        "create_quote_draft",
        "take_message",
    ),
)


@dataclass(frozen=True)
class DemoVoice:
    integration_id: UUID
    webhook_path: str  # where the fake platform's signed messages are posted
    webhook_secret: str  # signs them (plugins/fake/voice.py sign_fake_voice_message)
    agent: Agent
    number: str  # the number the agent answers, and calls out from
    calls: int = 0
    inbound: int = 0
    with_customer: int = 0  # calls matched to a demo customer by the caller's phone


@dataclass(frozen=True)
class DemoTenant:
    registered: Registered
    email: str
    password: str
    voice: DemoVoice


async def create_demo_tenant(
    customers: int,
    identity: Identity,
    catalog: ProviderCatalog,
    registry: ProviderRegistry,
    calls: int = 300,
    seed: int = 2026,
) -> DemoTenant:
    rng = random.Random(seed)
    email = f"owner-{uuid4().hex[:8]}@demo.switchboard.dev"
    password = f"demo-{uuid4().hex}"
    command = Register(BUSINESS, "Morgan Reyes", email, password)
    registered = await register(command, identity, Client())
    tenant_id = registered.tenant.id

    now = identity.clock.now()
    callers: list[Customer] = []
    for start in range(0, customers, BATCH):
        batch = [
            _customer(rng, tenant_id, now - timedelta(minutes=rng.randrange(525_600)), i)
            for i in range(start, min(start + BATCH, customers))
        ]
        callers.extend(c for c in batch if c.phone)
        async with identity.units(tenant_id) as uow:
            await uow.customers.add_many(batch)
            await uow.commit()
    del callers[KNOWN_CALLERS_MAX:]

    voice = await _voice(identity, catalog, registry, registered.tokens.principal, now)
    # A stream of their own, so the customers stay the same whatever the number of calls.
    call_rng = random.Random(f"{seed}:calls")
    past = sorted(
        (_call(call_rng, i, now, voice.number, callers) for i in range(calls)), key=lambda call: call.rang_at
    )
    voice = await _record_calls(identity, tenant_id, voice, past)
    return DemoTenant(registered, email, password, voice)


def _customer(rng: random.Random, tenant_id: UUID, created_at: datetime, index: int) -> Customer:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    has_email, has_phone = rng.random() < 0.85, rng.random() < 0.9
    return Customer(
        id=uuid4(),
        tenant_id=tenant_id,
        name=f"{first} {last}",
        email=f"{first}.{last}{index}@{rng.choice(DOMAINS)}".lower() if has_email else None,
        phone=_fictional_number(rng) if has_phone else None,
        created_at=created_at,
        updated_at=created_at,
    )


def _fictional_number(rng: random.Random) -> str:
    # 555-0100 to 555-0199 are the North American numbers reserved for fiction.
    return f"+1{rng.randrange(201, 990)}55501{rng.randrange(100):02d}"


# --- the voice side --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _StoppedClock:
    """The set-up is dated before the first call it took, as if the business had run a while."""

    moment: datetime

    def now(self) -> datetime:
        return self.moment


async def _voice(
    identity: Identity,
    catalog: ProviderCatalog,
    registry: ProviderRegistry,
    principal: Principal,
    now: datetime,
) -> DemoVoice:
    """Connect the fake platform, copy its numbers, and publish an agent that answers the first:
    the owner's own use cases, as the API runs them."""
    clock = _StoppedClock(now - timedelta(days=HISTORY_DAYS + 1))

    def unit() -> UnitOfWork:
        return identity.units(principal.tenant_id, principal.user_id, context_of(principal, Client()))

    secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    config = {"label": "demo", "api_key": f"demo_{secrets.token_hex(12)}", "webhook_secret": secret}
    connected = await connect_provider(
        ConnectProvider(VOICE_PROVIDER, config), principal, unit(), catalog, identity.box, clock
    )
    numbers = await sync_phone_numbers(principal, unit, registry, clock)
    agent = await create_agent(FRONT_DESK, principal, unit(), clock)
    agent = await publish_agent(PublishAgent(agent.id), principal, unit(), clock)
    line = await assign_phone_number(AssignPhoneNumber(numbers[0].id, agent.id), principal, unit(), clock)
    integration = connected.integration
    return DemoVoice(integration.id, webhook_path(integration), secret, agent, line.number)


@dataclass(frozen=True)
class _Script:
    """One kind of conversation: what is said (``{name}``: the customer's first name), what the
    platform concluded, how it ended and how long it lasts (seconds)."""

    lines: tuple[tuple[Speaker, str], ...]
    summary: str
    intent: str
    ended_reason: str
    success: bool | None
    sentiments: tuple[Sentiment, ...]  # one is drawn; empty: not judged
    seconds: tuple[int, int]


A, C, T = Speaker.AGENT, Speaker.CUSTOMER, Speaker.TOOL
ENDED_BY_CALLER, ENDED_BY_AGENT = "customer-ended-call", "assistant-ended-call"
POSITIVE, NEUTRAL, NEGATIVE = Sentiment.POSITIVE, Sentiment.NEUTRAL, Sentiment.NEGATIVE

INBOUND: tuple[tuple[int, _Script], ...] = (
    (
        30,
        _Script(
            (
                (C, "Hi, our kitchen faucet has been dripping for a week. Could someone take a look?"),
                (T, "check_availability: Thursday 10:00, Friday 14:00"),
                (A, "I can send an engineer on Thursday at 10am or Friday at 2pm. Which suits you?"),
                (C, "Thursday at ten, please."),
                (T, "book_appointment: Thursday 10:00, dripping kitchen faucet"),
                (A, "You're booked for Thursday at 10am. We'll text you the day before."),
                (C, "Brilliant, thank you."),
            ),
            "Booked a visit for a dripping kitchen faucet.",
            "book_appointment",
            ENDED_BY_CALLER,
            True,
            (POSITIVE, POSITIVE, NEUTRAL),
            (90, 260),
        ),
    ),
    (
        14,
        _Script(
            (
                (C, "How much would a new combi boiler be? Ours is twenty years old."),
                (A, "It depends on the house. A few questions: how many bathrooms, and is it gas?"),
                (C, "Two bathrooms, and yes, gas."),
                (T, "create_quote_draft: combi boiler replacement, two bathrooms, gas"),
                (A, "I've started a quote for a new combi boiler; the office will send it by tomorrow."),
            ),
            "Asked for a boiler replacement price; a quote draft was created.",
            "create_quote_draft",
            ENDED_BY_CALLER,
            True,
            (POSITIVE, NEUTRAL),
            (120, 300),
        ),
    ),
    (
        12,
        _Script(
            (
                (C, "I need to move my appointment on Tuesday, something came up."),
                (T, "check_availability: Wednesday 15:00, Thursday 09:00"),
                (A, "I can move it to Wednesday at 3pm or Thursday at 9am."),
                (C, "Wednesday works."),
                (T, "reschedule_appointment: moved to Wednesday 15:00"),
                (A, "Done: you're now booked for Wednesday at 3pm."),
            ),
            "Moved an appointment from Tuesday to Wednesday afternoon.",
            "reschedule_appointment",
            ENDED_BY_CALLER,
            True,
            (POSITIVE, NEUTRAL),
            (60, 150),
        ),
    ),
    (
        10,
        _Script(
            (
                (C, "I've got a question about my last invoice, the labour looks high."),
                (A, "I can't change invoices myself, but I'll pass it to the office right away."),
                (T, "take_message: question about the labour on the last invoice; call back"),
                (A, "The office will call you back today."),
            ),
            "Invoice question; a message was left for the office.",
            "take_message",
            ENDED_BY_CALLER,
            True,
            (NEUTRAL, NEUTRAL, NEGATIVE),
            (60, 180),
        ),
    ),
    (
        8,
        _Script(
            (
                (C, "There's water coming through my ceiling! I need someone now."),
                (A, "That sounds stressful. Close the shutoff valve under the sink if you can."),
                (A, "I'm putting you through to our on-call engineer now."),
            ),
            "Emergency leak; transferred to the on-call engineer.",
            "emergency",
            "assistant-forwarded-call",
            True,
            (NEGATIVE, NEUTRAL),
            (30, 80),
        ),
    ),
    (
        8,
        _Script(
            (
                (C, "This is the third time I've called about the boiler. Nobody has come back to me."),
                (A, "I'm sorry about that. Let me make sure the manager hears about it today."),
                (T, "take_message: complaint, boiler repair not followed up; urgent"),
                (C, "Fine. But I want a call today."),
            ),
            "Complaint about a boiler repair not followed up; marked urgent for the manager.",
            "complaint",
            ENDED_BY_CALLER,
            False,
            (NEGATIVE,),
            (90, 240),
        ),
    ),
    (
        8,
        _Script(
            (
                (C, "Are you open on Saturdays?"),
                (A, "Yes, 8am to 1pm, and our on-call engineer covers emergencies any time."),
                (C, "Great, thanks."),
            ),
            "Asked about Saturday opening hours.",
            "opening_hours",
            ENDED_BY_CALLER,
            True,
            (POSITIVE, NEUTRAL),
            (25, 60),
        ),
    ),
    (
        5,
        _Script(
            ((C, "Oh, sorry, I think I've got the wrong number."), (A, "No problem, have a good day.")),
            "Wrong number.",
            "wrong_number",
            ENDED_BY_CALLER,
            False,
            (NEUTRAL,),
            (8, 20),
        ),
    ),
    (
        5,
        _Script(
            ((A, "Hello? I can't hear anything. Please call back if you need us."),),
            "Nobody spoke.",
            "silence",
            "silence-timed-out",
            None,
            (),
            (15, 30),
        ),
    ),
)

OUTBOUND: tuple[tuple[int, _Script], ...] = (
    (
        30,
        _Script(
            (
                (A, f"Hi {{name}}, it's Sam from {BUSINESS}, confirming your appointment tomorrow at 9am."),
                (C, "Yes, that's still fine."),
                (A, "Great, see you then."),
            ),
            "Appointment for tomorrow confirmed.",
            "appointment_reminder",
            ENDED_BY_AGENT,
            True,
            (POSITIVE, NEUTRAL),
            (25, 60),
        ),
    ),
    (
        22,
        _Script(
            (
                (A, f"Hi {{name}}, it's Sam from {BUSINESS}. Your boiler's annual service is due."),
                (A, "Would you like to book it?"),
                (C, "Yes, sometime next week would be good."),
                (T, "check_availability: Monday 11:00, Tuesday 08:00"),
                (A, "I have Monday at 11am or Tuesday at 8am."),
                (C, "Monday, please."),
                (T, "book_appointment: Monday 11:00, annual boiler service"),
            ),
            "Booked the annual boiler service.",
            "book_appointment",
            ENDED_BY_AGENT,
            True,
            (POSITIVE,),
            (80, 200),
        ),
    ),
    (
        16,
        _Script(
            (
                (A, f"Hi {{name}}, it's Sam from {BUSINESS}. Did you get a chance to look at our quote?"),
                (C, "We're still comparing a couple of quotes, to be honest."),
                (T, "take_message: still comparing quotes; follow up in two weeks"),
                (A, "No problem. We'll check back in two weeks."),
            ),
            "Quote follow-up: still comparing; follow up in two weeks.",
            "quote_follow_up",
            ENDED_BY_AGENT,
            False,
            (NEUTRAL,),
            (60, 150),
        ),
    ),
    (
        14,
        _Script(
            ((A, f"Hi {{name}}, it's Sam from {BUSINESS}. Your boiler service is due; do call us back."),),
            "Left a voicemail about the boiler service.",
            "voicemail",
            "voicemail",
            False,
            (),
            (20, 35),
        ),
    ),
)
# Outbound calls nobody answered: never started, nothing said, nothing billed.
UNANSWERED = ((14, "customer-did-not-answer"), (4, "customer-busy"))


@dataclass(frozen=True)
class _PastCall:
    rang_at: datetime
    ringing: CallMessage
    report: CallMessage


def _call(rng: random.Random, index: int, now: datetime, number: str, callers: list[Customer]) -> _PastCall:
    """One past call: a customer's (or a stranger's), in business hours of the last 90 days."""
    inbound = rng.random() < 0.7
    known = bool(callers) and rng.random() < (0.6 if inbound else 0.9)
    customer = rng.choice(callers) if known else None
    other = customer.phone if customer and customer.phone else _fictional_number(rng)
    name = customer.name.split()[0] if customer else "there"
    direction = CallDirection.INBOUND if inbound else CallDirection.OUTBOUND
    choices: tuple[tuple[int, _Script | str], ...] = INBOUND if inbound else (*OUTBOUND, *UNANSWERED)
    picked = rng.choices([choice for _, choice in choices], weights=[weight for weight, _ in choices])[0]

    day = (now - timedelta(days=rng.randrange(HISTORY_DAYS))).date()
    rang_at = datetime(day.year, day.month, day.day, rng.randrange(8, 18), tzinfo=UTC) + timedelta(
        seconds=rng.randrange(3600)
    )
    if rang_at > now - timedelta(minutes=30):
        rang_at -= timedelta(days=1)
    provider_call_id = f"fake_call_demo_{index:06d}"
    parties = {"direction": direction, "business_number": number, "customer_number": other}
    ringing = CallMessage(CallMessageKind.STATUS, provider_call_id, status=CallStatus.RINGING, **parties)
    if isinstance(picked, str):
        ended_at = rang_at + timedelta(seconds=rng.randrange(20, 35))
        report = CallMessage(
            CallMessageKind.ENDED, provider_call_id, ended_reason=picked, ended_at=ended_at, **parties
        )
        return _PastCall(rang_at, ringing, report)

    started_at = rang_at + timedelta(seconds=rng.randrange(3, 15))
    seconds = rng.randrange(picked.seconds[0], picked.seconds[1] + 1)
    lines = picked.lines
    if inbound:  # the platform learnt who is calling from Switchboard before the agent spoke
        greeting = f"Hi {name}, thanks for calling {BUSINESS}. How can I help?" if customer else FIRST_MESSAGE
        lines = ((A, greeting), *lines)
    report = CallMessage(
        CallMessageKind.ENDED,
        provider_call_id,
        started_at=started_at,
        ended_at=started_at + timedelta(seconds=seconds),
        ended_reason=picked.ended_reason,
        transcript=_transcript(rng, lines, seconds, name),
        analysis=CallAnalysis(
            summary=picked.summary,
            structured_data={"intent": picked.intent},
            success=picked.success,
            sentiment=rng.choice(picked.sentiments) if picked.sentiments else None,
        ),
        cost=_cost(rng, seconds),
        **parties,
    )
    return _PastCall(rang_at, ringing, report)


def _transcript(
    rng: random.Random, lines: tuple[tuple[Speaker, str], ...], seconds: int, name: str
) -> tuple[TranscriptEntry, ...]:
    """The lines spread over the call, each spoken at about 15 characters a second."""
    gap = seconds / len(lines)
    entries = []
    for position, (speaker, text) in enumerate(lines):
        said = text.replace("{name}", name)
        at = round(0.4 + position * gap + rng.uniform(0, gap * 0.2), 1)
        spoken = None if speaker is Speaker.TOOL else round(min(len(said) / 15, gap * 0.8), 1)
        entries.append(TranscriptEntry(speaker, said, at, spoken))
    return tuple(entries)


def _cost(rng: random.Random, seconds: int) -> CallCost:
    minutes = seconds / 60
    components = {component: round(rate * minutes) for component, rate in PER_MINUTE.items()}
    components[CostComponent.MODEL] = round(rng.randrange(*MODEL_PER_MINUTE) * minutes)
    return CallCost(CURRENCY, components)


async def _record_calls(
    identity: Identity, tenant_id: UUID, voice: DemoVoice, calls: list[_PastCall]
) -> DemoVoice:
    """Each call as its platform tells it: ringing, then the end-of-call report, a batch of calls
    to a transaction (the platform's messages would each take their own)."""
    inbound = with_customer = 0
    for start in range(0, len(calls), CALL_BATCH):
        async with identity.units(tenant_id) as uow:
            for past in calls[start : start + CALL_BATCH]:
                call = await apply_call_message(
                    uow, tenant_id, voice.integration_id, past.ringing, past.rang_at
                )
                ended_at = past.report.ended_at or past.rang_at
                call = await apply_call_message(
                    uow, tenant_id, voice.integration_id, past.report, ended_at, known=call
                )
                inbound += call.direction is CallDirection.INBOUND
                with_customer += call.customer_id is not None
            await uow.commit()
    return replace(voice, calls=len(calls), inbound=inbound, with_customer=with_customer)
