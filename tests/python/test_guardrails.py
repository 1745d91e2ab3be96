"""Guardrails with the real SDKs: management locks (azure-mgmt-resource-locks) stop the customer and
not the service provider; the managed application's system deny assignment (azure-mgmt-authorization,
2022-04-01) stops everyone, reads allowed, and cannot be written through the API; managing locks needs
Microsoft.Authorization/locks/*; and POST /_emulator/explain names the reason for each decision."""

from __future__ import annotations

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from conftest import FABRIKAM_PROD, NORTHWIND_MAIN, TAILSPIN_PROD, assert_arm_error, principal, unique_name

VM_API = "2024-03-01"
NET_API = "2023-09-01"
RG_API = "2024-11-01"

RG_MANAGED = f"/subscriptions/{NORTHWIND_MAIN}/resourceGroups/rg-managed"
VM_APP = f"{RG_MANAGED}/providers/Microsoft.Compute/virtualMachines/vm-app-01"
RG_FROZEN = f"/subscriptions/{TAILSPIN_PROD}/resourceGroups/rg-frozen"
VNET_FROZEN = f"{RG_FROZEN}/providers/Microsoft.Network/virtualNetworks/vnet-frozen"
MRG = f"/subscriptions/{TAILSPIN_PROD}/resourceGroups/mrg-tailspin-app"
VM_APPLIANCE = f"{MRG}/providers/Microsoft.Compute/virtualMachines/vm-appliance"
SYSTEM_DENY = "80000000-0000-0000-0000-000000004001"


@pytest.fixture
def lock_client(emulator, creds):
    from azure.mgmt.resource.locks import ManagementLockClient

    def make(name: str, subscription: str):
        return ManagementLockClient(creds.for_principal(name), subscription, base_url=emulator.url)

    return make


@pytest.fixture
def explain(emulator):
    def ask(who: str, method: str, url: str) -> dict:
        p = principal(who)  # users by sign-in name, service principals by object id
        r = emulator.admin("POST", "/_emulator/explain",
                           json={"principal": p.login if p.kind == "user" else p.object_id,
                                 "method": method, "url": url})
        assert r.status_code == 200, r.text
        return r.json()

    return ask


def kinds(x: dict) -> list[tuple[str, str]]:
    return [(r["kind"], r["effect"]) for r in x["reasons"]]


def refused(fn, status: int, code: str) -> HttpResponseError:
    with pytest.raises(HttpResponseError) as e:
        fn()
    assert (e.value.status_code, e.value.error.code) == (status, code), e.value.message
    return e.value


# -- CanNotDelete on rg-managed (Northwind) ------------------------------------------------------
def test_can_not_delete_lock_stops_admin_at_northwind_not_alice(emulator, resource_client, lock_client, explain):
    try:
        locks = list(lock_client("admin@northwind", NORTHWIND_MAIN)
                     .management_locks.list_at_resource_group_level("rg-managed"))
        assert [(l.name, l.level) for l in locks] == [("do-not-delete", "CanNotDelete")]

        admin = resource_client("admin@northwind", NORTHWIND_MAIN)
        err = refused(lambda: admin.resources.begin_delete_by_id(VM_APP, api_version=VM_API).result(),
                      409, "ScopeLocked")
        assert RG_MANAGED in err.error.message and "delete" in err.error.message
        # CanNotDelete lets the customer change it
        upd = admin.resources.begin_update_by_id(VM_APP, api_version=VM_API,
                                                 parameters={"tags": {"owner": "northwind"}}).result()
        assert upd.tags["owner"] == "northwind"

        x = explain("admin@northwind.onmicrosoft.com", "DELETE", f"{VM_APP}?api-version={VM_API}")
        assert x["decision"] == "denied"
        assert ("roleAssignment", "allows") in kinds(x)
        lock = [r for r in x["reasons"] if r["kind"] == "lock"]
        assert [(r["effect"], r["name"], r["level"]) for r in lock] == [("denies", "do-not-delete", "CanNotDelete")]

        x = explain("alice@contosomsp.onmicrosoft.com", "DELETE", f"{VM_APP}?api-version={VM_API}")
        assert x["decision"] == "allowed"
        assert ("delegatedAuthorization", "allows") in kinds(x)
        assert ("lock", "bypassed") in kinds(x)
        grant = next(r for r in x["reasons"] if r["kind"] == "delegatedAuthorization")
        assert grant["role"] == "Virtual Machine Contributor"

        # alice acts through the delegation: the lock does not stop her
        resource_client("alice", NORTHWIND_MAIN).resources.begin_delete_by_id(VM_APP, api_version=VM_API).result()
        with pytest.raises(ResourceNotFoundError):
            admin.resources.get_by_id(VM_APP, api_version=VM_API)
    finally:
        emulator.reset()


