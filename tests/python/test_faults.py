"""Fault injection (`/_emulator/faults`) seen by the Python SDK: a long-running operation stuck
InProgress for N polls then Failed (the poller raises the injected error) or Succeeded; an injected
503 and a dropped connection that the SDK's retry policy rides out; every fault marked in
x-ms-emulator-decision."""

import time

import pytest
from azure.core.exceptions import HttpResponseError

from conftest import FABRIKAM_PROD, unique_name


def add_rule(emulator, rule) -> dict:
    r = emulator.admin("POST", "/_emulator/faults", json=rule)
    assert r.status_code == 201, r.text
    return r.json()


def rule_hits(emulator, rule_id) -> int:
    for r in emulator.admin("GET", "/_emulator/faults").json()["value"]:
        if r["id"] == rule_id:
            return r["hits"]
    raise AssertionError(f"no rule {rule_id}")


@pytest.fixture
def rc(resource_client):
    return resource_client("fabrikam-ci", FABRIKAM_PROD)


@pytest.fixture(autouse=True)
def clear_faults(emulator):
    yield
    assert emulator.admin("DELETE", "/_emulator/faults").status_code == 204


def test_the_sdk_poller_is_stuck_in_progress_then_fails(emulator, rc):
    name = unique_name("rg-stuck")
    rc.resource_groups.create_or_update(name, {"location": "westeurope"})
    rule = add_rule(emulator, {
        "match": {"method": "DELETE", "path": f"*/resourcegroups/{name}"},
        "effect": {"kind": "lro", "polls": 2, "result": "Failed", "code": "ResourceGroupDeletionBlocked",
                   "message": "Deletion of resource group is blocked (injected)."},
        "count": 1,
    })
    poller = rc.resource_groups.begin_delete(name)
    # the first poll answers InProgress (and Retry-After: 1), so the poller is not done for a while
    deadline = time.monotonic() + 30
    while rule_hits(emulator, rule["id"]) < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert poller.status() == "InProgress"
    assert not poller.done()
    with pytest.raises(HttpResponseError) as err:
        poller.result()
    assert err.value.error.code == "ResourceGroupDeletionBlocked"
    assert "blocked (injected)" in err.value.error.message
    assert poller.status() == "Failed"
    # the delete never ran
    assert rc.resource_groups.check_existence(name) is True
    rc.resource_groups.begin_delete(name, polling_interval=0.2).result()


def test_a_poller_stuck_then_succeeding_returns_the_resource(emulator, rc):
    name = unique_name("vnet")
    rid = f"/subscriptions/{FABRIKAM_PROD}/resourceGroups/rg-web/providers/Microsoft.Network/virtualNetworks/{name}"
    add_rule(emulator, {"match": {"method": "PUT", "path": f"*/virtualNetworks/{name}"},
                        "effect": {"kind": "lro", "polls": 2, "result": "Succeeded"}})
    poller = rc.resources.begin_create_or_update_by_id(
        rid, {"location": "westeurope", "properties": {"addressSpace": {"addressPrefixes": ["10.9.0.0/16"]}}},
        api_version="2024-05-01")
    assert not poller.done()
    vnet = poller.result()
    assert vnet.id == rid
    assert poller.status() == "Succeeded"


def test_an_injected_503_and_a_dropped_connection_are_retried(emulator, rc, creds):
    err = add_rule(emulator, {"match": {"method": "GET", "path": "*/resourcegroups/rg-web"},
                              "effect": {"kind": "error", "status": 503, "code": "ServiceUnavailable",
                                         "message": "Injected outage."}, "count": 2})
    assert rc.resource_groups.get("rg-web").name == "rg-web"
    assert rule_hits(emulator, err["id"]) == 2

    drop = add_rule(emulator, {"match": {"path": "*/resourcegroups/rg-data"}, "effect": {"kind": "drop"}, "count": 1})
    assert rc.resource_groups.get("rg-data").name == "rg-data"
    assert rule_hits(emulator, drop["id"]) == 1

    # not retried: the error as ARM would send it, marked as injected
    add_rule(emulator, {"match": {"method": "GET", "path": "*/resourcegroups/rg-app*"},
                        "effect": {"kind": "error", "status": 409, "code": "Conflict", "message": "Injected conflict."}})
    with pytest.raises(HttpResponseError) as e:
        rc.resource_groups.get("rg-apps")
    assert e.value.status_code == 409
    assert e.value.error.code == "Conflict"
    assert e.value.response.headers["x-ms-emulator-decision"].startswith("fault injected; rule ")
