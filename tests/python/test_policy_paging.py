"""Policy states past one page with azure-mgmt-policyinsights: the SDK's pager follows
`@odata.nextLink` (a POST to the link carrying `$skiptoken`) until every state is read, as many as a
`$apply` count gives; and `$expand=PolicyEvaluationDetails` on a resource's states, as the customer
admin and as alice through the delegation."""

import uuid

from conftest import FABRIKAM_PROD

SUB = f"/subscriptions/{FABRIKAM_PROD}"
STORAGE_RG, STORAGE = "rg-data", "fabrikamdata"


def test_the_pager_reads_every_page_and_details_expand(emulator, creds):
    from azure.mgmt.policyinsights import PolicyInsightsClient
    from azure.mgmt.policyinsights.models import QueryOptions
    from azure.mgmt.resource.policy import PolicyClient

    emulator.reset()
    admin = creds.for_principal("admin@fabrikam")
    pc = PolicyClient(admin, FABRIKAM_PROD, base_url=emulator.url)
    name = f"audit-all-{uuid.uuid4().hex[:6]}"
    d = pc.policy_definitions.create_or_update(name, {"properties": {"mode": "All", "policyRule": {
        "if": {"field": "type", "notEquals": "Microsoft.Example/none"}, "then": {"effect": "audit"}}}})
    refs = [{"policyDefinitionId": d.id, "policyDefinitionReferenceId": f"r{i:03}"} for i in range(120)]
    s = pc.policy_set_definitions.create_or_update(name, {"properties": {"policyDefinitions": refs}})
    pc.policy_assignments.create(SUB, name, {"properties": {"policyDefinitionId": s.id}})

    for who in ("admin@fabrikam", "alice"):
        pi = PolicyInsightsClient(creds.for_principal(who), FABRIKAM_PROD, base_url=emulator.url)
        counted = list(pi.policy_states.list_query_results_for_subscription(
            "latest", FABRIKAM_PROD, query_options=QueryOptions(apply="aggregate($count as n)")))
        total = counted[0].additional_properties["n"]
        assert total > 1000, total
        every = list(pi.policy_states.list_query_results_for_subscription("latest", FABRIKAM_PROD))
        assert len(every) == total
        assert len({(x.resource_id, x.policy_definition_reference_id) for x in every}) == total

        states = list(pi.policy_states.list_query_results_for_resource(
            "latest", f"{SUB}/resourceGroups/{STORAGE_RG}/providers/Microsoft.Storage/storageAccounts/{STORAGE}",
            query_options=QueryOptions(top=1, expand="PolicyEvaluationDetails")))
        evaluated = states[0].policy_evaluation_details.evaluated_expressions
        assert evaluated[0].expression == "type" and evaluated[0].result == "True", evaluated
        assert evaluated[0].expression_value == "Microsoft.Storage/storageAccounts"