# -- ReadOnly on rg-frozen (Tailspin) ------------------------------------------------------------
def test_read_only_lock_stops_admin_at_tailspin_writes_and_actions_not_alice(
        emulator, creds, resource_client, explain):
    try:
        admin = resource_client("admin@tailspin", TAILSPIN_PROD)
        vnet = admin.resources.get_by_id(VNET_FROZEN, api_version=NET_API)
        assert vnet.name == "vnet-frozen"
        body = {"location": vnet.location, "tags": {"changed": "yes"}, "properties": vnet.properties}
        err = refused(lambda: admin.resources.begin_create_or_update_by_id(
            VNET_FROZEN, api_version=NET_API, parameters=body).result(), 409, "ScopeLocked")
        assert f"following scope(s) are locked: '{RG_FROZEN}'" in err.error.message
        new_vnet = f"{RG_FROZEN}/providers/Microsoft.Network/virtualNetworks/{unique_name('vnet')}"
        refused(lambda: admin.resources.begin_create_or_update_by_id(
            new_vnet, api_version=NET_API, parameters={"location": "westeurope"}).result(), 409, "ScopeLocked")
        refused(lambda: admin.resource_groups.begin_delete("rg-frozen").result(), 409, "ScopeLocked")
        # ReadOnly blocks POST actions too
        action = f"{VNET_FROZEN}/checkIpAddressAvailability?api-version={NET_API}&ipAddress=10.0.0.4"
        assert_arm_error(emulator.arm("POST", action, creds.token("admin@tailspin")), 409, "ScopeLocked")

        x = explain("admin@tailspin.onmicrosoft.com", "PUT", f"{VNET_FROZEN}?api-version={NET_API}")
        assert x["decision"] == "denied"
        assert ("lock", "denies") in kinds(x)
        assert next(r for r in x["reasons"] if r["kind"] == "lock")["name"] == "freeze"
        x = explain("admin@tailspin.onmicrosoft.com", "POST", action)
        assert x["decision"] == "denied" and ("lock", "denies") in kinds(x)

        # alice (Contributor through the delegation) is not stopped
        alice = resource_client("alice", TAILSPIN_PROD)
        done = alice.resources.begin_create_or_update_by_id(VNET_FROZEN, api_version=NET_API, parameters=body).result()
        assert done.tags["changed"] == "yes"
        assert alice.resources.begin_create_or_update_by_id(
            new_vnet, api_version=NET_API, parameters={"location": "westeurope"}).result().name
        r = emulator.arm("POST", action, creds.token("alice"))
        assert r.status_code == 200, r.text
        x = explain("alice@contosomsp.onmicrosoft.com", "PUT", f"{VNET_FROZEN}?api-version={NET_API}")
        assert x["decision"] == "allowed"
        assert ("delegatedAuthorization", "allows") in kinds(x) and ("lock", "bypassed") in kinds(x)
        x = explain("alice@contosomsp.onmicrosoft.com", "POST", action)
        assert x["decision"] == "allowed" and ("lock", "bypassed") in kinds(x)
    finally:
        emulator.reset()


