"""The Logs Ingestion API with the unmodified SDK: admin@fabrikam makes a workspace, a data collection
endpoint and a data collection rule (a declared custom stream, two data flows: one through a KQL
transformation into AppEvents_CL, one passed through into AppRaw_CL); fabrikam-ci is refused until it
holds Monitoring Metrics Publisher on the rule; then azure-monitor-ingestion's LogsIngestionClient
uploads rows (gzip, as the SDK always sends) and LogsQueryClient reads them back."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
from azure.core.exceptions import HttpResponseError

from conftest import FABRIKAM_PROD, unique_name

DCR_API = "2023-03-11"
METRICS_PUBLISHER = "3913510d-42f4-4e42-8a64-420c390055eb"
ADMIN = "admin@fabrikam.onmicrosoft.com"


def test_rows_uploaded_through_a_rule_are_queried_back(emulator, creds, resource_client):
    from azure.mgmt.loganalytics import LogAnalyticsManagementClient
    from azure.monitor.ingestion import LogsIngestionClient
    from azure.monitor.query import LogsQueryClient, LogsQueryStatus

    rg = "rg-web"
    la = LogAnalyticsManagementClient(creds.for_principal(ADMIN), FABRIKAM_PROD, base_url=emulator.url)
    ws = la.workspaces.begin_create_or_update(rg, unique_name("ws"), {"location": "westeurope"}).result()
    rc = resource_client(ADMIN, FABRIKAM_PROD)
    base = f"/subscriptions/{FABRIKAM_PROD}/resourceGroups/{rg}/providers/Microsoft.Insights"
    dce = rc.resources.begin_create_or_update_by_id(
        f"{base}/dataCollectionEndpoints/{unique_name('dce')}", {"location": "westeurope"},
        api_version=DCR_API).result()
    endpoint = dce.properties["logsIngestion"]["endpoint"]
    assert dce.properties["immutableId"].startswith("dce-")
    rule = {
        "location": "westeurope",
        "properties": {
            "dataCollectionEndpointId": dce.id,
            "streamDeclarations": {"Custom-AppEvents": {"columns": [
                {"name": "TimeGenerated", "type": "datetime"}, {"name": "Message", "type": "string"},
                {"name": "Severity", "type": "string"}, {"name": "Count", "type": "int"}]}},
            "destinations": {"logAnalytics": [{"name": "la", "workspaceResourceId": ws.id}]},
            "dataFlows": [
                {"streams": ["Custom-AppEvents"], "destinations": ["la"],
                 "transformKql": "source | where Severity != 'debug' "
                                 "| extend Level = toupper(Severity) | project TimeGenerated, Message, Level, Count",
                 "outputStream": "Custom-AppEvents_CL"},
                {"streams": ["Custom-AppEvents"], "destinations": ["la"], "transformKql": "source",
                 "outputStream": "Custom-AppRaw_CL"},
            ],
        },
    }
    dcr = rc.resources.begin_create_or_update_by_id(
        f"{base}/dataCollectionRules/{unique_name('dcr')}", rule, api_version=DCR_API).result()
    immutable = dcr.properties["immutableId"]
    assert immutable.startswith("dcr-") and dcr.properties["provisioningState"] == "Succeeded"

    now = datetime.now(timezone.utc)
    rows = [{"TimeGenerated": (now - timedelta(minutes=i)).isoformat(), "Message": f"event {i}",
             "Severity": ["info", "error", "debug"][i % 3], "Count": i} for i in range(6)]

    ci = creds.for_principal("fabrikam-ci")
    client = LogsIngestionClient(endpoint=endpoint, credential=ci)
    # Contributor holds no data action: refused as the service refuses it
    with pytest.raises(HttpResponseError) as e:
        client.upload(rule_id=immutable, stream_name="Custom-AppEvents", logs=rows)
    assert e.value.status_code == 403
    assert "OperationFailed" in str(e.value) and immutable in str(e.value)

    r = emulator.arm("PUT", f"{dcr.id}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}"
                            "?api-version=2022-04-01", creds.token(ADMIN),
                     json={"properties": {
                         "roleDefinitionId": f"/subscriptions/{FABRIKAM_PROD}/providers/Microsoft.Authorization/"
                                             f"roleDefinitions/{METRICS_PUBLISHER}",
                         "principalId": "30000000-0000-0000-0000-000000002121",
                         "principalType": "ServicePrincipal"}})
    assert r.status_code == 201, r.text
    client.upload(rule_id=immutable, stream_name="Custom-AppEvents", logs=rows)

    # an undeclared stream is refused
    with pytest.raises(HttpResponseError) as e:
        client.upload(rule_id=immutable, stream_name="Custom-Other", logs=rows)
    assert e.value.status_code == 400

    q = LogsQueryClient(creds.for_principal(ADMIN), endpoint=f"{emulator.url}/v1")
    r = q.query_workspace(ws.customer_id, "AppEvents_CL | order by Count asc | project Message, Level, Count",
                          timespan=timedelta(hours=1))
    assert r.status == LogsQueryStatus.SUCCESS
    assert [list(x) for x in r.tables[0].rows] == [
        ["event 0", "INFO", 0], ["event 1", "ERROR", 1], ["event 3", "INFO", 3], ["event 4", "ERROR", 4]]
    r = q.query_workspace(ws.customer_id, "AppRaw_CL | summarize n = count() by Severity | order by Severity asc",
                          timespan=timedelta(hours=1))
    assert [list(x) for x in r.tables[0].rows] == [["debug", 2], ["error", 2], ["info", 2]]
