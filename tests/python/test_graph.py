"""Microsoft Graph with plain requests and a token for Graph: /v1.0/me, $filter on userPrincipalName,
appId and displayName, /groups and members, getByIds, Graph's error envelope, and a tenant boundary
(another tenant's objects do not exist for the caller)."""

from __future__ import annotations

import pytest
import requests

from conftest import CONTOSO, FABRIKAM, principal

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
MSP_OPERATORS = "30000000-0000-0000-0000-000000001101"


@pytest.fixture
def graph(emulator, creds):
    def call(who: str, method: str, path: str, **kw) -> requests.Response:
        token = creds.token(who, GRAPH_SCOPE)
        headers = {"Authorization": f"Bearer {token}", **kw.pop("headers", {})}
        return requests.request(method, f"{emulator.url}/v1.0{path}", headers=headers,
                                verify=emulator.ca, timeout=30, **kw)
    return call


def assert_graph_error(r: requests.Response, status: int, code: str) -> dict:
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["code"] == code, err
    assert isinstance(err["message"], str) and err["message"]
    inner = err["innerError"]
    assert inner["request-id"] == r.headers["request-id"]
    assert set(inner) >= {"date", "request-id", "client-request-id"}
    return err


def test_me_is_the_signed_in_user(graph):
    r = graph("alice", "GET", "/me")
    assert r.status_code == 200, r.text
    body = r.json()
    alice = principal("alice")
    assert (body["id"], body["userPrincipalName"]) == (alice.object_id, alice.login)
    assert body["@odata.context"].endswith("/v1.0/$metadata#users/$entity")


def test_me_as_an_application_is_refused(graph):
    err = assert_graph_error(graph("fabrikam-ci", "GET", "/me"), 400, "BadRequest")
    assert err["message"] == "/me request is only valid with delegated authentication flow."


def test_users_filtered_by_user_principal_name(graph):
    r = graph("admin@fabrikam", "GET", "/users",
              params={"$filter": "userPrincipalName eq 'reader@fabrikam.onmicrosoft.com'"})
    assert r.status_code == 200, r.text
    value = r.json()["value"]
    assert [u["id"] for u in value] == [principal("reader@fabrikam").object_id]
    assert value[0]["displayName"] == "Fabrikam Reader"


def test_service_principals_filtered_by_app_id(graph):
    ci = principal("fabrikam-ci")
    r = graph("admin@fabrikam", "GET", "/servicePrincipals", params={"$filter": f"appId eq '{ci.login}'"})
    assert r.status_code == 200, r.text
    [sp] = r.json()["value"]
    assert (sp["id"], sp["appId"], sp["servicePrincipalType"], sp["appOwnerOrganizationId"]) == \
        (ci.object_id, ci.login, "Application", FABRIKAM)


def test_groups_display_name_filter_and_members(graph):
    r = graph("bob", "GET", "/groups", params={"$filter": "displayName eq 'MSP Operators'"})
    assert [g["id"] for g in r.json()["value"]] == [MSP_OPERATORS]
    r = graph("bob", "GET", "/groups")
    assert sorted(g["displayName"] for g in r.json()["value"]) == ["MSP Operators", "MSP Readers"]
    r = graph("bob", "GET", f"/groups/{MSP_OPERATORS}/members")
    members = {m["id"]: m["@odata.type"] for m in r.json()["value"]}
    assert members == {principal("alice").object_id: "#microsoft.graph.user",
                       principal("msp-automation").object_id: "#microsoft.graph.servicePrincipal"}


def test_get_by_ids_returns_the_callers_tenant_only(graph):
    ids = [principal("alice").object_id, principal("reader@fabrikam").object_id, MSP_OPERATORS]
    r = graph("alice", "POST", "/directoryObjects/getByIds", json={"ids": ids})
    assert r.status_code == 200, r.text
    got = {o["id"]: o["@odata.type"] for o in r.json()["value"]}
    assert got == {principal("alice").object_id: "#microsoft.graph.user",
                   MSP_OPERATORS: "#microsoft.graph.group"}


def test_another_tenants_objects_do_not_exist(graph):
    err = assert_graph_error(graph("admin@fabrikam", "GET", f"/users/{principal('alice').login}"),
                             404, "Request_ResourceNotFound")
    assert err["message"].startswith(f"Resource '{principal('alice').login}' does not exist")
    assert_graph_error(graph("admin@fabrikam", "GET", f"/groups/{MSP_OPERATORS}"), 404,
                       "Request_ResourceNotFound")
    r = graph("admin@fabrikam", "GET", "/users", params={"$filter": f"userPrincipalName eq '{principal('alice').login}'"})
    assert r.json()["value"] == []
    r = graph("alice", "GET", "/users")
    assert {u["userPrincipalName"] for u in r.json()["value"]} == {"alice@contosomsp.onmicrosoft.com",
                                                                  "bob@contosomsp.onmicrosoft.com"}
    assert principal("alice").tenant == CONTOSO


def test_advanced_queries_need_consistency_level(graph):
    q = {"$filter": "endswith(userPrincipalName,'onmicrosoft.com')", "$count": "true"}
    assert_graph_error(graph("admin@fabrikam", "GET", "/users", params=q), 400, "Request_UnsupportedQuery")
    r = graph("admin@fabrikam", "GET", "/users", params=q, headers={"ConsistencyLevel": "eventual"})
    assert r.status_code == 200, r.text
    assert r.json()["@odata.count"] == 2


def test_an_arm_token_is_not_a_graph_token(emulator, creds):
    token = creds.token("alice")  # ARM audience
    r = requests.get(f"{emulator.url}/v1.0/me", headers={"Authorization": f"Bearer {token}"},
                     verify=emulator.ca, timeout=30)
    err = assert_graph_error(r, 401, "InvalidAuthenticationToken")
    assert err["message"] == "Access token validation failure. Invalid audience."
