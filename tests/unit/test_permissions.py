import pytest

from switchboard.core.errors import PermissionDenied
from switchboard.core.tenancy.model import Role
from switchboard.core.tenancy.permissions import PERMISSIONS, Action, require


def test_every_action_has_an_entry_in_the_permission_table():
    assert set(PERMISSIONS) == set(Action)


def test_owners_may_do_everything():
    for action in Action:
        require(Role.OWNER, action)


def test_only_owners_and_admins_may_rename_the_tenant():
    require(Role.ADMIN, Action.TENANT_UPDATE)
    with pytest.raises(PermissionDenied):
        require(Role.MEMBER, Action.TENANT_UPDATE)
