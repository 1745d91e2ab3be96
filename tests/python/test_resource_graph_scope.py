"""Resource Graph's AuthorizationResources with the unmodified Python SDK (azure-mgmt-resourcegraph): the
built-in role definitions sit at the tenant root, so a query naming a subscription sees them only with
authorizationScopeFilter AtScopeAndAbove (or AtScopeAboveAndBelow), as ARG documents; a value outside the
enum is refused with ARG's envelope. azure-mgmt-resourcegraph 8.0.1 sends api-version 2021-03-01, whose
QueryRequestOptions has no authorizationScopeFilter (the option came with 2021-06-01-preview), so the
requests go through the same client's pipeline (credential, TLS, retries) with `_send_request` at 2022-10-01."""

from __future__ import annotations

import pytest
from azure.core.exceptions import HttpResponseError

from conftest import FABRIKAM

FABRIKAM_PROD = "20000000-0000-0000-0000-000000002001"
BUILT_INS = "authorizationresources | where type =~ 'microsoft.authorization/roledefinitions'" \
            " and properties.type == 'BuiltInRole' | project name, roleName = tostring(properties.roleName), tenantId"


@pytest.fixture
def client(emulator, creds):
    from azure.mgmt.resourcegraph import ResourceGraphClient

    return ResourceGraphClient(creds.for_principal("admin@fabrikam.onmicrosoft.com"), base_url=emulator.url)


class Result:
    def __init__(self, body: dict):
        self.total_records = body["totalRecords"]
        self.data = body["data"]


def query(client, text: str, subscriptions=None, **options):
    from azure.core.rest import HttpRequest

    body = {"query": text, "options": options}
    if subscriptions:
        body["subscriptions"] = subscriptions
    r = client._send_request(HttpRequest(
        "POST", "/providers/Microsoft.ResourceGraph/resources?api-version=2022-10-01", json=body))
    if r.status_code != 200:
        raise HttpResponseError(response=r)
    return Result(r.json())


def test_built_in_roles_are_above_a_subscription(client):
    below = query(client, BUILT_INS, subscriptions=[FABRIKAM_PROD])
    assert below.total_records == 0
    above = query(client, BUILT_INS, subscriptions=[FABRIKAM_PROD], authorizationScopeFilter="AtScopeAndAbove")
    assert above.total_records > 900, above.total_records
    reader = [r for r in above.data if r["name"] == "acdd72a7-3385-48ef-bd42-f606fba81ae7"]
    assert reader == [{"name": "acdd72a7-3385-48ef-bd42-f606fba81ae7", "roleName": "Reader", "tenantId": FABRIKAM}]


def test_exact_keeps_the_subscription_s_own_assignments(client):
    r = query(client, "authorizationresources | where type =~ 'microsoft.authorization/roleassignments' | project id",
              subscriptions=[FABRIKAM_PROD], authorizationScopeFilter="AtScopeExact")
    assert r.total_records > 0
    assert all(row["id"].lower().startswith(f"/subscriptions/{FABRIKAM_PROD}/providers/") for row in r.data), r.data


def test_a_filter_outside_the_enum_is_a_bad_request(client):
    with pytest.raises(HttpResponseError) as e:
        query(client, "authorizationresources | count", authorizationScopeFilter="Everywhere")
    err = e.value.response.json()["error"]
    assert e.value.status_code == 400
    assert err["code"] == "BadRequest" and err["details"][0]["code"] == "InvalidRequestContent", err
