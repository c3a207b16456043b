"""Knowledge base file storage, on memory and PostgreSQL alike: files and their text round trip,
stay with their agent and tenant, list newest first, update only at the version read, and name
the platform's ids of the agent's ready files."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from switchboard.core.calls import agents as handlers
from switchboard.core.calls.agents import Agent
from switchboard.core.calls.knowledge import (
    KnowledgeFile,
    KnowledgeFileStatus,
    KnowledgeFileType,
    storage_key,
)
from switchboard.core.errors import Conflict
from switchboard.core.pagination import PageRequest
from tests.contract.conftest import Actor, Storage, utc_now
from tests.contract.test_voice_agents_contract import make_agent, make_number, owner_of, setup


def make_file(agent: Agent, **overrides: Any) -> KnowledgeFile:
    now = utc_now()
    file_id = uuid4()
    fields: dict[str, Any] = dict(
        id=file_id,
        tenant_id=agent.tenant_id,
        agent_id=agent.id,
        name="Price list.pdf",
        media_type=KnowledgeFileType.PDF,
        size_bytes=1234,
        sha256=hashlib.sha256(file_id.bytes).hexdigest(),
        storage_key=storage_key(agent.tenant_id, agent.id, file_id),
        status=KnowledgeFileStatus.PROCESSING,
        text_length=len("Check-up: 50"),
        text_truncated=False,
        provider=None,
        integration_id=None,
        provider_file_id=None,
        sync_error=None,
        created_at=now,
        updated_at=now,
    )
    return KnowledgeFile(**(fields | overrides))


async def with_agent(storage: Storage, actor: Actor | None = None) -> tuple[Actor, Agent]:
    actor = actor or await storage.new_tenant()
    agent = make_agent(actor)
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        await uow.voice_agents.add(agent)
        await uow.commit()
    return actor, agent


async def add(storage: Storage, actor: Actor, *files: KnowledgeFile, text: str = "Check-up: 50") -> None:
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        for file in files:
            await uow.knowledge_files.add(file, text)
        await uow.commit()


def ready(file: KnowledgeFile, provider_file_id: str, integration_id: UUID | None = None) -> KnowledgeFile:
    return replace(
        file,
        status=KnowledgeFileStatus.READY,
        provider="fake_voice",
        integration_id=integration_id or uuid4(),
        provider_file_id=provider_file_id,
        updated_at=file.updated_at + timedelta(seconds=1),
        version=file.version + 1,
    )


async def test_a_file_reads_back_equal_and_its_text_apart(storage: Storage):
    actor, agent = await with_agent(storage)
    text = "Check-up: 50\nFilling: 90 €"
    file = make_file(agent, text_length=len(text))

    await add(storage, actor, file, text=text)

    async with storage.units(actor.tenant_id) as uow:
        assert await uow.knowledge_files.get(file.id) == file
        assert await uow.knowledge_files.get(file.id, for_update=True) == file
        assert await uow.knowledge_files.text(file.id) == text
        assert await uow.knowledge_files.find_by_sha256(agent.id, file.sha256) == file
        assert await uow.knowledge_files.find_by_sha256(agent.id, "0" * 64) is None


async def test_another_tenant_sees_nothing_of_a_file(storage: Storage):
    actor, agent = await with_agent(storage)
    other, _ = await with_agent(storage)
    file = make_file(agent)
    await add(storage, actor, file)

    async with storage.units(other.tenant_id) as uow:
        assert await uow.knowledge_files.get(file.id) is None
        assert await uow.knowledge_files.text(file.id) is None
        assert await uow.knowledge_files.for_agent(agent.id) == []
        assert await uow.knowledge_files.for_agents([agent.id]) == {agent.id: []}
        assert await uow.knowledge_files.count_for_agent(agent.id) == 0
        assert (await uow.knowledge_files.list(agent.id, PageRequest())).items == []
        assert await uow.knowledge_files.update(ready(file, "kf_1"), file.version) is False
        assert await uow.knowledge_files.delete(file.id) is False
    async with storage.units(actor.tenant_id) as uow:
        assert await uow.knowledge_files.get(file.id) == file


async def test_the_same_document_twice_for_one_agent_is_a_conflict_but_another_agent_may_have_it(
    storage: Storage,
):
    actor, agent = await with_agent(storage)
    _, second_agent = await with_agent(storage, actor)
    file = make_file(agent)
    await add(storage, actor, file)

    with pytest.raises(Conflict) as refused:
        await add(storage, actor, make_file(agent, sha256=file.sha256))
    await add(storage, actor, make_file(second_agent, sha256=file.sha256))

    assert refused.value.code == "duplicate_file"
    async with storage.units(actor.tenant_id) as uow:
        assert await uow.knowledge_files.count_for_agent(agent.id) == 1
        assert await uow.knowledge_files.count_for_agent(second_agent.id) == 1


async def test_a_file_for_an_agent_that_does_not_exist_is_refused(storage: Storage):
    actor, _ = await with_agent(storage)
    ghost = make_agent(actor)

    with pytest.raises(Exception):  # noqa: B017, PT011 (LookupError in memory, psycopg error on postgres)
        await add(storage, actor, make_file(ghost))

    async with storage.units(actor.tenant_id) as uow:
        assert await uow.knowledge_files.count_for_agent(ghost.id) == 0


async def test_a_file_is_updated_only_at_the_version_read(storage: Storage):
    actor, agent = await with_agent(storage)
    file = make_file(agent)
    await add(storage, actor, file)
    done = ready(file, "kf_42")

    async with storage.units(actor.tenant_id) as uow:
        assert await uow.knowledge_files.update(done, expected_version=file.version) is True
        assert await uow.knowledge_files.update(replace(done, sync_error="late"), file.version) is False
        await uow.commit()

    async with storage.units(actor.tenant_id) as uow:
        assert await uow.knowledge_files.get(file.id) == done
        assert await uow.knowledge_files.text(file.id) == "Check-up: 50"


async def test_only_identity_free_fields_change_on_update(storage: Storage):
    actor, agent = await with_agent(storage)
    file = make_file(agent)
    await add(storage, actor, file)
    meddled = replace(ready(file, "kf_7"), name="renamed.pdf", size_bytes=1, sha256="f" * 64)

    async with storage.units(actor.tenant_id) as uow:
        assert await uow.knowledge_files.update(meddled, file.version) is True
        await uow.commit()

    async with storage.units(actor.tenant_id) as uow:
        stored = await uow.knowledge_files.get(file.id)
    assert stored == replace(meddled, name=file.name, size_bytes=file.size_bytes, sha256=file.sha256)


async def test_the_platforms_ids_are_those_of_the_agents_ready_files_oldest_first(storage: Storage):
    actor, agent = await with_agent(storage)
    _, other_agent = await with_agent(storage, actor)
    start = utc_now()
    first, second, pending, failed = (
        make_file(agent, created_at=start + timedelta(seconds=n), updated_at=start) for n in range(4)
    )
    elsewhere = make_file(other_agent)
    await add(storage, actor, second, first, pending, failed, elsewhere)
    async with storage.units(actor.tenant_id) as uow:
        for file, provider_id in ((first, "kf_first"), (second, "kf_second"), (elsewhere, "kf_other")):
            assert await uow.knowledge_files.update(ready(file, provider_id), file.version)
        gone = replace(failed, status=KnowledgeFileStatus.FAILED, sync_error="refused", version=2)
        assert await uow.knowledge_files.update(gone, failed.version)
        await uow.commit()

    async with storage.units(actor.tenant_id) as uow:
        assert await uow.knowledge_files.provider_ids_for_agent(agent.id) == ["kf_first", "kf_second"]
        assert [f.id for f in await uow.knowledge_files.for_agent(agent.id)] == [
            first.id,
            second.id,
            pending.id,
            failed.id,
        ]


async def test_files_of_several_agents_at_once_are_what_each_agent_has_alone(storage: Storage):
    actor, agent = await with_agent(storage)
    _, second = await with_agent(storage, actor)
    _, idle = await with_agent(storage, actor)
    foreign_actor, foreign = await with_agent(storage)
    start = utc_now()
    later, earlier, seconds = (
        make_file(owner, created_at=start + timedelta(seconds=n), updated_at=start)
        for owner, n in ((agent, 2), (agent, 1), (second, 0))
    )
    await add(storage, actor, later, earlier, seconds)
    await add(storage, foreign_actor, make_file(foreign))

    async with storage.units(actor.tenant_id) as uow:
        at_once = await uow.knowledge_files.for_agents([idle.id, agent.id, foreign.id, second.id])
        alone = {a.id: await uow.knowledge_files.for_agent(a.id) for a in (agent, second, idle, foreign)}
        nobody = await uow.knowledge_files.for_agents([])

    assert at_once == alone
    assert at_once[agent.id] == [earlier, later]
    assert at_once[second.id] == [seconds]
    assert at_once[idle.id] == []
    assert at_once[foreign.id] == []
    assert nobody == {}


async def test_a_page_of_agents_shows_each_agents_numbers_and_files_as_the_agent_alone_does(
    storage: Storage,
):
    actor, agent, integration_id = await setup(storage)
    _, second = await with_agent(storage, actor)
    _, idle = await with_agent(storage, actor)
    start = utc_now()
    files = [
        make_file(owner, created_at=start + timedelta(seconds=n))
        for n, owner in enumerate((agent, second, agent))
    ]
    await add(storage, actor, *reversed(files))
    async with storage.units(actor.tenant_id, actor.user_id) as uow:
        for number, owner in (("+15550100042", agent), ("+15550100041", agent), ("+15550100043", second)):
            await uow.phone_numbers.upsert(make_number(actor, integration_id, number, agent_id=owner.id))
        await uow.commit()
    owner = owner_of(actor)

    page = await handlers.list_agents(PageRequest(), owner, storage.units(actor.tenant_id))
    one_by_one = [
        await handlers.get_agent(a.agent.id, owner, storage.units(actor.tenant_id)) for a in page.items
    ]

    assert page.items == one_by_one
    assert {a.agent.id for a in page.items} == {agent.id, second.id, idle.id}
    shown = {a.agent.id: a for a in page.items}
    assert [n.number for n in shown[agent.id].phone_numbers] == ["+15550100041", "+15550100042"]
    assert shown[agent.id].knowledge_files == (files[0], files[2])
    assert shown[second.id].knowledge_files == (files[1],)
    assert (shown[idle.id].phone_numbers, shown[idle.id].knowledge_files) == ((), ())


async def test_an_agents_files_list_newest_first_page_by_page(storage: Storage):
    actor, agent = await with_agent(storage)
    _, other_agent = await with_agent(storage, actor)
    start = utc_now()
    files = [make_file(agent, created_at=start + timedelta(seconds=n), updated_at=start) for n in range(5)]
    await add(storage, actor, *files, make_file(other_agent))

    seen: list[KnowledgeFile] = []
    async with storage.units(actor.tenant_id) as uow:
        page = await uow.knowledge_files.list(agent.id, PageRequest(limit=2))
        seen += page.items
        while page.next_position is not None:
            page = await uow.knowledge_files.list(agent.id, PageRequest(limit=2, after=page.next_position))
            seen += page.items

    assert seen == list(reversed(files))


async def test_a_deleted_file_is_gone_with_its_text(storage: Storage):
    actor, agent = await with_agent(storage)
    file = make_file(agent)
    await add(storage, actor, file)

    async with storage.units(actor.tenant_id) as uow:
        assert await uow.knowledge_files.delete(file.id) is True
        assert await uow.knowledge_files.delete(file.id) is False
        await uow.commit()

    async with storage.units(actor.tenant_id) as uow:
        assert await uow.knowledge_files.get(file.id) is None
        assert await uow.knowledge_files.text(file.id) is None
        assert await uow.knowledge_files.count_for_agent(agent.id) == 0


async def test_a_file_added_in_a_unit_of_work_that_is_not_committed_is_not_kept(storage: Storage):
    actor, agent = await with_agent(storage)
    file = make_file(agent, text_length=len("draft"))

    async with storage.units(actor.tenant_id) as uow:
        await uow.knowledge_files.add(file, "draft")

    async with storage.units(actor.tenant_id) as uow:
        assert await uow.knowledge_files.get(file.id) is None


async def test_a_file_whose_text_length_is_not_its_texts_is_refused(storage: Storage):
    actor, agent = await with_agent(storage)
    file = make_file(agent, text_length=3)

    with pytest.raises(Exception):  # noqa: B017, PT011 (ValueError in memory, a check violation on postgres)
        await add(storage, actor, file, text="four")

    async with storage.units(actor.tenant_id) as uow:
        assert await uow.knowledge_files.get(file.id) is None
