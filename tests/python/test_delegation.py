"""Azure Lighthouse with the real Python SDKs: the default world's delegations, onboarding with the
SDK's poller, each onboarding rule refused with its code, and revocation by each party."""

from __future__ import annotations

import uuid

import pytest
from azure.core.exceptions import HttpResponseError

from conftest import (CONTOSO, FABRIKAM, FABRIKAM_DEV, FABRIKAM_PROD, MSP_TOOLS, NORTHWIND, NORTHWIND_MAIN,
                      ROLE_CONTRIBUTOR, ROLE_OWNER, ROLE_READER, TAILSPIN, TAILSPIN_ANALYTICS, TAILSPIN_PROD,
                      WOODGROVE_GOV, unique_name)

MSP_OPERATORS = "30000000-0000-0000-0000-000000001101"
STORAGE_BLOB_DATA_READER = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"


@pytest.fixture
def managed_services(emulator, creds):
    from azure.mgmt.managedservices import ManagedServicesClient

    def make(name: str):
        return ManagedServicesClient(creds.for_principal(name), base_url=emulator.url)

    return make


def definition(role: str = ROLE_READER, managed_by: str = CONTOSO) -> dict:
    return {"properties": {"registration_definition_name": "Contoso MSP - pytest offer",
                           "description": "onboarded by pytest", "managed_by_tenant_id": managed_by,
                           "authorizations": [{"principal_id": MSP_OPERATORS, "principal_id_display_name": "MSP Operators",
                                               "role_definition_id": role}]}}


def test_the_managing_tenant_lists_its_customers_subscriptions(subscription_client, emulator, creds):
    # azure-mgmt-subscription 3.x speaks 2016-06-01, whose model has no tenantId: ids through the SDK…
    subs = [s.subscription_id for s in subscription_client("msp-automation").subscriptions.list()]
    assert subs == [MSP_TOOLS, FABRIKAM_PROD, NORTHWIND_MAIN, TAILSPIN_PROD]
    # …and the tenants through the 2022-12-01 shape az and the JS SDK read
    r = emulator.arm("GET", "/subscriptions?api-version=2022-12-01", creds.token("msp-automation"))
    got = {s["subscriptionId"]: (s["tenantId"], s["managedByTenants"]) for s in r.json()["value"]}
    assert got[FABRIKAM_PROD] == (FABRIKAM, [{"tenantId": CONTOSO}])
    assert got[NORTHWIND_MAIN][0] == NORTHWIND and got[TAILSPIN_PROD][0] == TAILSPIN
    assert got[MSP_TOOLS] == (CONTOSO, [])


def test_delegated_writes_and_the_wrong_tenant(resource_client):
    name = unique_name("rg-alice")
    rg = resource_client("alice", FABRIKAM_PROD).resource_groups.create_or_update(name, {"location": "westeurope"})
    assert rg.properties.provisioning_state == "Succeeded"
    with pytest.raises(HttpResponseError) as e:
        resource_client("alice", FABRIKAM_DEV).resource_groups.create_or_update(name, {"location": "westeurope"})
    assert (e.value.status_code, e.value.error.code) == (401, "InvalidAuthenticationTokenTenant")


def test_bob_reads_rg_managed_but_not_rg_private(resource_client):
    rc = resource_client("bob", NORTHWIND_MAIN)
    assert rc.resource_groups.get("rg-managed").name == "rg-managed"
    with pytest.raises(HttpResponseError) as e:
        rc.resource_groups.get("rg-private")
    assert (e.value.status_code, e.value.error.code) == (403, "AuthorizationFailed")


def test_delegated_grants_are_not_role_assignments(authorization_client):
    ras = list(authorization_client("admin@fabrikam", FABRIKAM_PROD).role_assignments.list_for_subscription())
    assert ras, "the customer's own assignments are listed"
    assert not [a for a in ras if a.principal_id.startswith("30000000-0000-0000-0000-0000000011")]


