"""What the spec examples' replay added, through the real Python SDKs: a namespace's resource types,
a resource group exported as Bicep, the template hash, deployments from a template spec, rollback on
error and external inputs (azure-mgmt-resource 26, azure-mgmt-resource-deployments 2); the zone peers
and reserved names over raw 2022-12-01 (azure-mgmt-subscription 3.1 has neither operation)."""

from __future__ import annotations

import pytest
from azure.core.exceptions import HttpResponseError

from conftest import FABRIKAM_DEV, FABRIKAM_PROD

RG = f"/subscriptions/{FABRIKAM_PROD}/resourceGroups/rg-data"
SCHEMA = "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"


def storage(account: str) -> dict:
    return {"$schema": SCHEMA, "contentVersion": "1.0.0.0",
            "resources": [{"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-05-01",
                           "name": account, "location": "westeurope",
                           "sku": {"name": "Standard_LRS"}, "kind": "StorageV2"}]}


@pytest.fixture(autouse=True)
def reset_each(emulator):
    emulator.reset()


@pytest.fixture
def deployments_client(emulator, creds):
    from azure.mgmt.resource.deployments import DeploymentsMgmtClient

    return DeploymentsMgmtClient(creds.for_principal("admin@fabrikam"), FABRIKAM_PROD,
                                 base_url=emulator.url)


def test_provider_resource_types(resource_client):
    types = list(resource_client("admin@fabrikam", FABRIKAM_PROD).provider_resource_types
                 .list("Microsoft.Storage").value)
    sa = next(t for t in types if t.resource_type == "storageAccounts")
    assert sa.default_api_version == "2023-05-01"
    assert "2023-05-01" in sa.api_versions


def test_export_a_group_as_bicep(resource_client):
    from azure.mgmt.resource.resources.models import ExportTemplateRequest

    rc = resource_client("admin@fabrikam", FABRIKAM_PROD)
    result = rc.resource_groups.begin_export_template(
        "rg-data", ExportTemplateRequest(resources=["*"], output_format="Bicep")).result()
    assert "param storageAccounts_fabrikamdata_name string = 'fabrikamdata'" in result.output
    assert "resource storageAccounts_fabrikamdata_name_resource 'Microsoft.Storage/storageAccounts@" \
        in result.output
    assert result.template is None


def test_template_hash_matches_the_deployment(deployments_client):
    from azure.mgmt.resource.deployments.models import Deployment, DeploymentProperties

    h = deployments_client.deployments.calculate_template_hash(storage("fabrikamdata"))
    assert '"FABRIKAMDATA"' in h.minified_template
    d = deployments_client.deployments.begin_create_or_update(
        "rg-data", "hashed",
        Deployment(properties=DeploymentProperties(mode="Incremental",
                                                   template=storage("fabrikamdata")))).result()
    assert d.properties.template_hash == h.template_hash


def test_deploy_a_template_spec_version(emulator, creds, deployments_client):
    from azure.mgmt.resource.deployments.models import (Deployment, DeploymentProperties,
                                                        TemplateLink)

    token = creds.token("admin@fabrikam")
    spec = f"{RG}/providers/Microsoft.Resources/templateSpecs/storage"
    for path, body in [(spec, {"location": "westeurope", "properties": {}}),
                       (f"{spec}/versions/v1", {"location": "westeurope",
                                                "properties": {"mainTemplate": storage("specsdk")}})]:
        r = emulator.arm("PUT", f"{path}?api-version=2022-02-01", token=token, json=body)
        assert r.status_code in (200, 201), r.text
    d = deployments_client.deployments.begin_create_or_update(
        "rg-data", "from-spec",
        Deployment(properties=DeploymentProperties(
            mode="Incremental", template_link=TemplateLink(id=f"{spec}/versions/v1")))).result()
    assert d.properties.provisioning_state == "Succeeded"
    assert d.properties.template_link.id == f"{spec}/versions/v1"
    assert [r.id for r in d.properties.output_resources] == [
        f"{RG}/providers/Microsoft.Storage/storageAccounts/specsdk"]


def test_a_failed_deployment_rolls_back(deployments_client):
    from azure.mgmt.resource.deployments.models import (Deployment, DeploymentProperties,
                                                        OnErrorDeployment)

    deps = deployments_client.deployments
    deps.begin_create_or_update("rg-data", "good", Deployment(properties=DeploymentProperties(
        mode="Incremental", template=storage("fabrikamdata")))).result()
    failing = storage("fabrikamdata")
    failing["resources"][0] = {"type": "Microsoft.Storage/storageAccounts/blobServices/containers",
                               "apiVersion": "2023-05-01", "name": "nosuchaccount/default/c"}
    with pytest.raises(HttpResponseError):
        deps.begin_create_or_update("rg-data", "bad", Deployment(properties=DeploymentProperties(
            mode="Incremental", template=failing,
            on_error_deployment=OnErrorDeployment(type="LastSuccessful")))).result()
    bad = deps.get("rg-data", "bad")
    assert bad.properties.provisioning_state == "Failed"
    assert bad.properties.on_error_deployment.deployment_name == "good"
    assert bad.properties.on_error_deployment.provisioning_state == "Succeeded"
    assert deps.get("rg-data", "good").properties.mode == "Complete"


def test_external_inputs(deployments_client):
    from azure.mgmt.resource.deployments.models import (Deployment, DeploymentExternalInput,
                                                        DeploymentExternalInputDefinition,
                                                        DeploymentParameter, DeploymentProperties)

    template = {"$schema": SCHEMA, "contentVersion": "1.0.0.0",
                "parameters": {"inputObj": {"type": "object"}}, "resources": [],
                "outputs": {"inputObj": {"type": "object", "value": "[parameters('inputObj')]"}}}
    d = deployments_client.deployments.begin_create_or_update("rg-data", "inputs", Deployment(
        properties=DeploymentProperties(
            mode="Incremental", template=template,
            external_input_definitions={"fooValue": DeploymentExternalInputDefinition(
                kind="sys.envVar", config="FOO_VALUE")},
            external_inputs={"fooValue": DeploymentExternalInput(value="baz")},
            parameters={"inputObj": DeploymentParameter(
                expression="[createObject('foo', externalInputs('fooValue'))]")}))).result()
    assert d.properties.outputs["inputObj"]["value"] == {"foo": "baz"}


def test_zone_peers_and_reserved_names(emulator, creds):
    token = creds.token("admin@fabrikam")
    r = emulator.arm(
        "POST",
        f"/subscriptions/{FABRIKAM_PROD}/providers/Microsoft.Resources/checkZonePeers/"
        "?api-version=2022-12-01",
        token=token, json={"location": "eastus", "subscriptionIds": [f"subscriptions/{FABRIKAM_DEV}"]})
    assert r.status_code == 200, r.text
    peers = r.json()["availabilityZonePeers"]
    assert sorted(p["availabilityZone"] for p in peers) == ["1", "2", "3"]
    assert sorted(p["peers"][0]["availabilityZone"] for p in peers) == ["1", "2", "3"]
    for name, status in [("isxbox", "Allowed"), ("xbox", "Reserved")]:
        r = emulator.arm("POST", "/providers/Microsoft.Resources/checkResourceName?api-version=2022-12-01",
                         token=token, json={"name": name, "type": "Microsoft.Web/sites"})
        assert r.status_code == 200, r.text
        assert r.json()["status"] == status
