"""Onboarding by ARM template with the real Python deployments client (azure-mgmt-resource-deployments,
split out of azure-mgmt-resource 26): every Azure Lighthouse sample onboarding template, unmodified,
deployed with its sample parameter file filled with default-world ids, the deployment, its operations
and outputs read back, and the delegation then used by a Contoso MSP principal; a template delegating
Owner fails the way Azure fails it, with the inner error visible."""

from __future__ import annotations

import copy
import json

import pytest
from azure.core.exceptions import HttpResponseError

from conftest import CONTOSO, FABRIKAM_DEV, REPO_ROOT, ROLE_OWNER

TEMPLATES = REPO_ROOT / "tests" / "templates" / "lighthouse" / "templates"
MSP_OPERATORS = "30000000-0000-0000-0000-000000001101"
MSP_READERS = "30000000-0000-0000-0000-000000001102"

# The same (template, parameter file) pairs tests/emulator/deployments.rs deploys.
SAMPLES = [
    ("delegated-resource-management/subscription/subscription.json",
     "delegated-resource-management/subscription/subscription.parameters.json"),
    ("delegated-resource-management/rg/rg.json",
     "delegated-resource-management/rg/rg.parameters.json"),
    ("delegated-resource-management/rg/multi-rg.json",
     "delegated-resource-management/rg/multiple-rg.parameters.json"),
    ("delegated-resource-management-eligible-authorizations/subscription/subscription.json",
     "delegated-resource-management-eligible-authorizations/subscription/subscription.parameters.json"),
    ("delegated-resource-management-eligible-authorizations/subscription/subscription-managing-tenant-approvers.json",
     "delegated-resource-management-eligible-authorizations/subscription/subscription-managing-tenant-approvers.parameters.json"),
    ("delegated-resource-management-eligible-authorizations/rg/rg.json",
     "delegated-resource-management-eligible-authorizations/rg/rg.parameters.json"),
    ("delegated-resource-management-eligible-authorizations/rg/rg-managing-tenant-approvers.json",
     "delegated-resource-management-eligible-authorizations/rg/rg-managing-tenant-approvers.parameters.json"),
    ("delegated-resource-management-eligible-authorizations/rg/multiple-rg.json",
     "delegated-resource-management-eligible-authorizations/rg/multiple-rg.parameters.json"),
    ("delegated-resource-management-eligible-authorizations/rg/multiple-rg-managing-tenant-approvers.json",
     "delegated-resource-management-eligible-authorizations/rg/multiple-rg-managing-tenant-approvers.parameters.json"),
    ("delegated-resource-management-azmigrate/delegatedResourceManagementAzMigrate.json",
     "delegated-resource-management-azmigrate/delegatedResourceManagementAzMigrate.parameters.json"),
    ("marketplace-delegated-resource-management/marketplaceDelegatedResourceManagement.json",
     "marketplace-delegated-resource-management/marketplaceDelegatedResourceManagement.parameters.json"),
]


def load(rel: str) -> dict:
    return json.loads((TEMPLATES / rel).read_text())


def fill(params_file: dict) -> dict:
    """A sample parameter file's `parameters` with the default world's ids: Contoso MSP manages, MSP
    Operators hold the permanent authorizations, MSP Readers the eligible ones and the approvals."""
    p = copy.deepcopy(params_file["parameters"])
    if "managedByTenantId" in p:
        p["managedByTenantId"]["value"] = CONTOSO
    for key, group in (("authorizations", MSP_OPERATORS), ("eligibleAuthorizations", MSP_READERS)):
        for a in (p.get(key) or {}).get("value") or []:
            a["principalId"] = group
            for ap in (a.get("justInTimeAccessPolicy") or {}).get("managedByTenantApprovers") or []:
                ap["principalId"] = MSP_READERS
    return p


def named_rgs(parameters: dict) -> list[str]:
    rgs = []
    if "rgName" in parameters:
        rgs.append(parameters["rgName"]["value"])
    rgs += [r["rgName"] for r in (parameters.get("resourceGroups") or {}).get("value") or []]
    return rgs


@pytest.fixture
def deployments_client(emulator, creds):
    from azure.mgmt.resource.deployments import DeploymentsMgmtClient

    def make(name: str, subscription: str):
        return DeploymentsMgmtClient(creds.for_principal(name), subscription, base_url=emulator.url)

    return make


