"""Azure Policy effects with the real SDKs: the Lighthouse policy samples (tests/templates/lighthouse,
unmodified) deployed with azure-mgmt-resource-deployments, then their effect on writes made with
azure-mgmt-storage, azure-mgmt-managedservices, azure-mgmt-compute and azure-mgmt-network — as the
customer admin and as alice through the delegation."""

from __future__ import annotations

import json
import re

import pytest
from azure.core.exceptions import HttpResponseError

from conftest import CONTOSO, FABRIKAM_DEV, FABRIKAM_PROD, NORTHWIND, REPO_ROOT

SAMPLES = REPO_ROOT / "tests/templates/lighthouse/templates"
MSP_OPERATORS = "30000000-0000-0000-0000-000000001101"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"


def load(rel: str) -> dict:
    # one sample carries // comments (ARM reads JSONC): strip whole-line comments only
    text = (SAMPLES / rel).read_text()
    return json.loads(re.sub(r"(?m)^\s*//.*$", "", text))


def body(template: dict, parameters: dict) -> dict:
    return {"location": "westeurope",
            "properties": {"mode": "Incremental", "template": template, "parameters": parameters}}


@pytest.fixture
def deployments_client(emulator, creds):
    from azure.mgmt.resource.deployments import DeploymentsMgmtClient

    return lambda name, sub: DeploymentsMgmtClient(creds.for_principal(name), sub, base_url=emulator.url)


@pytest.fixture
def storage_client(emulator, creds):
    from azure.mgmt.storage import StorageManagementClient

    return lambda name, sub: StorageManagementClient(creds.for_principal(name), sub, base_url=emulator.url)


def deploy_sub(dc, name: str, template: dict, parameters: dict):
    return dc.deployments.begin_create_or_update_at_subscription_scope(name, body(template, parameters)).result()


def storage_params(https: bool) -> dict:
    # the REST body (a dict is sent as written)
    return {"location": "westeurope", "kind": "StorageV2", "sku": {"name": "Standard_LRS"},
            "properties": {"supportsHttpsTrafficOnly": https}}


def test_enforce_https_storage_refuses_admin_and_the_provider(emulator, deployments_client, storage_client):
    emulator.reset()
    got = deploy_sub(deployments_client("admin@fabrikam", FABRIKAM_PROD), "https",
                     load("policy-enforce-https-storage/enforceHttpsStorage.json"), {})
    assert got.properties.provisioning_state == "Succeeded"
    for who in ("admin@fabrikam", "alice"):
        sc = storage_client(who, FABRIKAM_PROD)
        with pytest.raises(HttpResponseError) as e:
            sc.storage_accounts.begin_create("rg-data", f"plain{who[:5]}", storage_params(False)).result()
        assert e.value.status_code == 403
        assert e.value.error.code == "RequestDisallowedByPolicy"
        assert "was disallowed by policy. Policy identifiers:" in e.value.error.message
        assert "enforce-https-storage-assignment" in e.value.error.message
        info = e.value.error.additional_info[0]
        assert info.type == "PolicyViolation"
        assert info.info["policyDefinitionEffect"] == "Deny"
        ok = sc.storage_accounts.begin_create("rg-data", f"https{who[:5]}", storage_params(True)).result()
        assert ok.enable_https_traffic_only is True


def test_allow_certain_managing_tenants(emulator, deployments_client, creds):
    from azure.mgmt.managedservices import ManagedServicesClient

    emulator.reset()
    got = deploy_sub(deployments_client("admin@fabrikam", FABRIKAM_DEV), "allow",
                     load("policy-allow-certain-managing-tenants/policyAllowCertainTenantIds.json"),
                     {"listOfAllowedTenants": {"value": [CONTOSO]}})
    assert got.properties.provisioning_state == "Succeeded"
    ms = ManagedServicesClient(creds.for_principal("admin@fabrikam"), base_url=emulator.url)
    scope = f"subscriptions/{FABRIKAM_DEV}"

    def definition(tenant: str) -> dict:
        return {"properties": {"registrationDefinitionName": "ops", "managedByTenantId": tenant,
                               "authorizations": [{"principalId": MSP_OPERATORS,
                                                   "roleDefinitionId": CONTRIBUTOR}]}}

    with pytest.raises(HttpResponseError) as e:
        ms.registration_definitions.begin_create_or_update(
            "52000000-0000-0000-0000-000000000001", scope, definition(NORTHWIND)).result()
    assert (e.value.status_code, e.value.error.code) == (403, "RequestDisallowedByPolicy")
    ok = ms.registration_definitions.begin_create_or_update(
        "52000000-0000-0000-0000-000000000002", scope, definition(CONTOSO)).result()
    assert ok.properties.managed_by_tenant_id == CONTOSO


def test_add_or_replace_tag_tags_a_vm_on_write(emulator, deployments_client, creds):
    from azure.mgmt.compute import ComputeManagementClient

    emulator.reset()
    got = deploy_sub(deployments_client("admin@fabrikam", FABRIKAM_PROD), "tags",
                     load("policy-add-or-replace-tag/addOrReplaceTag.json"), {})
    assert got.properties.provisioning_state == "Succeeded"
    cc = ComputeManagementClient(creds.for_principal("alice"), FABRIKAM_PROD, base_url=emulator.url)
    vm = cc.virtual_machines.begin_update("rg-web", "vm-web-01", {"tags": {"owner": "alice"}}).result()
    assert vm.tags == {"owner": "alice", "managedByTenant": "Lighthouse"}


def test_an_initiative_assigned_denies_its_location(emulator, deployments_client, creds):
    from azure.mgmt.network import NetworkManagementClient
    from azure.mgmt.resource.policy import PolicyClient

    emulator.reset()
    dc = deployments_client("admin@fabrikam", FABRIKAM_PROD)
    got = deploy_sub(dc, "initiative", load("policy-initiative/armPolicyInitiative.json"), {
        "policyInitiativeName": {"value": "restrictive"}, "deniedLocation": {"value": "eastus"},
        "deniedResource": {"value": "Microsoft.Network/publicIPAddresses"}})
    assert got.properties.provisioning_state == "Succeeded"
    pc = PolicyClient(creds.for_principal("admin@fabrikam"), FABRIKAM_PROD, base_url=emulator.url)
    sub = f"/subscriptions/{FABRIKAM_PROD}"
    pc.policy_assignments.create(sub, "restrictive", {"properties": {
        "policyDefinitionId": f"{sub}/providers/Microsoft.Authorization/policySetDefinitions/restrictive"}})
    nc = NetworkManagementClient(creds.for_principal("alice"), FABRIKAM_PROD, base_url=emulator.url)
    vnet = {"location": "eastus", "properties": {"addressSpace": {"addressPrefixes": ["10.5.0.0/16"]}}}
    with pytest.raises(HttpResponseError) as e:
        nc.virtual_networks.begin_create_or_update("rg-web", "vnet-east", vnet).result()
    assert e.value.error.code == "RequestDisallowedByPolicy"
    assert '"policySetDefinition":{"name":"Restrictive Policy Initiative"' in e.value.error.message
    vnet["location"] = "westeurope"
    assert nc.virtual_networks.begin_create_or_update("rg-web", "vnet-west", vnet).result().name == "vnet-west"
