"""Policy tokens through azure-mgmt-resource-policy (PolicyClient.policy_tokens): a definition with
externalEvaluationEnforcementSettings (CoinFlip, certain) assigned in fabrikam-prod; a resource group
write it covers is refused without a token, passes with the token acquired for exactly that write — as
the customer admin and as alice through the delegation — and a token for another write is refused."""

import uuid

import pytest
from azure.core.exceptions import HttpResponseError

from conftest import FABRIKAM_PROD

SUB = f"/subscriptions/{FABRIKAM_PROD}"
HEADER = "x-ms-policy-external-evaluations"


@pytest.fixture
def policy_client(emulator, creds):
    from azure.mgmt.resource.policy import PolicyClient

    return lambda name: PolicyClient(creds.for_principal(name), FABRIKAM_PROD, base_url=emulator.url)


def test_a_token_acquired_with_the_sdk_lets_exactly_that_write_through(emulator, policy_client, resource_client):
    emulator.reset()
    admin = policy_client("admin@fabrikam")
    d = admin.policy_definitions.create_or_update("coin-flip-rg", {"properties": {
        "displayName": "Token groups need a coin flip", "mode": "All",
        "policyRule": {"if": {"field": "name", "like": "tok-*"}, "then": {"effect": "audit"}},
        "externalEvaluationEnforcementSettings": {
            "missingTokenAction": "Deny", "resultLifespan": "PT30M",
            "endpointSettings": {"kind": "CoinFlip", "details": {"successProbability": 1}}}}})
    assert d.properties.external_evaluation_enforcement_settings.endpoint_settings.kind == "CoinFlip"
    admin.policy_assignments.create(SUB, "coin-flip-rg", {"properties": {"policyDefinitionId": d.id}})

    for who in ("admin@fabrikam", "alice"):
        rc = resource_client(who, FABRIKAM_PROD)
        api = rc._config.api_version
        name = f"tok-{uuid.uuid4().hex[:6]}"
        content = {"location": "westeurope"}
        with pytest.raises(HttpResponseError) as e:
            rc.resource_groups.create_or_update(name, content)
        assert e.value.status_code == 403
        assert e.value.error.code == "RequestDisallowedByPolicy"

        got = policy_client(who).policy_tokens.acquire({"operation": {
            "uri": f"https://management.azure.com{SUB}/resourcegroups/{name}?api-version={api}",
            "httpMethod": "PUT", "content": content}})
        assert got.result == "Succeeded"
        assert got.request_details.http_method == "PUT"
        assert got.request_details.authorization_action == "Microsoft.Resources/subscriptions/resourceGroups/write"
        assert got.request_details.resource_id.lower() == f"{SUB}/resourcegroups/{name}".lower()
        assert got.results[0].endpoint_kind == "CoinFlip"
        assert got.results[0].policy_action == "Allow"
        assert got.token and got.token_id and got.expiration

        # the token for this content does not serve another
        with pytest.raises(HttpResponseError) as e:
            rc.resource_groups.create_or_update(name, {"location": "westeurope", "tags": {"a": "b"}},
                                                headers={HEADER: got.token})
        assert e.value.status_code == 403
        rg = rc.resource_groups.create_or_update(name, content, headers={HEADER: got.token})
        assert rg.name == name
        # a write the rule does not cover needs none
        rc.resource_groups.create_or_update(f"plain-{uuid.uuid4().hex[:6]}", content)


def test_a_failed_coin_flip_at_a_management_group_issues_no_token(emulator, policy_client):
    emulator.reset()
    admin = policy_client("admin@fabrikam")
    d = admin.policy_definitions.create_or_update("coin-flip-never", {"properties": {
        "displayName": "Never", "mode": "All",
        "policyRule": {"if": {"field": "name", "like": "never-*"}, "then": {"effect": "audit"}},
        "externalEvaluationEnforcementSettings": {
            "missingTokenAction": "Audit",
            "endpointSettings": {"kind": "CoinFlip", "details": {"successProbability": 0}}}}})
    admin.policy_assignments.create(SUB, "coin-flip-never", {"properties": {"policyDefinitionId": d.id}})
    root = "10000000-0000-0000-0000-000000000002"  # Fabrikam's tenant root group
    got = admin.policy_tokens.acquire_at_management_group(root, {"operation": {
        "uri": f"https://management.azure.com{SUB}/resourcegroups/never-1?api-version=2021-04-01",
        "httpMethod": "PUT", "content": {"location": "westeurope"}}})
    assert got.result == "Failed"
    assert got.token is None
    assert got.results[0].result == "Failed"
    assert got.results[0].policy_action == "Audit"
