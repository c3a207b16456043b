from uuid import uuid4

import pytest

from switchboard.core.errors import PermissionDenied
from switchboard.core.identity.model import Principal
from switchboard.core.tenancy.model import Access, Role
from switchboard.core.tenancy.permissions import PERMISSIONS, SCOPE_FAMILIES, Action, allows, require


def user(role: Role, *, impersonated: bool = False) -> Principal:
    return Principal(
        uuid4(), uuid4(), role, session_id=uuid4(), impersonator_id=uuid4() if impersonated else None
    )


def key(**scopes: Access) -> Principal:
    return Principal(None, uuid4(), None, api_key_id=uuid4(), scopes=scopes)


def test_every_action_has_an_entry_in_the_permission_table():
    assert set(PERMISSIONS) == set(Action)


def test_owners_may_do_everything():
    for action in Action:
        require(user(Role.OWNER), action)


def test_only_owners_and_admins_may_rename_the_tenant():
    require(user(Role.ADMIN), Action.TENANT_UPDATE)
    with pytest.raises(PermissionDenied):
        require(user(Role.MEMBER), Action.TENANT_UPDATE)


def test_only_owners_may_hand_over_ownership():
    assert allows(user(Role.OWNER), Action.OWNERSHIP_TRANSFER)
    assert not allows(user(Role.ADMIN), Action.OWNERSHIP_TRANSFER)
    assert not allows(user(Role.MEMBER), Action.OWNERSHIP_TRANSFER)


def test_a_read_scope_allows_reading_its_family_and_nothing_else():
    reader = key(customers=Access.READ)
    assert allows(reader, Action.CUSTOMERS_READ)
    assert not allows(reader, Action.CUSTOMERS_WRITE)
    assert not allows(reader, Action.TENANT_READ)


def test_a_write_scope_includes_reading():
    writer = key(customers=Access.WRITE)
    assert allows(writer, Action.CUSTOMERS_READ)
    assert allows(writer, Action.CUSTOMERS_WRITE)


def test_no_scope_opens_the_team_api_keys_or_account_security_to_a_key():
    everything = key(**dict.fromkeys(SCOPE_FAMILIES, Access.WRITE))
    for action in (
        Action.TEAM_MANAGE,
        Action.OWNERSHIP_TRANSFER,
        Action.API_KEYS_MANAGE,
        Action.ACCOUNT_SECURITY,
    ):
        assert not allows(everything, action)


def test_an_impersonating_admin_cannot_touch_credentials_but_acts_with_the_users_role_otherwise():
    support = user(Role.OWNER, impersonated=True)
    assert not allows(support, Action.ACCOUNT_SECURITY)
    assert not allows(support, Action.API_KEYS_MANAGE)
    assert allows(support, Action.CUSTOMERS_WRITE)
    assert allows(support, Action.TEAM_MANAGE)
