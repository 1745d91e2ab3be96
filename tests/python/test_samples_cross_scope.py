"""The Lighthouse samples that deploy across scopes, unmodified, by a provider user through the
delegation: create-multiple-rgs (a subscription deployment with a copy loop of resource groups),
cross-rg-deployment (a nested deployment into another group) and cross-subscription-deployment (both
templates: a nested deployment into another customer's subscription). alice holds Contributor on
fabrikam-prod and tailspin-prod through Contoso's delegations."""

from __future__ import annotations

import json

import pytest

from conftest import FABRIKAM_PROD, REPO_ROOT, TAILSPIN_PROD, unique_name

TEMPLATES = REPO_ROOT / "tests" / "templates" / "lighthouse" / "templates"


def load(rel: str) -> dict:
    return json.loads((TEMPLATES / rel).read_text())


@pytest.fixture
def deployments_client(emulator, creds):
    from azure.mgmt.resource.deployments import DeploymentsMgmtClient

    def make(name: str, subscription: str):
        return DeploymentsMgmtClient(creds.for_principal(name), subscription, base_url=emulator.url)

    return make


def body(template: dict, parameters: dict) -> dict:
    return {"location": "westeurope",
            "properties": {"mode": "Incremental", "template": template,
                           "parameters": {k: {"value": v} for k, v in parameters.items()}}}


def test_create_multiple_rgs_through_the_delegation(deployments_client, resource_client):
    emulator_prefix = unique_name("rg-multi-")
    dc = deployments_client("alice", FABRIKAM_PROD)
    got = dc.deployments.begin_create_or_update_at_subscription_scope(
        unique_name("multi"), body(load("create-multiple-rgs/multipleRgs.json"),
                                   {"resourceGroupNamePrefix": emulator_prefix,
                                    "resourceGrouplocation": "westeurope", "instanceCount": 3})).result()
    assert got.properties.provisioning_state == "Succeeded"
    # the customer sees the groups the provider made
    names = {g.name for g in resource_client("admin@fabrikam", FABRIKAM_PROD).resource_groups.list()}
    assert {f"{emulator_prefix}{i}" for i in range(3)} <= names


def test_cross_rg_deployment(deployments_client, resource_client):
    rc = resource_client("alice", FABRIKAM_PROD)
    local, remote = unique_name("rg-local-"), unique_name("rg-remote-")
    for rg in (local, remote):
        rc.resource_groups.create_or_update(rg, {"location": "westeurope"})
    prefixes = {"storagePrefix1": unique_name("a")[:9].replace("-", ""),
                "storagePrefix2": unique_name("b")[:9].replace("-", "")}
    got = deployments_client("alice", FABRIKAM_PROD).deployments.begin_create_or_update(
        local, "cross", body(load("cross-rg-deployment/crossRg.json"), {**prefixes, "remoteRg": remote})).result()
    assert got.properties.provisioning_state == "Succeeded", got
    local_types = [r.type for r in rc.resources.list_by_resource_group(local)]
    remote_types = [r.type for r in rc.resources.list_by_resource_group(remote)]
    assert local_types == ["Microsoft.Storage/storageAccounts"], local_types
    assert remote_types == ["Microsoft.Storage/storageAccounts"], remote_types


def test_cross_subscription_deployments(deployments_client, resource_client):
    fab, tail = resource_client("alice", FABRIKAM_PROD), resource_client("alice", TAILSPIN_PROD)
    local, remote = unique_name("rg-local-"), unique_name("rg-remote-")
    fab.resource_groups.create_or_update(local, {"location": "westeurope"})
    tail.resource_groups.create_or_update(remote, {"location": "westeurope"})
    dc = deployments_client("alice", FABRIKAM_PROD)
    prefixes = {"storagePrefix1": unique_name("c")[:9].replace("-", ""),
                "storagePrefix2": unique_name("d")[:9].replace("-", "")}
    got = dc.deployments.begin_create_or_update(local, "crosssub", body(
        load("cross-subscription-deployment/crossSub.json"),
        {**prefixes, "remoteRg": remote, "remoteSub": TAILSPIN_PROD})).result()
    assert got.properties.provisioning_state == "Succeeded", got
    assert [r.type for r in tail.resources.list_by_resource_group(remote)] == ["Microsoft.Storage/storageAccounts"]

    got = dc.deployments.begin_create_or_update(local, "workspaces", body(
        load("cross-subscription-deployment/crossSubscription.json"),
        {"localWorkspaceName": unique_name("ws-local-"), "remoteWorkspaceName": unique_name("ws-remote-"),
         "remoteResourceGroup": remote, "remoteSubscription": TAILSPIN_PROD})).result()
    assert got.properties.provisioning_state == "Succeeded", got
    remote_types = sorted(r.type for r in tail.resources.list_by_resource_group(remote))
    assert remote_types == ["Microsoft.OperationalInsights/workspaces", "Microsoft.Storage/storageAccounts"]
