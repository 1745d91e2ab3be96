"""Resource group lifecycle through azure-mgmt-resource's ResourceManagementClient."""

import time

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from conftest import FABRIKAM_DEV, FABRIKAM_PROD, unique_name


@pytest.fixture
def rc(resource_client):
    return resource_client("fabrikam-ci", FABRIKAM_DEV)


def test_resource_group_create_read_tag_list_delete(rc):
    name = unique_name("rg-py")
    created = rc.resource_groups.create_or_update(name, {"location": "westeurope", "tags": {"env": "test"}})
    assert created.name == name
    assert created.id == f"/subscriptions/{FABRIKAM_DEV}/resourceGroups/{name}"
    assert created.type == "Microsoft.Resources/resourceGroups"
    assert created.location == "westeurope"
    assert created.tags == {"env": "test"}
    assert created.properties.provisioning_state == "Succeeded"

    got = rc.resource_groups.get(name)
    assert got.id == created.id
    assert got.tags == {"env": "test"}
    assert rc.resource_groups.check_existence(name) is True

    patched = rc.resource_groups.update(name, {"tags": {"env": "test", "owner": "pytest"}})
    assert patched.tags == {"env": "test", "owner": "pytest"}
    assert patched.location == "westeurope"
    assert rc.resource_groups.get(name).tags == {"env": "test", "owner": "pytest"}

    names = {g.name for g in rc.resource_groups.list()}
    assert name in names
    assert "rg-dev" in names  # from the default world

    rc.resource_groups.begin_delete(name, polling_interval=0.2).result()
    assert rc.resource_groups.check_existence(name) is False
    assert name not in {g.name for g in rc.resource_groups.list()}


def test_create_existing_resource_group_answers_200_and_replaces_tags(rc, emulator, creds):
    name = unique_name("rg-py")
    token = creds.token("fabrikam-ci")
    path = f"/subscriptions/{FABRIKAM_DEV}/resourcegroups/{name}?api-version=2025-04-01"
    first = emulator.arm("PUT", path, token=token, json={"location": "westeurope", "tags": {"a": "1"}})
    assert first.status_code == 201, first.text
    again = emulator.arm("PUT", path, token=token, json={"location": "westeurope", "tags": {"b": "2"}})
    assert again.status_code == 200, again.text
    assert again.json()["tags"] == {"b": "2"}
    rc.resource_groups.begin_delete(name, polling_interval=0.2).result()


def test_resource_group_delete_is_a_202_long_running_operation(emulator, creds, rc):
    name = unique_name("rg-py")
    rc.resource_groups.create_or_update(name, {"location": "westeurope"})
    token = creds.token("fabrikam-ci")
    r = emulator.arm("DELETE", f"/subscriptions/{FABRIKAM_DEV}/resourcegroups/{name}?api-version=2025-04-01",
                     token=token)
    assert r.status_code == 202, r.text
    assert r.headers.get("Location", "").startswith(emulator.url), r.headers
    assert "Retry-After" in r.headers
    # Follow the Location monitor as ARMPolling does: 202 while running, 200 when done.
    for _ in range(100):
        poll = emulator.arm("GET", r.headers["Location"][len(emulator.url):], token=token)
        assert poll.status_code in (200, 202), poll.text
        if poll.status_code == 200:
            break
        time.sleep(0.2)
    assert poll.status_code == 200
    assert rc.resource_groups.check_existence(name) is False


def test_get_missing_resource_group_is_404_resource_group_not_found(rc):
    with pytest.raises(ResourceNotFoundError) as e:
        rc.resource_groups.get("rg-does-not-exist")
    assert e.value.status_code == 404
    assert e.value.error.code == "ResourceGroupNotFound"


def test_resource_group_names_are_case_insensitive(rc):
    name = unique_name("rg-Case")
    rc.resource_groups.create_or_update(name, {"location": "westeurope"})
    assert rc.resource_groups.get(name.upper()).name == name
    assert rc.resource_groups.check_existence(name.lower()) is True
    rc.resource_groups.begin_delete(name, polling_interval=0.2).result()


def test_default_world_resource_groups_are_listed(resource_client):
    names = {g.name for g in resource_client("fabrikam-ci", FABRIKAM_PROD).resource_groups.list()}
    assert {"rg-web", "rg-data"} <= names


def test_resource_group_without_location_is_refused(rc):
    with pytest.raises(HttpResponseError) as e:
        rc.resource_groups.create_or_update(unique_name("rg-py"), {"tags": {}})
    assert e.value.status_code == 400
    assert e.value.error.code == "LocationRequired"