# -- The managed application's system deny assignment on mrg-tailspin-app ------------------------
@pytest.mark.parametrize("who", ["alice", "admin@tailspin"])
def test_deny_assignment_stops_writes_in_mrg_not_reads(emulator, resource_client, who, explain):
    rc = resource_client(who, TAILSPIN_PROD)
    assert rc.resources.get_by_id(VM_APPLIANCE, api_version=VM_API).name == "vm-appliance"
    assert "vm-appliance" in {r.name for r in rc.resources.list_by_resource_group("mrg-tailspin-app")}
    assert rc.resource_groups.get("mrg-tailspin-app").name == "mrg-tailspin-app"

    err = refused(lambda: rc.resources.begin_delete_by_id(VM_APPLIANCE, api_version=VM_API).result(),
                  403, "DenyAssignmentAuthorizationFailed")
    assert "has permission to perform action 'Microsoft.Compute/virtualMachines/delete'" in err.error.message
    assert f"because of the deny assignment with name 'System deny assignment created by managed application " \
        f"/subscriptions/{TAILSPIN_PROD}/resourceGroups/rg-apps/providers/Microsoft.Solutions/applications/tailspin-app' " \
        f"and Id '{SYSTEM_DENY}' at scope '{MRG}'".lower() in err.error.message.lower()
    new_vnet = f"{MRG}/providers/Microsoft.Network/virtualNetworks/{unique_name('vnet')}"
    refused(lambda: rc.resources.begin_create_or_update_by_id(
        new_vnet, api_version=NET_API, parameters={"location": "westeurope"}).result(),
        403, "DenyAssignmentAuthorizationFailed")
    refused(lambda: rc.resources.begin_update_by_id(
        VM_APPLIANCE, api_version=VM_API, parameters={"tags": {"x": "y"}}).result(),
        403, "DenyAssignmentAuthorizationFailed")
    assert rc.resources.get_by_id(VM_APPLIANCE, api_version=VM_API).tags in (None, {}) or \
        "x" not in rc.resources.get_by_id(VM_APPLIANCE, api_version=VM_API).tags

    login = principal(who).login
    x = explain(login, "DELETE", f"{VM_APPLIANCE}?api-version={VM_API}")
    assert x["decision"] == "denied"
    deny = [r for r in x["reasons"] if r["kind"] == "denyAssignment"]
    assert len(deny) == 1, x
    assert deny[0]["id"].lower() == f"{MRG}/providers/Microsoft.Authorization/denyAssignments/{SYSTEM_DENY}".lower()
    assert deny[0]["name"].startswith("System deny assignment created by managed application")
    x = explain(login, "GET", f"{VM_APPLIANCE}?api-version={VM_API}")
    assert x["decision"] == "allowed"
    assert kinds(x)[-1] == ("delegatedAuthorization" if who == "alice" else "roleAssignment", "allows")


def test_deny_assignments_are_listed_and_read_by_id(authorization_client):
    for who in ("admin@tailspin", "alice"):
        auth = authorization_client(who, TAILSPIN_PROD)
        das = list(auth.deny_assignments.list_for_resource_group("mrg-tailspin-app"))
        assert [d.name for d in das] == [SYSTEM_DENY], who
        d = das[0]
        assert d.is_system_protected is True
        assert d.scope.lower() == MRG.lower()
        assert [(p.id, p.type) for p in d.principals] == [("00000000-0000-0000-0000-000000000000", "SystemDefined")]
        assert d.permissions[0].actions == ["*"]
        assert d.permissions[0].not_actions == ["*/read"]
        got = auth.deny_assignments.get_by_id(d.id)
        assert (got.id, got.name, got.deny_assignment_name) == (d.id, d.name, d.deny_assignment_name)
    # none elsewhere in tailspin-prod's groups
    assert not list(authorization_client("admin@tailspin", TAILSPIN_PROD)
                    .deny_assignments.list_for_resource_group("rg-frozen"))


def test_nobody_writes_a_deny_assignment_through_the_api(emulator, creds, authorization_client):
    das = list(authorization_client("admin@tailspin", TAILSPIN_PROD).deny_assignments.list_for_resource_group("mrg-tailspin-app"))
    body = {"properties": {"denyAssignmentName": "mine", "permissions": [{"actions": ["*"]}],
                           "principals": [{"id": "00000000-0000-0000-0000-000000000000", "type": "SystemDefined"}]}}
    token = creds.token("admin@tailspin")
    put = f"{MRG}/providers/Microsoft.Authorization/denyAssignments/90000000-0000-0000-0000-000000000001?api-version=2022-04-01"
    r = emulator.arm("PUT", put, token, json=body)
    assert r.status_code == 405, r.text
    assert r.json()["Message"] == "The requested resource does not support http method 'PUT'."
    r = emulator.arm("DELETE", f"{das[0].id}?api-version=2022-04-01", token)
    assert r.status_code == 405, r.text
    # still there
    assert [d.name for d in authorization_client("admin@tailspin", TAILSPIN_PROD)
            .deny_assignments.list_for_resource_group("mrg-tailspin-app")] == [SYSTEM_DENY]


