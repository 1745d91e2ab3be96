"""Azure RBAC through azure-mgmt-authorization (api-version 2022-04-01)."""

import uuid

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.authorization.v2022_04_01.models import RoleAssignmentCreateParameters

from conftest import (FABRIKAM_DEV, FABRIKAM_PROD, ROLE_CONTRIBUTOR, ROLE_OWNER, ROLE_READER,
                      principal, unique_name)


def role_def_id(sub, role):
    return f"/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{role}"


def test_role_assignments_at_subscription_include_the_default_world(authorization_client):
    ac = authorization_client("admin@fabrikam", FABRIKAM_PROD)
    got = {(a.principal_id, a.role_definition_id.rsplit("/", 1)[-1]) for a in
           ac.role_assignments.list_for_subscription()}
    assert (principal("admin@fabrikam").object_id, ROLE_OWNER) in got
    assert (principal("fabrikam-ci").object_id, ROLE_CONTRIBUTOR) in got
    assert (principal("reader@fabrikam").object_id, ROLE_READER) in got
    for a in ac.role_assignments.list_for_subscription():
        assert a.type == "Microsoft.Authorization/roleAssignments"
        assert a.id.startswith(a.scope + "/providers/Microsoft.Authorization/roleAssignments/")


def test_owner_grants_reader_on_a_resource_group_then_revokes(authorization_client, resource_client):
    owner_rc = resource_client("admin@fabrikam", FABRIKAM_DEV)
    reader_rc = resource_client("reader@fabrikam", FABRIKAM_DEV)
    ac = authorization_client("admin@fabrikam", FABRIKAM_DEV)
    reader = principal("reader@fabrikam")
    rg = unique_name("rg-ra")
    owner_rc.resource_groups.create_or_update(rg, {"location": "westeurope"})
    scope = f"/subscriptions/{FABRIKAM_DEV}/resourceGroups/{rg}"
    try:
        with pytest.raises(HttpResponseError) as e:
            reader_rc.resource_groups.get(rg)
        assert e.value.status_code == 403
        assert e.value.error.code == "AuthorizationFailed"

        name = str(uuid.uuid4())
        params = RoleAssignmentCreateParameters(role_definition_id=role_def_id(FABRIKAM_DEV, ROLE_READER),
                                                principal_id=reader.object_id, principal_type="User")
        created = ac.role_assignments.create(scope, name, params)
        assert created.name == name
        assert created.id == f"{scope}/providers/Microsoft.Authorization/roleAssignments/{name}"
        assert created.scope == scope
        assert created.principal_id == reader.object_id
        assert created.role_definition_id.lower() == role_def_id(FABRIKAM_DEV, ROLE_READER).lower()

        assert reader_rc.resource_groups.get(rg).name == rg

        fetched = ac.role_assignments.get(scope, name)
        assert fetched.id == created.id
        assert created.id in {a.id for a in ac.role_assignments.list_for_scope(scope)}
        assert created.id in {a.id for a in ac.role_assignments.list_for_resource_group(rg)}
        assert created.id in {a.id for a in ac.role_assignments.list_for_subscription()}

        with pytest.raises(HttpResponseError) as dup:
            ac.role_assignments.create(scope, str(uuid.uuid4()), params)
        assert dup.value.status_code == 409
        assert dup.value.error.code == "RoleAssignmentExists"

        deleted = ac.role_assignments.delete(scope, name)
        assert deleted is not None and deleted.id == created.id
        assert created.id not in {a.id for a in ac.role_assignments.list_for_scope(scope)}
        with pytest.raises(HttpResponseError) as after:
            reader_rc.resource_groups.get(rg)
        assert after.value.status_code == 403
        assert after.value.error.code == "AuthorizationFailed"
    finally:
        owner_rc.resource_groups.begin_delete(rg, polling_interval=0.2).result()


def test_contributor_cannot_create_role_assignments(authorization_client):
    ac = authorization_client("fabrikam-ci", FABRIKAM_DEV)
    params = RoleAssignmentCreateParameters(role_definition_id=role_def_id(FABRIKAM_DEV, ROLE_OWNER),
                                            principal_id=principal("fabrikam-ci").object_id,
                                            principal_type="ServicePrincipal")
    with pytest.raises(HttpResponseError) as e:
        ac.role_assignments.create(f"/subscriptions/{FABRIKAM_DEV}", str(uuid.uuid4()), params)
    assert e.value.status_code == 403
    assert e.value.error.code == "AuthorizationFailed"
    assert "microsoft.authorization/roleassignments/write" in e.value.error.message.lower()


def test_role_assignment_for_unknown_principal_is_refused(authorization_client):
    ac = authorization_client("admin@fabrikam", FABRIKAM_DEV)
    params = RoleAssignmentCreateParameters(role_definition_id=role_def_id(FABRIKAM_DEV, ROLE_READER),
                                            principal_id=str(uuid.uuid4()), principal_type="User")
    with pytest.raises(HttpResponseError) as e:
        ac.role_assignments.create(f"/subscriptions/{FABRIKAM_DEV}", str(uuid.uuid4()), params)
    assert e.value.status_code == 400
    assert e.value.error.code == "PrincipalNotFound"


def test_role_definitions_list_contains_builtins(authorization_client):
    ac = authorization_client("fabrikam-ci", FABRIKAM_PROD)
    by_name = {d.role_name: d for d in ac.role_definitions.list(f"/subscriptions/{FABRIKAM_PROD}")}
    for role_name, role_id in [("Reader", ROLE_READER), ("Contributor", ROLE_CONTRIBUTOR),
                               ("Owner", ROLE_OWNER)]:
        assert role_name in by_name, sorted(by_name)[:20]
        d = by_name[role_name]
        assert d.name == role_id
        assert d.id.lower() == role_def_id(FABRIKAM_PROD, role_id).lower()
        assert d.role_type == "BuiltInRole"
    assert "User Access Administrator" in by_name
    assert len(by_name) > 100, "all built-in roles are expected, not a handful"


def test_role_definitions_filter_by_role_name(authorization_client):
    """az role assignment create --role Reader looks the role up this way."""
    ac = authorization_client("fabrikam-ci", FABRIKAM_PROD)
    found = list(ac.role_definitions.list(f"/subscriptions/{FABRIKAM_PROD}", filter="roleName eq 'Reader'"))
    assert [d.name for d in found] == [ROLE_READER]


def test_role_definition_get_reader(authorization_client):
    ac = authorization_client("fabrikam-ci", FABRIKAM_PROD)
    d = ac.role_definitions.get(f"/subscriptions/{FABRIKAM_PROD}", ROLE_READER)
    assert d.role_name == "Reader"
    assert d.permissions[0].actions == ["*/read"]


def test_reader_cannot_delete_role_assignments(authorization_client):
    admin = authorization_client("admin@fabrikam", FABRIKAM_PROD)
    reader_own = next(a for a in admin.role_assignments.list_for_subscription()
                      if a.principal_id == principal("reader@fabrikam").object_id
                      and a.role_definition_id.endswith(ROLE_READER))
    reader = authorization_client("reader@fabrikam", FABRIKAM_PROD)
    with pytest.raises(HttpResponseError) as e:
        reader.role_assignments.delete_by_id(reader_own.id)
    assert e.value.status_code == 403
    assert e.value.error.code == "AuthorizationFailed"
    assert reader_own.id in {a.id for a in admin.role_assignments.list_for_subscription()}