def body(template: dict, parameters: dict) -> dict:
    return {"location": "westeurope",
            "properties": {"mode": "Incremental", "template": template, "parameters": parameters}}


@pytest.mark.parametrize("tpl,params", SAMPLES, ids=[t for t, _ in SAMPLES])
def test_every_onboarding_sample_deploys_unmodified_and_the_delegation_works(
        emulator, deployments_client, resource_client, tpl, params):
    emulator.reset()  # each sample onboards fabrikam-dev from the initial world
    template, parameters = load(tpl), fill(load(params))
    rgs = named_rgs(parameters)
    admin_rc = resource_client("admin@fabrikam", FABRIKAM_DEV)
    for rg in rgs:  # the resource groups the parameters name must exist, as the samples say
        admin_rc.resource_groups.create_or_update(rg, {"location": "westeurope"})

    dc = deployments_client("admin@fabrikam", FABRIKAM_DEV)
    got = dc.deployments.begin_create_or_update_at_subscription_scope(
        "onboard", body(template, parameters)).result()
    assert got.properties.provisioning_state == "Succeeded", got
    assert got.name == "onboard"
    offer = parameters["mspOfferName"]["value"]
    assert got.properties.outputs["mspOfferName"]["value"] == f"Managed by {offer}"

    # read back: get, list, operations
    again = dc.deployments.get_at_subscription_scope("onboard")
    assert again.properties.provisioning_state == "Succeeded"
    assert again.properties.outputs["mspOfferName"]["value"] == f"Managed by {offer}"
    assert again.properties.parameters["managedByTenantId"]["value"] == CONTOSO
    assert "onboard" in [d.name for d in dc.deployments.list_at_subscription_scope()]
    ops = list(dc.deployment_operations.list_at_subscription_scope("onboard"))
    assert ops, "the deployment lists its operations"
    for op in ops:
        assert op.properties.provisioning_state == "Succeeded", op
    types = {op.properties.target_resource.resource_type for op in ops if op.properties.target_resource}
    assert types & {"Microsoft.ManagedServices/registrationDefinitions", "Microsoft.Resources/deployments"}, types

    # the managing tenant now reaches the delegated scope
    msp = resource_client("msp-automation", FABRIKAM_DEV)
    for rg in rgs or ["rg-dev"]:
        assert msp.resource_groups.get(rg).name == rg
    if rgs:  # only the delegated groups: rg-dev stays out of reach
        with pytest.raises(HttpResponseError) as e:
            msp.resource_groups.get("rg-dev")
        assert (e.value.status_code, e.value.error.code) == (403, "AuthorizationFailed")


def test_a_template_delegating_owner_fails_with_the_inner_error(emulator, deployments_client, resource_client):
    emulator.reset()
    template = load("delegated-resource-management/subscription/subscription.json")
    parameters = fill(load("delegated-resource-management/subscription/subscription.parameters.json"))
    parameters["authorizations"]["value"][0]["roleDefinitionId"] = ROLE_OWNER
    dc = deployments_client("admin@fabrikam", FABRIKAM_DEV)
    with pytest.raises(HttpResponseError) as e:
        dc.deployments.begin_create_or_update_at_subscription_scope(
            "onboard-owner", body(template, parameters)).result()
    # the poller's failure carries ARM's DeploymentFailed envelope with the inner error in its details
    assert e.value.error is not None, str(e.value)
    assert e.value.error.code == "DeploymentFailed", str(e.value)
    inner = [d.code for d in (e.value.error.details or [])]
    assert "InvalidRegistrationDefinitionCreateRequest" in inner, str(e.value)

    got = dc.deployments.get_at_subscription_scope("onboard-owner")
    assert got.properties.provisioning_state == "Failed"
    err = got.properties.error
    assert err.code == "DeploymentFailed"
    assert err.details and err.details[0].code == "InvalidRegistrationDefinitionCreateRequest", err
    ops = list(dc.deployment_operations.list_at_subscription_scope("onboard-owner"))
    failed = [op for op in ops if op.properties.provisioning_state == "Failed"]
    assert failed and failed[0].properties.target_resource.resource_type == \
        "Microsoft.ManagedServices/registrationDefinitions", ops
    # nothing was delegated
    with pytest.raises(HttpResponseError) as e:
        resource_client("msp-automation", FABRIKAM_DEV).resource_groups.get("rg-dev")
    assert e.value.error.code == "InvalidAuthenticationTokenTenant"
