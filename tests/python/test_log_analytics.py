"""Log Analytics across tenants with the unmodified SDKs: azure-mgmt-loganalytics makes workspaces in two
customer subscriptions, a subscription diagnostic setting (generic resources client) streams each
activity log into them, and azure-monitor-query's LogsQueryClient — as msp-automation, through Contoso's
delegations — queries them one by one and in one cross-workspace query; a principal without a role is
refused."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from azure.core.exceptions import HttpResponseError

from conftest import CONTOSO, FABRIKAM_PROD, TAILSPIN_PROD, unique_name

DIAG_API = "2021-05-01-preview"
LA_AUDIENCE = "https://api.loganalytics.io"


@pytest.fixture
def la_mgmt(emulator, creds):
    from azure.mgmt.loganalytics import LogAnalyticsManagementClient

    def make(name: str, subscription: str):
        return LogAnalyticsManagementClient(creds.for_principal(name), subscription, base_url=emulator.url)

    return make


@pytest.fixture
def logs(emulator, creds):
    from azure.monitor.query import LogsQueryClient

    def make(name: str, audience: str | None = None):
        kw = {"audience": audience} if audience else {}
        return LogsQueryClient(creds.for_principal(name), endpoint=f"{emulator.url}/v1", **kw)

    return make


def make_workspace(la_mgmt, resource_client, who: str, sub: str, rg: str) -> tuple[str, str]:
    """A workspace and a subscription diagnostic setting sending the activity log to it: (id, customerId)."""
    from azure.mgmt.loganalytics.models import Workspace
    from azure.mgmt.resource.resources.models import GenericResource

    name = unique_name("ws")
    ws = la_mgmt(who, sub).workspaces.begin_create_or_update(rg, name, Workspace(location="westeurope")).result()
    assert ws.provisioning_state == "Succeeded"
    assert ws.retention_in_days == 30 and ws.sku.name.lower() == "pergb2018"
    setting = GenericResource(properties={"workspaceId": ws.id, "logs": [
        {"category": c, "enabled": True} for c in ("Administrative", "Policy", "Security")]})
    resource_client(who, sub).resources.begin_create_or_update_by_id(
        f"/subscriptions/{sub}/providers/Microsoft.Insights/diagnosticSettings/to-{name}", setting,
        api_version=DIAG_API).result()
    return ws.id, ws.customer_id


def test_a_provider_queries_customer_workspaces_across_tenants(la_mgmt, resource_client, logs):
    from azure.monitor.query import LogsQueryStatus

    fab_id, fab = make_workspace(la_mgmt, resource_client, "admin@fabrikam.onmicrosoft.com", FABRIKAM_PROD, "rg-web")
    tail_id, tail = make_workspace(la_mgmt, resource_client, "admin@tailspin.onmicrosoft.com", TAILSPIN_PROD,
                                   "rg-apps")
    # alice (Contoso MSP) works in both customers through the delegations: create, then delete
    rg = unique_name("rg-la")
    for sub in (FABRIKAM_PROD, TAILSPIN_PROD):
        rc = resource_client("alice@contosomsp.onmicrosoft.com", sub)
        rc.resource_groups.create_or_update(rg, {"location": "westeurope"})
        rc.resource_groups.begin_delete(rg).result()

    client = logs("msp-automation", audience=LA_AUDIENCE)
    r = client.query_workspace(fab, "AzureActivity | where OperationNameValue has 'write' "
                                    "| where Caller == 'alice@contosomsp.onmicrosoft.com' "
                                    "| project Caller, TenantId, Claims_d, ResourceGroup",
                               timespan=timedelta(hours=1))
    assert r.status == LogsQueryStatus.SUCCESS
    t = r.tables[0]
    assert t.columns == ["Caller", "TenantId", "Claims_d", "ResourceGroup"]
    assert len(t.rows) == 2, t.rows  # Begin + End of the PUT
    for row in t.rows:
        assert row[0] == "alice@contosomsp.onmicrosoft.com"
        assert row[1] == fab  # TenantId: the workspace id, as Log Analytics fills it
        claims = json.loads(row[2])
        assert claims["http://schemas.microsoft.com/identity/claims/tenantid"] == CONTOSO
        assert row[3] == rg.upper()

    # one query over both customers' workspaces, rows tagged by workspace and subscription
    q = ("AzureActivity | where Caller == 'alice@contosomsp.onmicrosoft.com' and OperationNameValue endswith '/DELETE' "
         "| summarize n = count() by TenantId, SubscriptionId, bin(TimeGenerated, 1h) | render table")
    r = client.query_workspace(fab, q, timespan=timedelta(days=1), additional_workspaces=[tail_id])
    assert r.status == LogsQueryStatus.SUCCESS
    got = {(row[0], row[1]): row[3] for row in r.tables[0].rows}
    assert got == {(fab, FABRIKAM_PROD): 2, (tail, TAILSPIN_PROD): 2}, got
    # the same through workspace("…") in the query (the default audience: the emulator's URL)
    r = logs("msp-automation").query_workspace(
        fab, f"union AzureActivity, workspace('{tail}').AzureActivity | distinct TenantId", timespan=None)
    assert sorted(row[0] for row in r.tables[0].rows) == sorted([fab, tail])
    # datetimes come back as datetimes
    r = client.query_workspace(fab, "AzureActivity | take 1 | project TimeGenerated", timespan=None)
    assert r.tables[0].rows[0][0].year >= 2026

    # a principal without a role on the workspace: the API's 403
    with pytest.raises(HttpResponseError) as e:
        logs("admin@northwind.onmicrosoft.com", audience=LA_AUDIENCE).query_workspace(
            fab, "AzureActivity | count", timespan=None)
    assert e.value.status_code == 403
    assert "InsufficientAccessError" in str(e.value)

    # a workspace in the list the caller cannot read: a partial result
    from azure.monitor.query import LogsQueryPartialResult
    nw = unique_name("ws")
    la_mgmt("admin@northwind.onmicrosoft.com", "20000000-0000-0000-0000-000000003001").workspaces \
        .begin_create_or_update("rg-private", nw, {"location": "westeurope"}).result()
    r = client.query_workspace(fab, "AzureActivity | count", timespan=None, additional_workspaces=[nw])
    assert isinstance(r, LogsQueryPartialResult)
    assert r.partial_error.code == "PartialError"


def test_workspaces_list_show_delete_and_shared_keys_refused(la_mgmt):
    from azure.mgmt.loganalytics.models import Workspace

    c = la_mgmt("admin@fabrikam.onmicrosoft.com", FABRIKAM_PROD)
    name = unique_name("ws")
    ws = c.workspaces.begin_create_or_update("rg-data", name, Workspace(location="westeurope")).result()
    assert name in [w.name for w in c.workspaces.list()]
    assert name in [w.name for w in c.workspaces.list_by_resource_group("rg-data")]
    assert c.workspaces.get("rg-data", name).customer_id == ws.customer_id
    with pytest.raises(HttpResponseError) as e:
        c.shared_keys.get_shared_keys("rg-data", name)
    assert e.value.status_code == 403 and e.value.error.code == "KeyBasedAuthenticationNotPermitted"
    c.workspaces.begin_delete("rg-data", name).result()
    assert name not in [w.name for w in c.workspaces.list()]


def test_logs_query_client_with_its_default_endpoint_through_the_proxy(la_mgmt, resource_client, creds):
    """No endpoint given: https://api.loganalytics.io, reached through HTTPS_PROXY (as `env` prints it)."""
    from azure.monitor.query import LogsQueryClient, LogsQueryStatus

    _, fab = make_workspace(la_mgmt, resource_client, "admin@fabrikam.onmicrosoft.com", FABRIKAM_PROD, "rg-web")
    client = LogsQueryClient(creds.for_principal("msp-automation"))
    r = client.query_workspace(fab, "AzureActivity | where OperationNameValue has 'diagnosticSettings' | count",
                               timespan=timedelta(hours=1))
    assert r.status == LogsQueryStatus.SUCCESS
    assert r.tables[0].rows[0][0] >= 2  # the setting's own creation (Begin + End) is streamed


def test_query_batch(la_mgmt, resource_client, logs):
    """LogsQueryClient.query_batch: $batch answers each query as on its own, errors included."""
    from azure.monitor.query import LogsBatchQuery, LogsQueryError, LogsQueryStatus

    _, fab = make_workspace(la_mgmt, resource_client, "admin@fabrikam.onmicrosoft.com", FABRIKAM_PROD, "rg-web")
    got = logs("msp-automation", audience=LA_AUDIENCE).query_batch([
        LogsBatchQuery(fab, "AzureActivity | count", timespan=timedelta(hours=1)),
        LogsBatchQuery(fab, "AzureActivity | wher x", timespan=None),
    ])
    assert got[0].status == LogsQueryStatus.SUCCESS and got[0].tables[0].rows[0][0] >= 2
    assert isinstance(got[1], LogsQueryError) and got[1].code == "BadArgumentError"