def test_onboarding_a_new_scope_with_the_sdk_poller(managed_services, resource_client, subscription_client):
    ms = managed_services("admin@fabrikam")
    def_id = str(uuid.uuid4())
    scope = f"subscriptions/{FABRIKAM_DEV}"
    d = ms.registration_definitions.begin_create_or_update(registration_definition_id=def_id, scope=scope, request_body=definition()).result()
    assert d.properties.provisioning_state == "Succeeded"
    assert d.properties.managee_tenant_id == FABRIKAM
    assign_id = str(uuid.uuid4())
    a = ms.registration_assignments.begin_create_or_update(
        f"{scope}/resourceGroups/rg-dev", assign_id,
        {"properties": {"registration_definition_id": d.id}}).result()
    assert a.properties.provisioning_state == "Succeeded"
    # the provider's principals now read rg-dev, and only read it
    assert resource_client("msp-automation", FABRIKAM_DEV).resource_groups.get("rg-dev").name == "rg-dev"
    with pytest.raises(HttpResponseError) as e:
        resource_client("msp-automation", FABRIKAM_DEV).resource_groups.create_or_update("rg-dev", {"location": "westeurope"})
    assert e.value.error.code == "AuthorizationFailed"
    assert FABRIKAM_DEV in {s.subscription_id for s in subscription_client("msp-automation").subscriptions.list()}
    listed = list(ms.registration_assignments.list(scope, expand_registration_definition=True))
    mine = [x for x in listed if x.name == assign_id]
    assert mine and mine[0].properties.registration_definition.properties.managed_by_tenant_id == CONTOSO
    # and the customer revokes it
    ms.registration_assignments.begin_delete(f"{scope}/resourceGroups/rg-dev", assign_id).result()
    with pytest.raises(HttpResponseError) as e:
        resource_client("msp-automation", FABRIKAM_DEV).resource_groups.get("rg-dev")
    assert e.value.error.code == "InvalidAuthenticationTokenTenant"
    ms.registration_definitions.delete(registration_definition_id=def_id, scope=scope)


@pytest.mark.parametrize("role,needle", [
    (ROLE_OWNER, "restricted for registration"),
    (STORAGE_BLOB_DATA_READER, "with data actions not allowed"),
    ("e5e2a7ff-d759-4cd2-bb51-3152d37e2eb1", "because of restricted actions"),
    ("18d7d88d-d35e-4fb5-a5c3-7773c20a72d9", "delegatedRoleDefinitionIds"),
])
def test_each_role_rule_is_refused(managed_services, role, needle):
    with pytest.raises(HttpResponseError) as e:
        managed_services("admin@fabrikam").registration_definitions.begin_create_or_update(
            registration_definition_id=str(uuid.uuid4()), scope=f"subscriptions/{FABRIKAM_DEV}",
            request_body=definition(role)).result()
    assert (e.value.status_code, e.value.error.code) == (400, "InvalidRegistrationDefinitionCreateRequest")
    assert needle in e.value.error.message


def test_tenant_cloud_and_databricks_rules(managed_services):
    with pytest.raises(HttpResponseError) as e:
        managed_services("admin@fabrikam").registration_definitions.begin_create_or_update(
            registration_definition_id=str(uuid.uuid4()), scope=f"subscriptions/{FABRIKAM_DEV}", request_body=definition(managed_by=FABRIKAM)).result()
    assert "as ManagedByTenantId" in e.value.error.message
    with pytest.raises(HttpResponseError) as e:
        managed_services("admin@woodgrove").registration_definitions.begin_create_or_update(
            registration_definition_id=str(uuid.uuid4()), scope=f"subscriptions/{WOODGROVE_GOV}", request_body=definition()).result()
    assert e.value.error.code == "InvalidRegistrationDefinitionCreateRequest" and "national cloud" in e.value.error.message
    with pytest.raises(HttpResponseError) as e:
        managed_services("admin@tailspin").registration_definitions.begin_create_or_update(
            registration_definition_id=str(uuid.uuid4()), scope=f"subscriptions/{TAILSPIN_ANALYTICS}", request_body=definition()).result()
    assert "Databricks" in e.value.error.message
    with pytest.raises(HttpResponseError) as e:
        managed_services("fabrikam-ci").registration_definitions.begin_create_or_update(
            registration_definition_id=str(uuid.uuid4()), scope=f"subscriptions/{FABRIKAM_DEV}", request_body=definition()).result()
    assert (e.value.status_code, e.value.error.code) == (403, "AuthorizationFailed")


def test_revocation_by_the_provider_needs_the_delete_role(managed_services, resource_client, emulator):
    scope = f"subscriptions/{FABRIKAM_PROD}"
    assignment = "60000000-0000-0000-0000-000000002001"
    with pytest.raises(HttpResponseError) as e:
        managed_services("alice").registration_assignments.begin_delete(scope, assignment).result()
    assert e.value.error.code == "AuthorizationFailed"
    managed_services("msp-automation").registration_assignments.begin_delete(scope, assignment).result()
    with pytest.raises(HttpResponseError) as e:
        resource_client("alice", FABRIKAM_PROD).resource_groups.get("rg-web")
    assert e.value.error.code == "InvalidAuthenticationTokenTenant"
    emulator.reset()


def test_revocation_by_the_customer(managed_services, subscription_client, emulator):
    managed_services("admin@fabrikam").registration_assignments.begin_delete(
        f"subscriptions/{FABRIKAM_PROD}", "60000000-0000-0000-0000-000000002001").result()
    subs = {s.subscription_id for s in subscription_client("msp-automation").subscriptions.list()}
    assert FABRIKAM_PROD not in subs
    emulator.reset()
