"""Management groups through azure-mgmt-managementgroups (api-version 2023-04-01), unmodified:
the tenant root with its subscriptions, a group created (long-running PUT), read with children,
a subscription moved in and out, RBAC inherited from the group, the group deleted."""

import uuid

import pytest
from azure.core.exceptions import HttpResponseError

from conftest import FABRIKAM, FABRIKAM_DEV, FABRIKAM_PROD, ROLE_READER, principal, unique_name


@pytest.fixture
def mg_client(emulator, creds):
    from azure.mgmt.managementgroups import ManagementGroupsMgmtClient

    def make(name: str):
        return ManagementGroupsMgmtClient(creds.for_principal(name), base_url=emulator.url,
                                          polling_interval=0)

    return make


def test_the_tenant_root_group_holds_every_subscription(mg_client):
    c = mg_client("admin@fabrikam")
    root = c.management_groups.get(FABRIKAM, expand="children")
    assert root.name == FABRIKAM
    assert root.properties.display_name == "Tenant Root Group"
    assert root.properties.tenant_id == FABRIKAM
    kids = {k.name: k.type for k in root.properties.children}
    assert kids == {FABRIKAM_PROD: "/subscriptions", FABRIKAM_DEV: "/subscriptions"}
    assert FABRIKAM in {g.name for g in c.management_groups.list()}


def test_create_move_and_delete_a_group(mg_client):
    c = mg_client("admin@fabrikam")
    name = unique_name("mg")
    group = c.management_groups.begin_create_or_update(
        name, {"properties": {"displayName": "Platform"}}).result()
    assert group.name == name
    assert group.properties.display_name == "Platform"
    assert group.properties.details.parent.id == f"/providers/Microsoft.Management/managementGroups/{FABRIKAM}"

    moved = c.management_group_subscriptions.create(name, FABRIKAM_DEV)
    assert moved.name == FABRIKAM_DEV
    assert moved.properties.parent.id.endswith(f"/managementGroups/{name}")
    subs = [s.name for s in c.management_group_subscriptions.get_subscriptions_under_management_group(name)]
    assert subs == [FABRIKAM_DEV]
    got = c.management_groups.get(name, expand="children", recurse=True)
    assert [k.name for k in got.properties.children] == [FABRIKAM_DEV]
    assert [d.name for d in c.management_groups.get_descendants(name)] == [FABRIKAM_DEV]

    # a group that holds a subscription is not deleted
    with pytest.raises(HttpResponseError) as e:
        c.management_groups.begin_delete(name).result()
    assert e.value.status_code == 400

    c.management_group_subscriptions.delete(name, FABRIKAM_DEV)
    assert list(c.management_group_subscriptions.get_subscriptions_under_management_group(name)) == []
    c.management_groups.begin_delete(name).result()
    assert name not in {g.name for g in c.management_groups.list()}


def test_a_role_at_a_group_reaches_its_subscriptions_until_they_move_out(
        mg_client, authorization_client, resource_client):
    admin = mg_client("admin@fabrikam")
    name = unique_name("mg-rbac")
    admin.management_groups.begin_create_or_update(name, {"properties": {"displayName": name}}).result()
    admin.management_group_subscriptions.create(name, FABRIKAM_DEV)
    reader_rc = resource_client("reader@fabrikam", FABRIKAM_DEV)
    with pytest.raises(HttpResponseError) as e:
        reader_rc.resource_groups.get("rg-dev")
    assert e.value.status_code == 403

    scope = f"/providers/Microsoft.Management/managementGroups/{name}"
    ac = authorization_client("admin@fabrikam", FABRIKAM_DEV)
    ac.role_assignments.create(scope, str(uuid.uuid4()), {
        "role_definition_id": f"/providers/Microsoft.Authorization/roleDefinitions/{ROLE_READER}",
        "principal_id": principal("reader@fabrikam").object_id, "principal_type": "User"})
    assert reader_rc.resource_groups.get("rg-dev").name == "rg-dev"
    # the reader may read the group itself now, not move subscriptions
    reader_mg = mg_client("reader@fabrikam")
    assert reader_mg.management_groups.get(name).name == name
    with pytest.raises(HttpResponseError) as e:
        reader_mg.management_group_subscriptions.delete(name, FABRIKAM_DEV)
    assert e.value.status_code == 403

    admin.management_group_subscriptions.delete(name, FABRIKAM_DEV)
    with pytest.raises(HttpResponseError) as e:
        reader_rc.resource_groups.get("rg-dev")
    assert e.value.status_code == 403
    assert e.value.error.code == "AuthorizationFailed"


def test_the_service_provider_never_sees_a_customers_groups(mg_client):
    alice = mg_client("alice")
    assert FABRIKAM not in {g.name for g in alice.management_groups.list()}
    with pytest.raises(HttpResponseError) as e:
        alice.management_groups.get(FABRIKAM)
    assert e.value.status_code == 404


def test_name_availability_and_entities(mg_client):
    c = mg_client("admin@fabrikam")
    taken = c.check_name_availability({"name": FABRIKAM, "type": "Microsoft.Management/managementGroups"})
    assert taken.name_available is False
    assert taken.reason == "AlreadyExists"
    free = c.check_name_availability({"name": unique_name("free"),
                                      "type": "Microsoft.Management/managementGroups"})
    assert free.name_available is True
    assert FABRIKAM in {e.name for e in c.entities.list()}
