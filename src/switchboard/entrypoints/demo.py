"""Sample data, so a newcomer has something to look at (and the benchmark something to read)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID, uuid4

from switchboard.core.customers.model import Customer
from switchboard.core.identity.handlers import Register, Registered, register
from switchboard.core.identity.model import Client
from switchboard.core.identity.sessions import Identity

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


@dataclass(frozen=True)
class DemoTenant:
    registered: Registered
    email: str
    password: str


async def create_demo_tenant(customers: int, identity: Identity, seed: int = 2026) -> DemoTenant:
    rng = random.Random(seed)
    email = f"owner-{uuid4().hex[:8]}@demo.switchboard.dev"
    password = f"demo-{uuid4().hex}"
    command = Register("Harbour Plumbing & Heating", "Morgan Reyes", email, password)
    registered = await register(command, identity, Client())
    tenant_id = registered.tenant.id

    now = identity.clock.now()
    for start in range(0, customers, BATCH):
        batch = [
            _customer(rng, tenant_id, now - timedelta(minutes=rng.randrange(525_600)), i)
            for i in range(start, min(start + BATCH, customers))
        ]
        async with identity.units(tenant_id) as uow:
            await uow.customers.add_many(batch)
            await uow.commit()
    return DemoTenant(registered, email, password)


def _customer(rng: random.Random, tenant_id: UUID, created_at: datetime, index: int) -> Customer:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    has_email, has_phone = rng.random() < 0.85, rng.random() < 0.9
    return Customer(
        id=uuid4(),
        tenant_id=tenant_id,
        name=f"{first} {last}",
        email=f"{first}.{last}{index}@{rng.choice(DOMAINS)}".lower() if has_email else None,
        # 555-0100 to 555-0199 are the North American numbers reserved for fiction.
        phone=f"+1{rng.randrange(201, 990)}55501{rng.randrange(100):02d}" if has_phone else None,
        created_at=created_at,
        updated_at=created_at,
    )
