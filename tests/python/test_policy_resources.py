"""Azure Policy resources through azure-mgmt-resource-policy (PolicyClient, api-version 2026-06-01 — newer
than the specs the emulator follows, served as 2025-11-01): definitions, built-ins, set definitions and
assignments as the customer admin, and as alice through the delegation."""

import uuid

import pytest
from azure.core.exceptions import HttpResponseError

from conftest import FABRIKAM_PROD, principal

ALLOWED_LOCATIONS = "e56962a6-4747-49cd-b67b-bf8b01975c4c"
SUB = f"/subscriptions/{FABRIKAM_PROD}"


@pytest.fixture
def policy_client(emulator, creds):
    from azure.mgmt.resource.policy import PolicyClient

    def make(name: str):
        return PolicyClient(creds.for_principal(name), FABRIKAM_PROD, base_url=emulator.url)

    return make


RULE = {"if": {"field": "[concat('tags[', parameters('tagName'), ']')]", "exists": "false"},
        "then": {"effect": "[parameters('effect')]"}}
PARAMS = {"tagName": {"type": "String"},
          "effect": {"type": "String", "allowedValues": ["Audit", "Deny"], "defaultValue": "Audit"}}


def test_customer_defines_and_assigns_with_the_built_ins_beside(policy_client):
    pc = policy_client("admin@fabrikam")
    name = f"require-tag-{uuid.uuid4().hex[:6]}"
    d = pc.policy_definitions.create_or_update(name, {"properties": {
        "displayName": "Require a tag", "mode": "Indexed", "parameters": PARAMS, "policyRule": RULE}})
    assert d.properties.policy_type == "Custom"
    assert d.id == f"{SUB}/providers/Microsoft.Authorization/policyDefinitions/{name}"
    assert pc.policy_definitions.get(name).properties.display_name == "Require a tag"
    custom = [x.name for x in pc.policy_definitions.list(filter="policyType eq 'Custom'")]
    assert name in custom and ALLOWED_LOCATIONS not in custom
    builtin = pc.policy_definitions.get_built_in(ALLOWED_LOCATIONS)
    assert builtin.properties.policy_type == "BuiltIn"
    assert ALLOWED_LOCATIONS in [x.name for x in pc.policy_definitions.list_built_in()]

    a = pc.policy_assignments.create(SUB, f"{name}-a", {"properties": {
        "policyDefinitionId": d.id, "parameters": {"tagName": {"value": "env"}},
        "enforcementMode": "DoNotEnforce", "nonComplianceMessages": [{"message": "Tag it"}]}})
    assert a.properties.enforcement_mode == "DoNotEnforce"
    assert a.properties.scope == SUB
    assert a.properties.metadata["createdBy"] == principal("admin@fabrikam").object_id
    exact = [x.name for x in pc.policy_assignments.list(filter="atExactScope()")]
    assert f"{name}-a" in exact
    by_def = [x.name for x in pc.policy_assignments.list(filter=f"policyDefinitionId eq '{d.id}'")]
    assert by_def == [f"{name}-a"]
    in_rg = [x.name for x in pc.policy_assignments.list_for_resource_group("rg-web", filter="atScope()")]
    assert f"{name}-a" in in_rg, "a list at a group shows what applies from above"

    with pytest.raises(HttpResponseError) as e:
        pc.policy_assignments.create(SUB, f"{name}-bad", {"properties": {
            "policyDefinitionId": d.id,
            "parameters": {"tagName": {"value": "env"}, "effect": {"value": "deny"}}}})
    assert e.value.status_code == 400 and e.value.error.code == "PolicyParameterValueNotAllowed"
    with pytest.raises(HttpResponseError) as e:
        pc.policy_assignments.create(SUB, f"{name}-bad", {"properties": {
            "policyDefinitionId": f"{SUB}/providers/Microsoft.Authorization/policyDefinitions/none"}})
    assert e.value.error.code == "PolicyDefinitionNotFound"

    # an initiative over it, assigned with a system-assigned identity
    s = pc.policy_set_definitions.create_or_update(f"{name}-set", {"properties": {
        "displayName": "Tagging", "policyDefinitions": [
            {"policyDefinitionId": d.id, "policyDefinitionReferenceId": "env",
             "parameters": {"tagName": {"value": "env"}}}]}})
    assert s.properties.policy_definitions[0].policy_definition_reference_id == "env"
    mi = pc.policy_assignments.create(SUB, f"{name}-mi", {
        "location": "westeurope", "identity": {"type": "SystemAssigned"},
        "properties": {"policyDefinitionId": s.id}})
    assert mi.identity.type == "SystemAssigned"
    assert uuid.UUID(mi.identity.principal_id)
    assert mi.identity.tenant_id == principal("admin@fabrikam").tenant

    deleted = pc.policy_assignments.delete(SUB, f"{name}-mi")
    assert deleted is None or deleted.name == f"{name}-mi"
    pc.policy_assignments.delete(SUB, f"{name}-a")
    pc.policy_set_definitions.delete(f"{name}-set")
    pc.policy_definitions.delete(name)
    assert name not in [x.name for x in pc.policy_definitions.list(filter="policyType eq 'Custom'")]


def test_alice_reads_the_customers_policy_but_contributor_may_not_assign(policy_client):
    admin = policy_client("admin@fabrikam")
    admin.policy_assignments.create(SUB, "eu-only", {"properties": {
        "policyDefinitionId": f"/providers/Microsoft.Authorization/policyDefinitions/{ALLOWED_LOCATIONS}",
        "parameters": {"listOfAllowedLocations": {"value": ["westeurope"]}}}})
    alice = policy_client("alice")
    assert "eu-only" in [x.name for x in alice.policy_assignments.list()]
    with pytest.raises(HttpResponseError) as e:
        alice.policy_assignments.create(SUB, "alice", {"properties": {
            "policyDefinitionId": f"/providers/Microsoft.Authorization/policyDefinitions/{ALLOWED_LOCATIONS}",
            "parameters": {"listOfAllowedLocations": {"value": ["westeurope"]}}}})
    assert e.value.status_code == 403 and e.value.error.code == "AuthorizationFailed"
    assert "Microsoft.Authorization/policyAssignments/write" in e.value.error.message
    admin.policy_assignments.delete(SUB, "eu-only")
