"""Compliance and remediation through azure-mgmt-policyinsights (PolicyInsightsClient: policy states at
2019-10-01, remediations at 2019-07-01), as Fabrikam's admin and as alice through the delegation: states
after a write, $filter / $apply / $select / $top, summaries, the trigger's poller, and a `modify`
remediation run as the assignment's managed identity once it holds Contributor."""

import uuid

import pytest
from azure.core.exceptions import HttpResponseError

from conftest import FABRIKAM_PROD

SUB = f"/subscriptions/{FABRIKAM_PROD}"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
STORAGE = f"{SUB}/resourceGroups/rg-data/providers/Microsoft.Storage/storageAccounts/fabrikamdata"


@pytest.fixture
def clients(emulator, creds):
    from azure.mgmt.policyinsights import PolicyInsightsClient
    from azure.mgmt.resource.policy import PolicyClient

    def make(name: str):
        cred = creds.for_principal(name)
        return (PolicyInsightsClient(cred, FABRIKAM_PROD, base_url=emulator.url),
                PolicyClient(cred, FABRIKAM_PROD, base_url=emulator.url))

    return make


def test_states_summaries_and_the_trigger_as_admin_and_through_the_delegation(clients):
    from azure.mgmt.policyinsights.models import QueryOptions

    pi, pc = clients("admin@fabrikam")
    name = f"audit-owner-{uuid.uuid4().hex[:6]}"
    d = pc.policy_definitions.create_or_update(name, {"properties": {"mode": "Indexed", "policyRule": {
        "if": {"allOf": [{"field": "type", "equals": "Microsoft.Storage/storageAccounts"},
                         {"field": "tags['owner']", "exists": "false"}]},
        "then": {"effect": "audit"}}}})
    a = pc.policy_assignments.create(SUB, name, {"properties": {"policyDefinitionId": d.id}})

    states = list(pi.policy_states.list_query_results_for_subscription("latest", FABRIKAM_PROD))
    mine = [s for s in states if s.policy_assignment_id.lower() == a.id.lower()]
    assert {s.resource_id.lower() for s in mine if s.compliance_state == "Compliant"}, "other resources comply"
    mine = [s for s in mine if s.compliance_state != "Compliant"]
    assert [s.resource_id.lower() for s in mine] == [STORAGE.lower()]
    assert mine[0].compliance_state == "NonCompliant" and mine[0].is_compliant is False
    assert mine[0].policy_definition_action == "audit"
    assert mine[0].resource_type == "Microsoft.Storage/storageAccounts"

    opts = QueryOptions(filter=f"policyAssignmentId eq '{a.id}' and complianceState eq 'NonCompliant'",
                        select="resourceId, complianceState", top=5)
    got = list(pi.policy_states.list_query_results_for_resource_group("latest", FABRIKAM_PROD, "rg-data",
                                                                      query_options=opts))
    assert len(got) == 1 and got[0].resource_id.lower() == STORAGE.lower()
    assert got[0].policy_assignment_id is None, "$select keeps only what it names"
    grouped = list(pi.policy_states.list_query_results_for_subscription("latest", FABRIKAM_PROD, query_options=QueryOptions(
        filter=f"policyAssignmentId eq '{a.id}'",
        apply="groupby((policyAssignmentId, complianceState), aggregate($count as NumberOfRecords))")))
    by_state = {g.compliance_state: g.additional_properties["NumberOfRecords"] for g in grouped}
    assert by_state["NonCompliant"] == 1 and by_state["Compliant"] >= 1, by_state

    summary = pi.policy_states.summarize_for_subscription("latest", FABRIKAM_PROD).value[0]
    assert summary.results.non_compliant_resources >= 1
    ours = [x for x in summary.policy_assignments if x.policy_assignment_id.lower() == a.id.lower()]
    assert ours[0].results.non_compliant_resources == 1
    assert ours[0].policy_definitions[0].effect == "audit"

    pi.policy_states.begin_trigger_subscription_evaluation(FABRIKAM_PROD).result()
    pi.policy_states.begin_trigger_resource_group_evaluation(FABRIKAM_PROD, "rg-data").result()

    # alice (MSP Operators, Contributor through the delegation) reads the same states
    alice, _ = clients("alice@contosomsp.onmicrosoft.com")
    seen = list(alice.policy_states.list_query_results_for_policy_definition(
        "latest", FABRIKAM_PROD, name, query_options=QueryOptions(filter="complianceState eq 'NonCompliant'")))
    assert [s.resource_id.lower() for s in seen] == [STORAGE.lower()]
    assert alice.policy_states.summarize_for_subscription("latest", FABRIKAM_PROD).value[0].results \
        .non_compliant_resources >= 1

    # Northwind's admin has no standing in fabrikam-prod
    northwind, _ = clients("admin@northwind.onmicrosoft.com")
    with pytest.raises(HttpResponseError) as e:
        list(northwind.policy_states.list_query_results_for_subscription("latest", FABRIKAM_PROD))
    assert e.value.status_code == 401


