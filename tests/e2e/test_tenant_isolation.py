"""One tenant can never see, change or delete another tenant's customers over HTTP."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from switchboard.entrypoints.http.blueprints.schemas import CustomerOut
from tests.e2e.helpers import (
    SignedUp,
    conforms,
    create_customer,
    expect_problem,
    get_customer,
    list_all,
    list_page,
    sign_up,
)


@pytest.fixture(scope="module")
async def two_tenants(client) -> tuple[SignedUp, SignedUp, list[dict[str, Any]]]:
    alpha = await sign_up(client, tenant_name="Alpha Isolation")
    beta = await sign_up(client, tenant_name="Beta Isolation")
    await create_customer(client, alpha, name="Alpha Own", email="own@alpha.test")
    beta_customers = [
        await create_customer(client, beta, name=f"Beta Secret {n}", email=f"secret{n}@beta.test", phone=None)
        for n in range(3)
    ]
    return alpha, beta, beta_customers


async def _as_seen_by(client, who: SignedUp, customer_id: str) -> tuple[dict[str, Any], str]:
    response = await get_customer(client, who, customer_id)
    assert response.status_code == 200
    return await response.get_json(), response.headers["ETag"]


async def test_another_tenants_customer_is_404_on_get_patch_and_delete_and_stays_unchanged(
    client, two_tenants
):
    alpha, beta, beta_customers = two_tenants

    for customer in beta_customers:
        url = f"/v1/customers/{customer['id']}"
        before = await _as_seen_by(client, beta, customer["id"])

        got = await client.get(url, headers=alpha.auth)
        patched = await client.patch(url, json={"name": "Pwned"}, headers=alpha.auth)
        patched_star = await client.patch(url, json={"email": None}, headers=alpha.auth | {"If-Match": "*"})
        patched_etag = await client.patch(
            url, json={"phone": None}, headers=alpha.auth | {"If-Match": before[1]}
        )
        deleted = await client.delete(url, headers=alpha.auth)
        deleted_etag = await client.delete(url, headers=alpha.auth | {"If-Match": before[1]})

        for response in [got, patched, patched_star, patched_etag, deleted, deleted_etag]:
            await expect_problem(response, 404, "not_found")
        assert await _as_seen_by(client, beta, customer["id"]) == before


async def test_another_tenants_customer_gets_the_same_answer_as_one_that_never_existed(client, two_tenants):
    alpha, _, beta_customers = two_tenants
    missing = await expect_problem(await get_customer(client, alpha, str(uuid.uuid4())), 404)

    foreign = await expect_problem(await get_customer(client, alpha, beta_customers[0]["id"]), 404)

    comparable = {"type", "title", "status", "detail", "code"}
    assert {k: foreign[k] for k in comparable} == {k: missing[k] for k in comparable}
    assert set(foreign) == set(missing)


async def test_a_tenants_list_never_contains_another_tenants_customers(client, two_tenants):
    alpha, beta, beta_customers = two_tenants
    beta_ids = {c["id"] for c in beta_customers}

    seen_by_alpha = {c["id"] for c in await list_all(client, alpha)}
    seen_by_alpha_one_by_one = {c["id"] for c in await list_all(client, alpha, limit=1)}

    assert seen_by_alpha.isdisjoint(beta_ids)
    assert seen_by_alpha_one_by_one == seen_by_alpha
    assert beta_ids <= {c["id"] for c in await list_all(client, beta)}


async def test_searching_for_another_tenants_text_finds_nothing(client, two_tenants):
    alpha, _, _ = two_tenants

    for q in ["Beta Secret", "beta.test", "secret1@beta.test"]:
        assert await list_all(client, alpha, q=q) == []


async def test_a_cursor_issued_to_another_tenant_shows_only_the_callers_own_customers(client, two_tenants):
    alpha, beta, _ = two_tenants
    beta_page = await list_page(client, beta, limit=1)
    assert beta_page["next_cursor"]

    page = await list_page(client, alpha, limit=100, cursor=beta_page["next_cursor"])

    alpha_ids = {c["id"] for c in await list_all(client, alpha)}
    assert {c["id"] for c in page["data"]} <= alpha_ids


# --- a property: random interleavings of two tenants' operations ---------------------------------


@dataclass
class World:
    """What the test believes each tenant holds: id -> the customer as the API renders it."""

    tenants: dict[str, SignedUp]
    live: dict[str, dict[str, dict[str, Any]]] = field(default_factory=lambda: {"a": {}, "b": {}})
    ever: dict[str, list[str]] = field(default_factory=lambda: {"a": [], "b": []})  # creation order

    def pick(self, owner: str, index: int) -> str | None:
        ids = self.ever[owner]
        return ids[index % len(ids)] if ids else None


TENANT = st.sampled_from(["a", "b"])
NAME = st.text(alphabet="abcdefghij XYZ", min_size=1, max_size=12).filter(lambda s: s.strip())
OPERATION = st.one_of(
    st.tuples(st.just("create"), TENANT, NAME),
    st.tuples(st.just("list"), TENANT, st.integers(min_value=1, max_value=4)),
    st.tuples(st.just("get"), TENANT, TENANT, st.integers(min_value=0, max_value=50)),
    st.tuples(st.just("patch"), TENANT, TENANT, st.integers(min_value=0, max_value=50), NAME),
    st.tuples(st.just("delete"), TENANT, TENANT, st.integers(min_value=0, max_value=50)),
)


async def _step(client, world: World, operation: tuple[Any, ...]) -> None:
    kind, actor = operation[0], operation[1]
    who = world.tenants[actor]
    own = world.live[actor]

    if kind == "create":
        body = await create_customer(client, who, name=operation[2], email=None, phone=None)
        own[body["id"]] = body
        world.ever[actor].append(body["id"])
        return
    if kind == "list":
        listed = await list_all(client, who, limit=operation[2])
        assert [c["id"] for c in listed] == [i for i in reversed(world.ever[actor]) if i in own]
        return

    target_owner, index = operation[2], operation[3]
    target = world.pick(target_owner, index)
    if target is None:
        return
    url = f"/v1/customers/{target}"
    mine_and_live = target_owner == actor and target in own

    if kind == "get":
        response = await client.get(url, headers=who.auth)
        if mine_and_live:
            assert response.status_code == 200
            assert await response.get_json() == own[target]
        else:
            await expect_problem(response, 404, "not_found")
    elif kind == "patch":
        response = await client.patch(url, json={"name": operation[4]}, headers=who.auth)
        if mine_and_live:
            assert response.status_code == 200, await response.get_data()
            body = await response.get_json()
            conforms(CustomerOut, body)
            assert body["name"] == " ".join(operation[4].split())
            assert {k: v for k, v in body.items() if k not in {"name", "updated_at"}} == {
                k: v for k, v in own[target].items() if k not in {"name", "updated_at"}
            }
            own[target] = body
        else:
            await expect_problem(response, 404, "not_found")
    elif kind == "delete":
        response = await client.delete(url, headers=who.auth)
        if mine_and_live:
            assert response.status_code == 204
            del own[target]
        else:
            await expect_problem(response, 404, "not_found")


async def _check(client, world: World, actor: str) -> None:
    """The acting tenant sees exactly its model; each of the other's ids is 404 to it."""
    other = "b" if actor == "a" else "a"
    who = world.tenants[actor]
    listed = await list_all(client, who)
    assert {c["id"]: c for c in listed} == world.live[actor]
    assert {c["id"] for c in listed}.isdisjoint(world.ever[other])
    for foreign in world.ever[other]:
        await expect_problem(await get_customer(client, who, foreign), 404, "not_found")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=st.lists(OPERATION, min_size=1, max_size=12))
async def test_interleaved_operations_of_two_tenants_never_cross_the_tenant_boundary(client, operations):
    world = World(
        tenants={
            "a": await sign_up(client, tenant_name="Property A"),
            "b": await sign_up(client, tenant_name="Property B"),
        }
    )

    for operation in operations:
        await _step(client, world, operation)
        await _check(client, world, operation[1])

    for actor in ("a", "b"):
        await _check(client, world, actor)
