"""Azure Resource Graph with the unmodified Python SDK (azure-mgmt-resourcegraph): one KQL query across every
subscription the caller may read — its own and its customers' delegated ones — each row with the tenantId
of the tenant that owns it."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from azure.core.exceptions import HttpResponseError

from conftest import CONTOSO, FABRIKAM, FABRIKAM_DEV, NORTHWIND, NORTHWIND_MAIN, TAILSPIN, WOODGROVE


@pytest.fixture
def graph(emulator, creds):
    from azure.mgmt.resourcegraph import ResourceGraphClient

    def make(name: str):
        return ResourceGraphClient(creds.for_principal(name), base_url=emulator.url)

    return make


def query(client, text: str, **options):
    from azure.mgmt.resourcegraph.models import QueryRequest, QueryRequestOptions

    return client.resources(QueryRequest(query=text, options=QueryRequestOptions(**options) if options else None))


def per_tenant(result) -> dict[str, int]:
    return {row["tenantId"]: row["count_"] for row in result.data}


def test_a_provider_sees_its_own_and_each_delegated_customer(graph):
    got = per_tenant(query(graph("msp-automation"), "Resources | summarize count() by tenantId"))
    assert set(got) == {CONTOSO, FABRIKAM, NORTHWIND, TAILSPIN}, got
    assert WOODGROVE not in got
    # Northwind delegates rg-managed only, with vm-app-01 in it
    assert got[NORTHWIND] == 1, got


def test_a_customer_sees_itself_alone(graph):
    got = per_tenant(query(graph("admin@fabrikam.onmicrosoft.com"), "Resources | summarize count() by tenantId"))
    assert list(got) == [FABRIKAM]


def test_a_resource_group_delegation_shows_only_that_group(graph):
    r = query(graph("alice@contosomsp.onmicrosoft.com"),
              f"Resources | where subscriptionId == '{NORTHWIND_MAIN}' | project name, resourceGroup")
    assert {row["resourceGroup"] for row in r.data} == {"rg-managed"}
    assert "northwindprivate" not in {row["name"] for row in r.data}


def test_table_and_object_array_formats(graph):
    c = graph("admin@fabrikam.onmicrosoft.com")
    t = query(c, "Resources | project name, type | order by name asc", result_format="table")
    assert [col["name"] for col in t.data["columns"]] == ["name", "type"]
    o = query(c, "Resources | project name, type | order by name asc", result_format="objectArray")
    assert [list(r.values()) for r in o.data] == t.data["rows"]
    assert o.result_truncated == "false"
    assert all(r["type"] == r["type"].lower() for r in o.data)


def test_a_parse_error_names_line_and_column(graph):
    with pytest.raises(HttpResponseError) as e:
        query(graph("admin@fabrikam.onmicrosoft.com"), "Resources\n| where name =! 'x'")
    err = e.value.response.json()["error"]
    assert err["code"] == "BadRequest"
    assert err["details"][0]["code"] == "InvalidQuery"
    failure = err["details"][1]
    assert failure["code"] == "ParserFailure" and failure["line"] == 2, failure


def test_join_with_resource_containers_and_delegations_from_both_sides(graph):
    c = graph("msp-automation")
    r = query(c, "Resources | join kind=inner (ResourceContainers | where type == 'microsoft.resources/subscriptions'"
                 " | project subscriptionId, subscriptionName = name) on subscriptionId"
                 " | summarize count() by subscriptionName")
    assert {"fabrikam-prod", "msp-tools"} <= {row["subscriptionName"] for row in r.data}
    q = ("ManagedServicesResources | where type == 'microsoft.managedservices/registrationassignments'"
         " | project id, tenantId")
    provider_side = {row["id"].lower() for row in query(c, q).data}
    customer_side = {row["id"].lower() for row in query(graph("admin@fabrikam.onmicrosoft.com"), q).data}
    fabrikam_assignment = ("/subscriptions/20000000-0000-0000-0000-000000002001/providers/"
                           "microsoft.managedservices/registrationassignments/60000000-0000-0000-0000-000000002001")
    assert fabrikam_assignment in provider_side and fabrikam_assignment in customer_side


def test_paging_over_2500_rows_returns_every_row_once(emulator, creds, graph):
    token = creds.token("fabrikam-ci")
    rg = f"/subscriptions/{FABRIKAM_DEV}/resourceGroups/rg-graph-paging"
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {token}"
    r = s.put(f"{emulator.url}{rg}?api-version=2024-11-01", json={"location": "westeurope"}, verify=emulator.ca)
    assert r.status_code in (200, 201), r.text

    def put(i: int) -> int:
        return s.put(f"{emulator.url}{rg}/providers/Microsoft.Network/networkSecurityGroups/nsg-{i:04d}"
                     f"?api-version=2024-05-01", json={"location": "westeurope"}, verify=emulator.ca).status_code

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(put, range(2500))) <= {200, 201}
    c = graph("fabrikam-ci")
    text = "Resources | where resourceGroup == 'rg-graph-paging' | project id, name"
    first = query(c, text, top=1000)
    assert first.total_records == 2500 and first.count == 1000
    names = [row["name"] for row in first.data]
    skip_token = first.skip_token
    while skip_token:
        page = query(c, text, top=1000, skip_token=skip_token)
        names += [row["name"] for row in page.data]
        skip_token = page.skip_token
    assert len(names) == 2500 and len(set(names)) == 2500