def test_a_modify_remediation_runs_as_the_identity(clients, authorization_client):
    pi, pc = clients("admin@fabrikam")
    name = f"owner-tag-{uuid.uuid4().hex[:6]}"
    d = pc.policy_definitions.create_or_update(name, {"properties": {"mode": "Indexed", "policyRule": {
        "if": {"allOf": [{"field": "type", "equals": "Microsoft.Storage/storageAccounts"},
                         {"field": "tags['owner']", "exists": "false"}]},
        "then": {"effect": "modify", "details": {
            "roleDefinitionIds": [f"/providers/Microsoft.Authorization/roleDefinitions/{CONTRIBUTOR}"],
            "operations": [{"operation": "addOrReplace", "field": "tags['owner']", "value": "platform"}]}}}}})
    a = pc.policy_assignments.create(SUB, name, {"location": "westeurope", "identity": {"type": "SystemAssigned"},
                                                 "properties": {"policyDefinitionId": d.id}})
    principal = a.identity.principal_id

    # without a role: the identity's PUT is refused, the remediation says so
    r = pi.remediations.create_or_update_at_subscription(f"{name}-1", {"properties": {"policyAssignmentId": a.id}})
    assert r.provisioning_state == "Accepted"
    r = pi.remediations.get_at_subscription(f"{name}-1")
    assert r.provisioning_state == "Failed"
    deps = list(pi.remediations.list_deployments_at_subscription(f"{name}-1"))
    assert [x.remediated_resource_id.lower() for x in deps] == [STORAGE.lower()]
    assert deps[0].status == "Failed" and deps[0].error.code == "AuthorizationFailed"

    # msp-automation, delegated User Access Administrator, grants it Contributor for this identity
    ac = authorization_client("msp-automation", FABRIKAM_PROD)
    ac.role_assignments.create(SUB, str(uuid.uuid4()), {
        "role_definition_id": f"{SUB}/providers/Microsoft.Authorization/roleDefinitions/{CONTRIBUTOR}",
        "principal_id": principal, "principal_type": "ServicePrincipal",
        "delegated_managed_identity_resource_id": a.id})
    pi.remediations.create_or_update_at_subscription(f"{name}-2", {"properties": {
        "policyAssignmentId": a.id, "resourceDiscoveryMode": "ReEvaluateCompliance"}})
    r = pi.remediations.get_at_subscription(f"{name}-2")
    assert r.provisioning_state == "Succeeded"
    assert r.deployment_status.successful_deployments == 1
    names = [x.name for x in pi.remediations.list_for_subscription()]
    assert f"{name}-1" in names and f"{name}-2" in names
    from azure.mgmt.resource.resources import ResourceManagementClient  # noqa: F401
    alice, _ = clients("alice@contosomsp.onmicrosoft.com")
    assert alice.remediations.get_at_subscription(f"{name}-2").provisioning_state == "Succeeded"
    pi.remediations.delete_at_subscription(f"{name}-1")
    with pytest.raises(HttpResponseError) as e:
        pi.remediations.get_at_subscription(f"{name}-1")
    assert e.value.status_code == 404
