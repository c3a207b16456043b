"""The team over HTTP: members, invitations (sent, listed, resent, revoked, accepted, expired),
roles, the last owner, handing over ownership, removing people, and mass assignment."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest

from switchboard.entrypoints.http.blueprints.auth import TokenOut
from switchboard.entrypoints.http.blueprints.schemas import MeOut
from switchboard.entrypoints.http.blueprints.team import InvitationListOut, InvitationOut, MemberOut
from tests.e2e.helpers import (
    PASSWORD,
    SignedUp,
    conforms,
    error_fields,
    expect_problem,
    login,
    refresh,
    sign_up,
    tokens_of,
    unique_email,
)
from tests.e2e.team_helpers import (
    Person,
    accept,
    bearer,
    invitation_token,
    invite,
    invited,
    join,
    mails_to,
    members_of,
    new_password,
    own_address,
    roles_of,
)


def _iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def _invitations(client, who: SignedUp | Person) -> list[dict[str, Any]]:
    response = await client.get("/v1/team/invitations", headers=who.auth)
    assert response.status_code == 200, await response.get_data()
    body = await response.get_json()
    conforms(InvitationListOut, body)
    for invitation in body["data"]:
        conforms(InvitationOut, invitation)
    assert (body["has_more"], body["next_cursor"]) == (False, None)
    data: list[dict[str, Any]] = body["data"]
    return data


async def _me(client, headers: dict[str, str]) -> dict[str, Any]:
    response = await client.get("/v1/me", headers=headers)
    assert response.status_code == 200, await response.get_data()
    body: dict[str, Any] = await response.get_json()
    conforms(MeOut, body)
    return body


async def _change_role(
    client, who: SignedUp | Person, user_id: str, role: str, extra: dict[str, Any] | None = None
) -> Any:
    body = {"role": role} | (extra or {})
    return await client.patch(f"/v1/team/members/{user_id}", json=body, headers=who.auth)


async def _remove(client, who: SignedUp | Person, user_id: str) -> Any:
    return await client.delete(f"/v1/team/members/{user_id}", headers=who.auth)


async def _transfer(client, who: SignedUp | Person, user_id: str, extra: dict[str, Any] | None = None) -> Any:
    return await client.post(
        "/v1/team/transfer-ownership", json={"user_id": user_id} | (extra or {}), headers=who.auth
    )


async def _audit_actions(client, who: SignedUp | Person, **filters: Any) -> list[dict[str, Any]]:
    response = await client.get("/v1/audit-logs", query_string={"limit": 100} | filters, headers=who.auth)
    assert response.status_code == 200, await response.get_data()
    data: list[dict[str, Any]] = (await response.get_json())["data"]
    return data


# --- members -----------------------------------------------------------------------------------


async def test_a_new_tenants_members_list_is_its_owner_with_no_lockout(client):
    owner = await sign_up(client)

    response = await client.get("/v1/team/members", headers=owner.auth)

    assert response.status_code == 200
    body = await response.get_json()
    assert (body["object"], body["has_more"], body["next_cursor"]) == ("list", False, None)
    [member] = body["data"]
    conforms(MemberOut, member)
    assert member["user_id"] == owner.user_id
    assert (member["email"], member["name"], member["role"]) == (owner.email, "Ada Owner", "owner")
    assert member["email_verified"] is False
    assert member["locked_for_seconds"] == 0
    assert member["joined_at"].endswith("Z")


async def test_every_role_sees_the_same_members_list_oldest_first(client, database):
    owner = await sign_up(client)
    admin = await join(client, database, owner, "admin", name="Alan Admin")
    member = await join(client, database, owner, "member", name="Mia Member")

    seen = [
        [
            (m["user_id"], m["role"])
            for m in (await (await client.get("/v1/team/members", headers=who.auth)).get_json())["data"]
        ]
        for who in (owner, admin, member)
    ]

    expected = [(owner.user_id, "owner"), (admin.user_id, "admin"), (member.user_id, "member")]
    assert seen == [expected, expected, expected]


# --- inviting ----------------------------------------------------------------------------------


async def test_inviting_by_email_answers_201_with_a_location_and_mails_a_single_use_link(client, database):
    owner = await sign_up(client, tenant_name="Harbour Dental")
    email = unique_email("invitee")

    response = await invite(client, owner, email.upper(), "admin")

    assert response.status_code == 201, await response.get_data()
    body = await response.get_json()
    conforms(InvitationOut, body)
    assert response.headers["Location"] == f"/v1/team/invitations/{body['id']}"
    assert (body["object"], body["email"], body["role"], body["expired"]) == (
        "invitation",
        email,
        "admin",
        False,
    )
    assert _iso(body["expires_at"]) - _iso(body["created_at"]) == timedelta(days=7)
    [mail] = mails_to(database, email)
    assert "Harbour Dental" in mail
    assert "as admin" in mail
    assert invitation_token(database, email).startswith("sbi_")


async def test_the_invitation_list_shows_outstanding_invitations_newest_first(client, database):
    owner = await sign_up(client)
    first = await invited(client, owner, unique_email("first"), "member")
    second = await invited(client, owner, unique_email("second"), "admin")
    accepted = await invited(client, owner, unique_email("accepted"), "member")
    revoked = await invited(client, owner, unique_email("revoked"), "member")
    token = invitation_token(database, accepted["email"])
    assert (
        await accept(client, token, address=own_address(), name="Acc Epted", password=new_password())
    ).status_code == 200
    assert (
        await client.delete(f"/v1/team/invitations/{revoked['id']}", headers=owner.auth)
    ).status_code == 204

    listed = await _invitations(client, owner)

    assert [i["id"] for i in listed] == [second["id"], first["id"]]
    assert listed[0] == second


async def test_resending_mails_a_new_link_and_the_old_link_stops_working(client, database):
    owner = await sign_up(client)
    invitation = await invited(client, owner, unique_email("invitee"), "member")
    old_token = invitation_token(database, invitation["email"])
    address = own_address()

    response = await client.post(f"/v1/team/invitations/{invitation['id']}/resend", headers=owner.auth)

    assert response.status_code == 200, await response.get_data()
    body = await response.get_json()
    conforms(InvitationOut, body)
    assert (body["id"], body["email"], body["role"]) == (invitation["id"], invitation["email"], "member")
    assert _iso(body["expires_at"]) >= _iso(invitation["expires_at"])
    assert len(mails_to(database, invitation["email"])) == 2
    new_token = invitation_token(database, invitation["email"])
    assert new_token != old_token
    with_old = await accept(client, old_token, address=address, name="Nia New", password=new_password())
    assert "token" in error_fields(await expect_problem(with_old, 400, "validation_error"))
    with_new = await accept(client, new_token, address=address, name="Nia New", password=new_password())
    assert (await tokens_of(with_new))["tenant_id"] == owner.tenant_id


async def test_revoking_an_invitation_makes_its_link_stop_working(client, database):
    owner = await sign_up(client)
    invitation = await invited(client, owner, unique_email("invitee"), "member")
    token = invitation_token(database, invitation["email"])

    response = await client.delete(f"/v1/team/invitations/{invitation['id']}", headers=owner.auth)

    assert response.status_code == 204
    assert await _invitations(client, owner) == []
    refused = await accept(client, token, address=own_address(), name="Rita Revoked", password=new_password())
    assert "token" in error_fields(await expect_problem(refused, 400, "validation_error"))
    assert list(await members_of(client, owner)) == [owner.user_id]
    again = await client.delete(f"/v1/team/invitations/{invitation['id']}", headers=owner.auth)
    await expect_problem(again, 404, "not_found")
    resent = await client.post(f"/v1/team/invitations/{invitation['id']}/resend", headers=owner.auth)
    await expect_problem(resent, 404, "not_found")


async def test_another_tenants_invitation_cannot_be_resent_or_revoked(client, database):
    owner = await sign_up(client)
    stranger = await sign_up(client)
    invitation = await invited(client, owner, unique_email("invitee"), "member")

    resent = await client.post(f"/v1/team/invitations/{invitation['id']}/resend", headers=stranger.auth)
    revoked = await client.delete(f"/v1/team/invitations/{invitation['id']}", headers=stranger.auth)

    await expect_problem(resent, 404, "not_found")
    await expect_problem(revoked, 404, "not_found")
    assert await _invitations(client, owner) == [invitation]
    assert len(mails_to(database, invitation["email"])) == 1


async def test_inviting_someone_who_is_already_a_member_answers_409_already_member(client, database):
    owner = await sign_up(client)
    member = await join(client, database, owner, "member")

    for email in (owner.email, member.email.upper()):
        response = await invite(client, owner, email, "admin")
        await expect_problem(response, 409, "already_member")

    assert await _invitations(client, owner) == []
    assert len(mails_to(database, member.email)) == 1  # the first invitation only


async def test_an_admin_cannot_invite_an_owner(client, database):
    owner = await sign_up(client)
    admin = await join(client, database, owner, "admin")
    email = unique_email("would-be-owner")

    response = await invite(client, admin, email, "owner")

    await expect_problem(response, 403, "forbidden")
    assert await _invitations(client, owner) == []
    assert mails_to(database, email) == []


async def test_an_admin_can_invite_admins_and_members(client, database):
    owner = await sign_up(client)
    admin = await join(client, database, owner, "admin")

    for role in ("admin", "member"):
        body = await invited(client, admin, unique_email(role), role)
        assert body["role"] == role


@pytest.mark.parametrize("role", ["member", "admin", "owner"])
async def test_a_member_cannot_invite_anyone(client, database, role):
    owner = await sign_up(client)
    member = await join(client, database, owner, "member")
    email = unique_email("invitee")

    response = await invite(client, member, email, role)

    await expect_problem(response, 403, "forbidden")
    assert await _invitations(client, owner) == []
    assert mails_to(database, email) == []


# --- accepting ---------------------------------------------------------------------------------


async def test_a_new_person_accepts_with_a_name_and_password_and_joins_with_the_invited_role(
    client, database
):
    owner = await sign_up(client)
    email = unique_email("newcomer")
    await invited(client, owner, email, "admin")
    password = new_password()
    address = own_address()

    response = await accept(
        client,
        invitation_token(database, email),
        address=address,
        name="  Nora   Newcomer ",
        password=password,
    )

    body = await tokens_of(response)
    assert body["tenant_id"] == owner.tenant_id
    me = await _me(client, bearer(body["access_token"]))
    assert (me["role"], me["tenant"]["id"], me["user"]["email"]) == ("admin", owner.tenant_id, email)
    assert me["user"]["name"] == "Nora Newcomer"
    joined = (await members_of(client, owner))[body["user_id"]]
    assert (joined["role"], joined["email_verified"]) == ("admin", True)
    assert await _invitations(client, owner) == []
    assert (await tokens_of(await login(client, email, password)))["tenant_id"] == owner.tenant_id
    [accepted] = await _audit_actions(client, owner, action="invitation.accepted")
    assert accepted["ip"] == address["client"][0]  # the test's own client address is what the server saw
    [added] = await _audit_actions(client, owner, action="member.added")
    assert (added["target_id"], added["changes"]) == (body["user_id"], {"role": "admin"})


async def test_a_new_person_must_choose_an_acceptable_password(client, database):
    owner = await sign_up(client)
    email = unique_email("newcomer")
    await invited(client, owner, email, "member")
    token = invitation_token(database, email)
    address = own_address()

    weak = await accept(client, token, address=address, name="Nora Newcomer", password="password123")

    assert "password" in error_fields(await expect_problem(weak, 400, "validation_error"))
    assert list(await members_of(client, owner)) == [owner.user_id]
    good = await accept(client, token, address=address, name="Nora Newcomer", password=new_password())
    assert good.status_code == 200


async def test_an_existing_account_accepts_with_its_own_password_and_keeps_its_other_tenant(client, database):
    owner = await sign_up(client)
    elsewhere = await sign_up(client, tenant_name="Their Own Shop")
    await invited(client, owner, elsewhere.email, "member")

    response = await accept(
        client, invitation_token(database, elsewhere.email), address=own_address(), password=PASSWORD
    )

    body = await tokens_of(response)
    assert (body["tenant_id"], body["user_id"]) == (owner.tenant_id, elsewhere.user_id)
    assert (await _me(client, bearer(body["access_token"])))["role"] == "member"
    assert (await roles_of(client, owner))[elsewhere.user_id] == "member"
    assert (await _me(client, elsewhere.auth))["role"] == "owner"  # still owner of their own tenant
    again = await tokens_of(await login(client, elsewhere.email, PASSWORD, tenant_id=owner.tenant_id))
    assert again["tenant_id"] == owner.tenant_id


async def test_an_existing_account_accepts_with_its_own_access_token_and_no_password(client, database):
    owner = await sign_up(client)
    elsewhere = await sign_up(client)
    await invited(client, owner, elsewhere.email, "admin")

    response = await accept(
        client, invitation_token(database, elsewhere.email), address=own_address(), headers=elsewhere.auth
    )

    body = await tokens_of(response)
    assert (body["tenant_id"], body["user_id"]) == (owner.tenant_id, elsewhere.user_id)
    assert (await roles_of(client, owner))[elsewhere.user_id] == "admin"


async def test_an_existing_account_with_a_wrong_password_gets_401_and_nothing_changes(client, database):
    owner = await sign_up(client)
    elsewhere = await sign_up(client)
    await invited(client, owner, elsewhere.email, "member")
    token = invitation_token(database, elsewhere.email)
    address = own_address()

    wrong = await accept(client, token, address=address, password="vq7-tidal-rk-not-their-password")
    missing = await accept(client, token, address=address)

    await expect_problem(wrong, 401, "unauthenticated")
    await expect_problem(missing, 401, "unauthenticated")
    assert list(await members_of(client, owner)) == [owner.user_id]
    assert [i["email"] for i in await _invitations(client, owner)] == [elsewhere.email]
    assert (await accept(client, token, address=address, password=PASSWORD)).status_code == 200


async def test_someone_elses_access_token_does_not_accept_for_an_existing_account(client, database):
    owner = await sign_up(client)
    invitee = await sign_up(client)
    interloper = await sign_up(client)
    await invited(client, owner, invitee.email, "admin")
    token = invitation_token(database, invitee.email)

    response = await accept(client, token, address=own_address(), headers=interloper.auth)

    await expect_problem(response, 401, "unauthenticated")
    assert list(await members_of(client, owner)) == [owner.user_id]


async def test_a_new_persons_name_and_password_do_not_take_over_an_existing_account(client, database):
    owner = await sign_up(client)
    elsewhere = await sign_up(client)
    await invited(client, owner, elsewhere.email, "member")
    address = own_address()

    response = await accept(
        client,
        invitation_token(database, elsewhere.email),
        address=address,
        name="Mallory",
        password=new_password(),
    )

    await expect_problem(response, 401, "unauthenticated")
    assert (await tokens_of(await login(client, elsewhere.email, PASSWORD)))["user_id"] == elsewhere.user_id


async def test_an_invitation_works_once(client, database):
    owner = await sign_up(client)
    email = unique_email("once")
    await invited(client, owner, email, "member")
    token = invitation_token(database, email)
    address = own_address()
    first = await accept(client, token, address=address, name="Otto Once", password=new_password())
    assert first.status_code == 200

    second = await accept(client, token, address=address, name="Otto Twice", password=new_password())

    assert "token" in error_fields(await expect_problem(second, 400, "validation_error"))
    assert len(await members_of(client, owner)) == 2


async def test_an_unknown_invitation_token_is_refused(client):
    response = await accept(
        client, "sbi_" + uuid.uuid4().hex, address=own_address(), name="X Y", password=new_password()
    )

    assert "token" in error_fields(await expect_problem(response, 400, "validation_error"))


@dataclasses.dataclass(frozen=True)
class _At:
    at: datetime

    def now(self) -> datetime:
        return self.at


async def test_an_invitation_expires_after_seven_days(client, container, database):
    owner = await sign_up(client)
    email = unique_email("late")
    invitation = await invited(client, owner, email, "member")
    token = invitation_token(database, email)
    address = own_address()
    expires_at = _iso(invitation["expires_at"])

    container.identity.override(dataclasses.replace(container.identity(), clock=_At(expires_at)))
    try:
        late = await accept(client, token, address=address, name="Lars Late", password=new_password())
        listed = await _invitations(client, owner)
    finally:
        container.identity.reset_last_overriding()

    assert "token" in error_fields(await expect_problem(late, 400, "validation_error"))
    assert [(i["id"], i["expired"]) for i in listed] == [(invitation["id"], True)]
    assert list(await members_of(client, owner)) == [owner.user_id]
    just_in_time = expires_at - timedelta(seconds=1)
    container.identity.override(dataclasses.replace(container.identity(), clock=_At(just_in_time)))
    try:
        in_time = await accept(client, token, address=address, name="Lars Late", password=new_password())
    finally:
        container.identity.reset_last_overriding()
    assert in_time.status_code == 200, await in_time.get_data()


# --- roles -------------------------------------------------------------------------------------


async def test_a_role_change_takes_effect_at_once_on_the_members_existing_access_token(client, database):
    owner = await sign_up(client)
    member = await join(client, database, owner, "member")
    await expect_problem(await client.get("/v1/audit-logs", headers=member.auth), 403, "forbidden")

    promoted = await _change_role(client, owner, member.user_id, "admin")

    assert promoted.status_code == 200, await promoted.get_data()
    body = await promoted.get_json()
    conforms(MemberOut, body)
    assert (body["user_id"], body["role"]) == (member.user_id, "admin")
    assert (await client.get("/v1/audit-logs", headers=member.auth)).status_code == 200
    assert (await _me(client, member.auth))["role"] == "admin"
    assert (await roles_of(client, owner))[member.user_id] == "admin"

    demoted = await _change_role(client, owner, member.user_id, "member")

    assert demoted.status_code == 200
    await expect_problem(await client.get("/v1/audit-logs", headers=member.auth), 403, "forbidden")
    [changed, _] = await _audit_actions(client, owner, action="member.role_changed")
    assert changed["changes"] == {"role": {"from": "admin", "to": "member"}}


async def test_an_admin_can_change_a_members_role_but_not_make_an_owner(client, database):
    owner = await sign_up(client)
    admin = await join(client, database, owner, "admin")
    member = await join(client, database, owner, "member")

    promoted = await _change_role(client, admin, member.user_id, "admin")
    to_owner = await _change_role(client, admin, member.user_id, "owner")

    assert promoted.status_code == 200
    await expect_problem(to_owner, 403, "forbidden")
    assert (await roles_of(client, owner))[member.user_id] == "admin"


@pytest.mark.parametrize("role", ["admin", "member"])
async def test_an_admin_cannot_change_an_owners_role(client, database, role):
    owner = await sign_up(client)
    admin = await join(client, database, owner, "admin")

    response = await _change_role(client, admin, owner.user_id, role)

    await expect_problem(response, 403, "forbidden")
    assert (await roles_of(client, owner))[owner.user_id] == "owner"


async def test_an_admin_cannot_remove_an_owner(client, database):
    owner = await sign_up(client)
    admin = await join(client, database, owner, "admin")

    response = await _remove(client, admin, owner.user_id)

    await expect_problem(response, 403, "forbidden")
    assert (await roles_of(client, owner))[owner.user_id] == "owner"
    assert (await client.get("/v1/me", headers=owner.auth)).status_code == 200


async def test_a_member_cannot_change_roles_or_remove_anyone(client, database):
    owner = await sign_up(client)
    member = await join(client, database, owner, "member")
    other = await join(client, database, owner, "member")

    for response in (
        await _change_role(client, member, member.user_id, "admin"),
        await _change_role(client, member, other.user_id, "admin"),
        await _remove(client, member, other.user_id),
    ):
        await expect_problem(response, 403, "forbidden")

    assert await roles_of(client, owner) == {
        owner.user_id: "owner",
        member.user_id: "member",
        other.user_id: "member",
    }


async def test_changing_the_role_of_someone_who_is_not_a_member_answers_404(client, database):
    owner = await sign_up(client)
    stranger = await sign_up(client)

    for user_id in (stranger.user_id, str(uuid.uuid4())):
        await expect_problem(await _change_role(client, owner, user_id, "admin"), 404, "not_found")
        await expect_problem(await _remove(client, owner, user_id), 404, "not_found")

    assert (await _me(client, stranger.auth))["role"] == "owner"


async def test_the_last_owner_cannot_step_down(client, database):
    owner = await sign_up(client)
    await join(client, database, owner, "admin")

    for role in ("admin", "member"):
        response = await _change_role(client, owner, owner.user_id, role)
        await expect_problem(response, 409, "last_owner")

    assert (await _me(client, owner.auth))["role"] == "owner"


async def test_the_last_owner_cannot_leave(client, database):
    owner = await sign_up(client)
    await join(client, database, owner, "admin")

    response = await _remove(client, owner, owner.user_id)

    await expect_problem(response, 409, "last_owner")
    assert (await _me(client, owner.auth))["role"] == "owner"


async def test_with_a_second_owner_the_first_may_step_down(client, database):
    owner = await sign_up(client)
    admin = await join(client, database, owner, "admin")
    assert (await _change_role(client, owner, admin.user_id, "owner")).status_code == 200

    response = await _change_role(client, owner, owner.user_id, "admin")

    assert response.status_code == 200, await response.get_data()
    assert await roles_of(client, admin) == {owner.user_id: "admin", admin.user_id: "owner"}
    await expect_problem(await _change_role(client, admin, admin.user_id, "admin"), 409, "last_owner")


# --- ownership -----------------------------------------------------------------------------------


async def test_transferring_ownership_makes_the_target_owner_and_the_owner_an_admin(client, database):
    owner = await sign_up(client)
    member = await join(client, database, owner, "member")

    response = await _transfer(client, owner, member.user_id)

    assert response.status_code == 204, await response.get_data()
    assert await roles_of(client, owner) == {owner.user_id: "admin", member.user_id: "owner"}
    assert (await _me(client, owner.auth))["role"] == "admin"  # the same token, its new role
    assert (await _me(client, member.auth))["role"] == "owner"
    await expect_problem(await _transfer(client, owner, member.user_id), 403, "forbidden")
    [event] = await _audit_actions(client, member, action="tenant.ownership_transferred")
    assert (event["target_id"], event["changes"]) == (member.user_id, {"from": owner.user_id})


async def test_only_an_owner_may_transfer_ownership(client, database):
    owner = await sign_up(client)
    admin = await join(client, database, owner, "admin")
    member = await join(client, database, owner, "member")

    for who in (admin, member):
        await expect_problem(await _transfer(client, who, who.user_id), 403, "forbidden")
        await expect_problem(await _transfer(client, who, owner.user_id), 403, "forbidden")

    assert await roles_of(client, owner) == {
        owner.user_id: "owner",
        admin.user_id: "admin",
        member.user_id: "member",
    }


async def test_ownership_cannot_go_to_oneself_or_to_someone_outside_the_team(client):
    owner = await sign_up(client)
    stranger = await sign_up(client)

    to_self = await _transfer(client, owner, owner.user_id)
    to_stranger = await _transfer(client, owner, stranger.user_id)

    assert "user_id" in error_fields(await expect_problem(to_self, 400, "validation_error"))
    await expect_problem(to_stranger, 404, "not_found")
    assert await roles_of(client, owner) == {owner.user_id: "owner"}
    assert (await _me(client, stranger.auth))["role"] == "owner"


# --- removing and leaving ------------------------------------------------------------------------


async def test_removing_a_member_ends_their_sessions_at_once(client, database):
    owner = await sign_up(client)
    member = await join(client, database, owner, "admin")
    assert (await client.get("/v1/me", headers=member.auth)).status_code == 200

    response = await _remove(client, owner, member.user_id)

    assert response.status_code == 204
    await expect_problem(await client.get("/v1/me", headers=member.auth), 401, "unauthenticated")
    await expect_problem(await client.get("/v1/team/members", headers=member.auth), 401, "unauthenticated")
    await expect_problem(await refresh(client, member.refresh_token), 401)
    assert list(await members_of(client, owner)) == [owner.user_id]
    [removed] = await _audit_actions(client, owner, action="member.removed")
    assert removed["target_id"] == member.user_id


async def test_a_removed_member_cannot_sign_in_to_that_tenant_again(client, database):
    owner = await sign_up(client)
    member = await join(client, database, owner, "member")
    assert (await _remove(client, owner, member.user_id)).status_code == 204

    response = await client.post(
        "/v1/auth/login",
        json={"email": member.email, "password": member.password, "tenant_id": owner.tenant_id},
        scope_base=own_address(),
    )

    await expect_problem(response, 401)


async def test_an_admin_can_remove_a_member(client, database):
    owner = await sign_up(client)
    admin = await join(client, database, owner, "admin")
    member = await join(client, database, owner, "member")

    response = await _remove(client, admin, member.user_id)

    assert response.status_code == 204
    assert set(await members_of(client, owner)) == {owner.user_id, admin.user_id}
    await expect_problem(await client.get("/v1/me", headers=member.auth), 401, "unauthenticated")


@pytest.mark.parametrize("role", ["admin", "member"])
async def test_anyone_but_the_last_owner_may_leave_and_their_session_ends(client, database, role):
    owner = await sign_up(client)
    leaver = await join(client, database, owner, role)

    response = await _remove(client, leaver, leaver.user_id)

    assert response.status_code == 204
    await expect_problem(await client.get("/v1/me", headers=leaver.auth), 401, "unauthenticated")
    assert list(await members_of(client, owner)) == [owner.user_id]
    [left] = await _audit_actions(client, owner, action="member.left")
    assert left["target_id"] == leaver.user_id


# --- mass assignment -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"tenant_id": "OTHER"}, "tenant_id"),
        ({"id": str(uuid.uuid4())}, "id"),
        ({"expires_at": "2099-01-01T00:00:00Z"}, "expires_at"),
        ({"invited_by": str(uuid.uuid4())}, "invited_by"),
        ({"is_admin": True}, "is_admin"),
    ],
)
async def test_an_invitation_carrying_fields_a_client_may_not_set_is_refused_and_nothing_is_sent(
    client, database, extra, field
):
    owner = await sign_up(client)
    other = await sign_up(client)
    email = unique_email("invitee")
    extra = {key: other.tenant_id if value == "OTHER" else value for key, value in extra.items()}

    response = await invite(client, owner, email, "member", **extra)

    assert field in error_fields(await expect_problem(response, 400, "validation_error"))
    assert await _invitations(client, owner) == []
    assert await _invitations(client, other) == []
    assert mails_to(database, email) == []


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"tenant_id": "OTHER"}, "tenant_id"),
        ({"user_id": "SELF"}, "user_id"),
        ({"email": "someone-else@example.com"}, "email"),
        ({"permissions": ["team:manage"]}, "permissions"),
    ],
)
async def test_a_role_change_carrying_other_fields_is_refused_and_the_role_stays(
    client, database, extra, field
):
    owner = await sign_up(client)
    other = await sign_up(client)
    member = await join(client, database, owner, "member")
    substitutes = {"OTHER": other.tenant_id, "SELF": owner.user_id}
    extra = {
        key: substitutes.get(value, value) if isinstance(value, str) else value
        for key, value in extra.items()
    }

    response = await _change_role(client, owner, member.user_id, "admin", extra)

    assert field in error_fields(await expect_problem(response, 400, "validation_error"))
    assert await roles_of(client, owner) == {owner.user_id: "owner", member.user_id: "member"}
    assert (await members_of(client, owner))[member.user_id]["email"] == member.email
    assert list(await members_of(client, other)) == [other.user_id]


async def test_a_transfer_carrying_a_role_or_other_fields_is_refused_and_nobody_changes_role(
    client, database
):
    owner = await sign_up(client)
    other = await sign_up(client)
    member = await join(client, database, owner, "member")

    for extra, field in (
        ({"role": "member"}, "role"),
        ({"tenant_id": other.tenant_id}, "tenant_id"),
        ({"keep_ownership": True}, "keep_ownership"),
    ):
        response = await _transfer(client, owner, member.user_id, extra)
        assert field in error_fields(await expect_problem(response, 400, "validation_error"))

    assert await roles_of(client, owner) == {owner.user_id: "owner", member.user_id: "member"}


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"role": "owner"}, "role"),
        ({"tenant_id": "OTHER"}, "tenant_id"),
        ({"email": "someone-else@example.com"}, "email"),
        ({"email_verified": True}, "email_verified"),
    ],
)
async def test_accepting_with_fields_a_client_may_not_set_is_refused_and_the_invitation_stays_unused(
    client, database, extra, field
):
    owner = await sign_up(client)
    other = await sign_up(client)
    email = unique_email("invitee")
    await invited(client, owner, email, "member")
    token = invitation_token(database, email)
    address = own_address()
    extra = {key: other.tenant_id if value == "OTHER" else value for key, value in extra.items()}

    response = await accept(
        client, token, address=address, name="Ivy Invitee", password=new_password(), **extra
    )

    assert field in error_fields(await expect_problem(response, 400, "validation_error"))
    assert list(await members_of(client, owner)) == [owner.user_id]
    assert list(await members_of(client, other)) == [other.user_id]
    proper = await tokens_of(
        await accept(client, token, address=address, name="Ivy Invitee", password=new_password())
    )
    assert proper["tenant_id"] == owner.tenant_id
    assert (await _me(client, bearer(proper["access_token"])))["role"] == "member"


async def test_resending_with_a_role_in_the_body_is_refused_and_the_invitation_keeps_its_role_and_link(
    client, database
):
    owner = await sign_up(client)
    invitation = await invited(client, owner, unique_email("invitee"), "member")
    token = invitation_token(database, invitation["email"])

    response = await client.post(
        f"/v1/team/invitations/{invitation['id']}/resend", json={"role": "owner"}, headers=owner.auth
    )

    assert "role" in error_fields(await expect_problem(response, 400, "validation_error"))
    assert await _invitations(client, owner) == [invitation]
    assert invitation_token(database, invitation["email"]) == token


async def test_the_refresh_token_from_accepting_an_invitation_works_in_that_tenant(client, database):
    owner = await sign_up(client)
    person = await join(client, database, owner, "member")

    refreshed = await tokens_of(await refresh(client, person.refresh_token))

    conforms(TokenOut, refreshed)
    assert (refreshed["tenant_id"], refreshed["user_id"]) == (owner.tenant_id, person.user_id)


async def test_an_owner_can_invite_another_owner(client, database):
    owner = await sign_up(client)

    second = await join(client, database, owner, "owner")

    assert await roles_of(client, owner) == {owner.user_id: "owner", second.user_id: "owner"}
    assert (await _transfer(client, second, owner.user_id)).status_code == 204


async def test_a_second_invitation_to_an_address_with_one_outstanding_answers_409(client, database):
    owner = await sign_up(client)
    other_owner = await join(client, database, owner, "owner")
    email = unique_email("twice")
    first = await invited(client, owner, email, "member")

    again = await invite(client, other_owner, email.upper(), "admin")

    await expect_problem(again, 409, "invitation_pending")
    assert await _invitations(client, owner) == [first]
    assert len(mails_to(database, email)) == 1


async def test_a_removed_member_can_be_invited_back_and_accepts_with_their_password(client, database):
    owner = await sign_up(client)
    member = await join(client, database, owner, "member")
    assert (await _remove(client, owner, member.user_id)).status_code == 204
    await invited(client, owner, member.email, "admin")

    response = await accept(
        client, invitation_token(database, member.email), address=own_address(), password=member.password
    )

    body = await tokens_of(response)
    assert body["user_id"] == member.user_id
    assert (await roles_of(client, owner))[member.user_id] == "admin"
