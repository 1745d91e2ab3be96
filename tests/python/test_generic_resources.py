"""Generic resources (any provider) through ResourceManagementClient.resources.*_by_id."""

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from conftest import FABRIKAM_DEV, FABRIKAM_PROD, unique_name

VNET_API = "2023-09-01"


@pytest.fixture
def rc(resource_client):
    return resource_client("fabrikam-ci", FABRIKAM_DEV)


@pytest.fixture
def rg(rc):
    name = unique_name("rg-res")
    rc.resource_groups.create_or_update(name, {"location": "westeurope"})
    yield name
    if rc.resource_groups.check_existence(name):
        rc.resource_groups.begin_delete(name, polling_interval=0.2).result()


def vnet_id(rg, name):
    return (f"/subscriptions/{FABRIKAM_DEV}/resourceGroups/{rg}"
            f"/providers/Microsoft.Network/virtualNetworks/{name}")


VNET_BODY = {"location": "westeurope", "tags": {"env": "test"},
             "properties": {"addressSpace": {"addressPrefixes": ["10.10.0.0/16"]}}}


def test_generic_resource_create_get_update_list_delete(rc, rg):
    rid = vnet_id(rg, "vnet-py")
    created = rc.resources.begin_create_or_update_by_id(rid, VNET_BODY, api_version=VNET_API,
                                                        polling_interval=0.2).result()
    assert created.id == rid
    assert created.name == "vnet-py"
    assert created.type == "Microsoft.Network/virtualNetworks"
    assert created.location == "westeurope"
    assert created.tags == {"env": "test"}
    assert created.properties["addressSpace"] == {"addressPrefixes": ["10.10.0.0/16"]}

    got = rc.resources.get_by_id(rid, api_version=VNET_API)
    assert got.id == rid
    assert got.properties["addressSpace"]["addressPrefixes"] == ["10.10.0.0/16"]
    assert rc.resources.check_existence_by_id(rid, api_version=VNET_API) is True

    updated = rc.resources.begin_update_by_id(rid, {"tags": {"env": "test", "patched": "yes"}},
                                              api_version=VNET_API, polling_interval=0.2).result()
    assert updated.tags == {"env": "test", "patched": "yes"}
    assert updated.properties["addressSpace"]["addressPrefixes"] == ["10.10.0.0/16"]

    listed = list(rc.resources.list_by_resource_group(rg))
    assert [(r.id, r.type) for r in listed] == [(rid, "Microsoft.Network/virtualNetworks")]
    assert rid in {r.id for r in rc.resources.list()}

    rc.resources.begin_delete_by_id(rid, api_version=VNET_API, polling_interval=0.2).result()
    assert rc.resources.check_existence_by_id(rid, api_version=VNET_API) is False
    with pytest.raises(ResourceNotFoundError) as e:
        rc.resources.get_by_id(rid, api_version=VNET_API)
    assert e.value.status_code == 404
    assert e.value.error.code == "ResourceNotFound"
    assert list(rc.resources.list_by_resource_group(rg)) == []


def test_generic_resource_with_parent_and_child(rc, rg):
    """A child type (virtualNetworks/subnets) lives under its parent's id."""
    parent = vnet_id(rg, "vnet-parent")
    rc.resources.begin_create_or_update_by_id(parent, VNET_BODY, api_version=VNET_API,
                                              polling_interval=0.2).result()
    child = parent + "/subnets/default"
    sub = rc.resources.begin_create_or_update_by_id(
        child, {"properties": {"addressPrefix": "10.10.1.0/24"}}, api_version=VNET_API,
        polling_interval=0.2).result()
    assert sub.id == child
    assert sub.type == "Microsoft.Network/virtualNetworks/subnets"
    assert rc.resources.get_by_id(child, api_version=VNET_API).name == "default"


def test_resource_in_missing_resource_group_is_404_resource_group_not_found(rc):
    rid = vnet_id("rg-does-not-exist", "vnet-x")
    with pytest.raises(ResourceNotFoundError) as e:
        rc.resources.begin_create_or_update_by_id(rid, VNET_BODY, api_version=VNET_API,
                                                  polling_interval=0.2).result()
    assert e.value.error.code == "ResourceGroupNotFound"


def test_deleting_a_resource_group_deletes_its_resources(rc):
    name = unique_name("rg-res")
    rc.resource_groups.create_or_update(name, {"location": "westeurope"})
    rid = vnet_id(name, "vnet-gone")
    rc.resources.begin_create_or_update_by_id(rid, VNET_BODY, api_version=VNET_API,
                                              polling_interval=0.2).result()
    rc.resource_groups.begin_delete(name, polling_interval=0.2).result()
    assert rid not in {r.id for r in rc.resources.list()}
    rc.resource_groups.create_or_update(name, {"location": "westeurope"})
    try:
        assert list(rc.resources.list_by_resource_group(name)) == []
    finally:
        rc.resource_groups.begin_delete(name, polling_interval=0.2).result()


def test_default_world_resources_are_listed(resource_client):
    rc = resource_client("fabrikam-ci", FABRIKAM_PROD)
    web = {(r.name, r.type) for r in rc.resources.list_by_resource_group("rg-web")}
    assert ("vnet-web", "Microsoft.Network/virtualNetworks") in web
    assert ("vm-web-01", "Microsoft.Compute/virtualMachines") in web
    dev = resource_client("fabrikam-ci", FABRIKAM_DEV)
    assert {r.name for r in dev.resources.list_by_resource_group("rg-dev")} == {"vnet-dev"}


def test_generic_put_answers_201_then_200_and_names_are_case_insensitive(emulator, creds, rg):
    token = creds.token("fabrikam-ci")
    path = (f"/subscriptions/{FABRIKAM_DEV}/resourceGroups/{rg}/providers/Microsoft.Network/"
            f"virtualNetworks/vnet-raw?api-version={VNET_API}")
    first = emulator.arm("PUT", path, token=token, json=VNET_BODY)
    assert first.status_code == 201, first.text
    again = emulator.arm("PUT", path, token=token, json=VNET_BODY)
    assert again.status_code == 200, again.text
    upper = emulator.arm("GET", path.replace("vnet-raw", "VNET-RAW").replace("virtualNetworks", "VIRTUALNETWORKS"),
                         token=token)
    assert upper.status_code == 200, upper.text
    assert upper.json()["name"] == "vnet-raw"


def test_reader_cannot_create_or_delete_generic_resources(resource_client):
    rc = resource_client("reader@fabrikam", "20000000-0000-0000-0000-000000002001")
    vnet = ("/subscriptions/20000000-0000-0000-0000-000000002001/resourceGroups/rg-web/providers/"
            "Microsoft.Network/virtualNetworks/vnet-web")
    assert rc.resources.get_by_id(vnet, api_version=VNET_API).name == "vnet-web"
    for attempt in (
        lambda: rc.resources.begin_create_or_update_by_id(vnet + "-2", VNET_BODY, api_version=VNET_API).result(),
        lambda: rc.resources.begin_delete_by_id(vnet, api_version=VNET_API).result(),
    ):
        with pytest.raises(HttpResponseError) as e:
            attempt()
        assert e.value.status_code == 403
        assert e.value.error.code == "AuthorizationFailed"
    assert rc.resources.check_existence_by_id(vnet, api_version=VNET_API) is True
