"""Alerts that fire, with the unmodified azure-mgmt-monitor: an activity-log alert in fabrikam-prod whose
action group calls a local HTTP server (the provider's automation) when alice, through Contoso's delegation,
deletes a resource group there; a scheduled query rule that fires once the emulator clock passes its
frequency; and the Azure Lighthouse sample delegation-alert-for-customer, whose e-mail is in the outbox
when fabrikam-dev is delegated."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from conftest import CONTOSO, FABRIKAM_PROD, unique_name

FABRIKAM_DEV = "20000000-0000-0000-0000-000000002002"
MSP_OPERATORS = "30000000-0000-0000-0000-000000001101"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
ALICE = "alice@contosomsp.onmicrosoft.com"
ALERTS_API = "2019-05-05-preview"
SAMPLE = (Path(__file__).resolve().parents[1] / "templates" / "lighthouse" / "templates"
          / "delegation-alert-for-customer" / "delegationAlert.json")


class Hook:
    """A local HTTP server that keeps the JSON bodies POSTed to it."""

    def __init__(self):
        self.bodies: list[dict] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                n = int(self.headers.get("Content-Length") or 0)
                hook.bodies.append(json.loads(self.rfile.read(n) or b"null"))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, n: int, seconds: float = 15) -> list[dict]:
        deadline = time.monotonic() + seconds
        while len(self.bodies) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        return list(self.bodies)

    def close(self):
        self.server.shutdown()


@pytest.fixture
def hook():
    h = Hook()
    yield h
    h.close()


@pytest.fixture
def monitor(emulator, creds):
    from azure.mgmt.monitor import MonitorManagementClient

    def make(name: str, subscription: str):
        return MonitorManagementClient(creds.for_principal(name), subscription, base_url=emulator.url)

    return make


def outbox(emulator, kind: str) -> list[dict]:
    r = emulator.admin("GET", f"/_emulator/outbox?kind={kind}")
    assert r.status_code == 200, r.text
    return r.json()["value"]


def alerts(emulator, token: str, sub: str) -> list[dict]:
    r = emulator.arm("GET", f"/subscriptions/{sub}/providers/Microsoft.AlertsManagement/alerts"
                            f"?api-version={ALERTS_API}", token)
    assert r.status_code == 200, r.text
    return r.json()["value"]


def test_alice_deleting_a_group_calls_the_providers_webhook(emulator, creds, monitor, resource_client, hook):
    from azure.mgmt.monitor.models import (ActionGroupResource, ActivityLogAlertResource, ActionList,
                                           AlertRuleAllOfCondition, AlertRuleAnyOfOrLeafCondition,
                                           ActionGroup, EmailReceiver, WebhookReceiver)

    mon = monitor(ALICE, FABRIKAM_PROD)
    ag = mon.action_groups.create_or_update("rg-web", unique_name("ag"), ActionGroupResource(
        location="Global", group_short_name="msp-auto", enabled=True,
        email_receivers=[EmailReceiver(name="ops", email_address="ops@contosomsp.example")],
        webhook_receivers=[WebhookReceiver(name="automation", service_uri=hook.url,
                                           use_common_alert_schema=True)]))
    assert ag.email_receivers[0].status == "Enabled"
    rule_name = unique_name("rg-deleted")
    rule = mon.activity_log_alerts.create_or_update("rg-web", rule_name, ActivityLogAlertResource(
        location="Global", scopes=[f"/subscriptions/{FABRIKAM_PROD}"], enabled=True,
        condition=AlertRuleAllOfCondition(all_of=[
            AlertRuleAnyOfOrLeafCondition(field="category", equals="Administrative"),
            AlertRuleAnyOfOrLeafCondition(field="operationName",
                                          equals="Microsoft.Resources/subscriptions/resourceGroups/delete"),
            AlertRuleAnyOfOrLeafCondition(field="status", equals="Succeeded")]),
        actions=ActionList(action_groups=[ActionGroup(action_group_id=ag.id,
                                                      webhook_properties={"customer": "fabrikam"})])))
    assert rule.enabled

    rc = resource_client(ALICE, FABRIKAM_PROD)
    rg = unique_name("rg-doomed")
    rc.resource_groups.create_or_update(rg, {"location": "westeurope"})
    rc.resource_groups.begin_delete(rg).result()

    got = hook.wait_for(1)
    assert len(got) == 1, got
    payload = got[0]
    assert payload["schemaId"] == "azureMonitorCommonAlertSchema"
    ess = payload["data"]["essentials"]
    assert ess["alertRule"] == rule_name
    assert ess["alertTargetIDs"] == [f"/subscriptions/{FABRIKAM_PROD}/resourcegroups/{rg}".lower()]
    assert ess["alertId"].startswith(f"/subscriptions/{FABRIKAM_PROD}/providers/Microsoft.AlertsManagement/alerts/")
    assert payload["data"]["alertContext"]["caller"] == ALICE
    assert payload["data"]["customProperties"] == {"customer": "fabrikam"}

    # the alert is listed for the customer and, through the delegation, for the provider
    for who in ("admin@fabrikam", ALICE):
        mine = [a for a in alerts(emulator, creds.token(who), FABRIKAM_PROD) if a["name"] == rule_name]
        assert len(mine) == 1, who
        assert mine[0]["properties"]["essentials"]["alertState"] == "New"
    mails = [m for m in outbox(emulator, "email") if m["alertRule"] == rule_name]
    assert [m["to"] for m in mails] == ["ops@contosomsp.example"]


def test_a_scheduled_query_rule_fires_after_the_clock_moves(emulator, creds, monitor, hook):
    from azure.mgmt.loganalytics import LogAnalyticsManagementClient
    from azure.mgmt.loganalytics.models import Workspace
    from azure.mgmt.monitor.models import (ActionGroupResource, Actions, Condition, ConditionFailingPeriods,
                                           ScheduledQueryRuleCriteria, ScheduledQueryRuleResource,
                                           WebhookReceiver)

    who = "admin@fabrikam"
    la = LogAnalyticsManagementClient(creds.for_principal(who), FABRIKAM_PROD, base_url=emulator.url)
    ws = la.workspaces.begin_create_or_update("rg-web", unique_name("ws"), Workspace(location="westeurope")).result()
    mon = monitor(who, FABRIKAM_PROD)
    ag = mon.action_groups.create_or_update("rg-web", unique_name("ag"), ActionGroupResource(
        location="Global", group_short_name="sqr", enabled=True,
        webhook_receivers=[WebhookReceiver(name="hook", service_uri=hook.url, use_common_alert_schema=True)]))
    name = unique_name("errors")
    rule = mon.scheduled_query_rules.create_or_update("rg-web", name, ScheduledQueryRuleResource(
        location="westeurope", severity=1, enabled=True, scopes=[ws.id],
        evaluation_frequency=timedelta(minutes=5), window_size=timedelta(minutes=5),
        criteria=ScheduledQueryRuleCriteria(all_of=[Condition(
            query="AppErrors_CL | where Level == 'Error'", time_aggregation="Count", operator="GreaterThan",
            threshold=0, failing_periods=ConditionFailingPeriods(number_of_evaluation_periods=1,
                                                                 min_failing_periods_to_alert=1))]),
        actions=Actions(action_groups=[ag.id])))
    assert rule.evaluation_frequency == timedelta(minutes=5)
    r = emulator.admin("POST", f"/_emulator/logs/{ws.customer_id}/AppErrors_CL",
                       json=[{"Level": "Error", "Message": "disk full"}])
    assert r.status_code == 200, r.text
    assert hook.wait_for(1, 0.5) == []
    emulator.advance_clock("PT6M")
    got = hook.wait_for(1)
    assert len(got) == 1, got
    ess = got[0]["data"]["essentials"]
    assert ess["alertRule"] == name and ess["signalType"] == "Log" and ess["severity"] == "Sev1"
    assert got[0]["data"]["alertContext"]["condition"]["allOf"][0]["metricValue"] == 1


def test_the_delegation_alert_sample_emails_when_a_subscription_is_delegated(emulator, creds, resource_client):
    from azure.mgmt.loganalytics import LogAnalyticsManagementClient
    from azure.mgmt.loganalytics.models import Workspace
    from azure.mgmt.resource.resources.models import GenericResource

    who = "admin@fabrikam"
    la = LogAnalyticsManagementClient(creds.for_principal(who), FABRIKAM_DEV, base_url=emulator.url)
    ws = la.workspaces.begin_create_or_update("rg-dev", unique_name("ws"), Workspace(location="westeurope")).result()
    rc = resource_client(who, FABRIKAM_DEV)
    rc.resources.begin_create_or_update_by_id(
        f"/subscriptions/{FABRIKAM_DEV}/providers/Microsoft.Insights/diagnosticSettings/{unique_name('to-ws')}",
        GenericResource(properties={"workspaceId": ws.id, "logs": [{"category": "Administrative", "enabled": True}]}),
        api_version="2021-05-01-preview").result()
    from azure.mgmt.resource.deployments import DeploymentsMgmtClient

    deployments = DeploymentsMgmtClient(creds.for_principal(who), FABRIKAM_DEV, base_url=emulator.url)
    template = json.loads(SAMPLE.read_text())
    d = deployments.deployments.begin_create_or_update("rg-dev", unique_name("delegation-alert"), {
        "properties": {"mode": "Incremental", "template": template, "parameters": {
            "logAnalyticsResourceId": {"value": ws.id},
            "logAnalyticsWorkspaceLocation": {"value": "westeurope"},
            "actionGroupNameOrId": {"value": "geneva"},
            "emailAddress": {"value": "security@fabrikam.example"}}}}).result()
    assert d.properties.provisioning_state == "Succeeded"
    before = len(outbox(emulator, "email"))

    # fabrikam-dev is delegated to Contoso MSP
    def_id = "70000000-0000-0000-0000-0000000ad1e7"
    token = creds.token(who)
    r = emulator.arm("PUT", f"/subscriptions/{FABRIKAM_DEV}/providers/Microsoft.ManagedServices/registrationDefinitions/"
                            f"{def_id}?api-version=2022-10-01", token, json={"properties": {
                                "registrationDefinitionName": "Contoso MSP - monitoring", "description": "alerts",
                                "managedByTenantId": CONTOSO, "authorizations": [
                                    {"principalId": MSP_OPERATORS, "principalIdDisplayName": "MSP Operators",
                                     "roleDefinitionId": CONTRIBUTOR}]}})
    assert r.status_code in (200, 201), r.text
    r = emulator.arm("PUT", f"/subscriptions/{FABRIKAM_DEV}/providers/Microsoft.ManagedServices/registrationAssignments/"
                            f"70000000-0000-0000-0000-0000000bd1e7?api-version=2022-10-01", token, json={
                                "properties": {"registrationDefinitionId": f"/subscriptions/{FABRIKAM_DEV}/providers/"
                                               f"Microsoft.ManagedServices/registrationDefinitions/{def_id}"}})
    assert r.status_code in (200, 201), r.text
    emulator.advance_clock("PT6M")
    mails = outbox(emulator, "email")[before:]
    assert len(mails) == 1, mails
    assert mails[0]["to"] == "security@fabrikam.example"
    assert mails[0]["subject"] == "Azure Delegated Resource Management"
    assert mails[0]["alertRule"] == "armDelegation"