# -- Managing locks needs Microsoft.Authorization/locks/* -----------------------------------------
def test_locks_are_managed_by_owners_not_contributors(emulator, lock_client, resource_client, explain):
    from azure.mgmt.resource.locks.models import ManagementLockObject

    name = unique_name("keep")
    lock_url = f"/subscriptions/{FABRIKAM_PROD}/resourceGroups/rg-web/providers/Microsoft.Authorization/locks/{name}?api-version=2020-05-01"
    try:
        # Contributor (fabrikam-ci), and alice through the delegation, cannot create one
        for who in ("fabrikam-ci", "alice"):
            err = refused(lambda: lock_client(who, FABRIKAM_PROD).management_locks.create_or_update_at_resource_group_level(
                "rg-web", name, ManagementLockObject(level="CanNotDelete")), 403, "AuthorizationFailed")
            assert "Microsoft.Authorization/locks/write" in err.error.message
        x = explain("fabrikam-ci", "PUT", lock_url)
        assert x["decision"] == "denied" and kinds(x)[0] == ("noGrant", "denies")
        assert ("roleAssignment", "doesNotCover") in kinds(x)
        x = explain("alice@contosomsp.onmicrosoft.com", "PUT", lock_url)
        assert x["decision"] == "denied" and ("noGrant", "denies") in kinds(x)
        assert ("delegatedAuthorization", "doesNotCover") in kinds(x)

        # the Owner creates it with the SDK; it stops the owner's own delete of the group
        admin = lock_client("admin@fabrikam", FABRIKAM_PROD)
        x = explain("admin@fabrikam.onmicrosoft.com", "PUT", lock_url)
        assert x["decision"] == "allowed" and kinds(x)[0] == ("roleAssignment", "allows")
        made = admin.management_locks.create_or_update_at_resource_group_level(
            "rg-web", name, ManagementLockObject(level="CanNotDelete", notes="keep it"))
        assert (made.name, made.level, made.notes) == (name, "CanNotDelete", "keep it")
        assert made.id.lower() == lock_url.split("?")[0].lower()
        assert name in {l.name for l in admin.management_locks.list_at_resource_group_level("rg-web")}
        assert admin.management_locks.get_at_resource_group_level("rg-web", name).level == "CanNotDelete"
        refused(lambda: resource_client("admin@fabrikam", FABRIKAM_PROD).resource_groups.begin_delete("rg-web").result(),
                409, "ScopeLocked")

        # deleting it: Contributor and the delegated provider refused, the Owner allowed
        for who in ("fabrikam-ci", "alice"):
            err = refused(lambda: lock_client(who, FABRIKAM_PROD).management_locks.delete_at_resource_group_level(
                "rg-web", name), 403, "AuthorizationFailed")
            assert "Microsoft.Authorization/locks/delete" in err.error.message
        admin.management_locks.delete_at_resource_group_level("rg-web", name)
        assert name not in {l.name for l in admin.management_locks.list_at_resource_group_level("rg-web")}
        # the world's own lock cannot be removed by the customer's Contributor either
        refused(lambda: lock_client("northwind-ci", NORTHWIND_MAIN).management_locks.delete_at_resource_group_level(
            "rg-managed", "do-not-delete"), 403, "AuthorizationFailed")
    finally:
        emulator.reset()


def test_removing_the_lock_lets_the_customer_delete(emulator, lock_client, resource_client):
    """The rule the other way: without do-not-delete, admin@northwind deletes vm-app-01."""
    try:
        lock_client("admin@northwind", NORTHWIND_MAIN).management_locks.delete_at_resource_group_level(
            "rg-managed", "do-not-delete")
        admin = resource_client("admin@northwind", NORTHWIND_MAIN)
        admin.resources.begin_delete_by_id(VM_APP, api_version=VM_API).result()
        with pytest.raises(ResourceNotFoundError):
            admin.resources.get_by_id(VM_APP, api_version=VM_API)
    finally:
        emulator.reset()
