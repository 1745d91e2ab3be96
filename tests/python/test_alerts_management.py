"""Microsoft.AlertsManagement with the unmodified azure-mgmt-alertsmanagement (1.0.1, api-version
2019-05-05-preview): an alert fired in fabrikam-prod is acknowledged by alice through Contoso's
delegation with a comment, and its history shows her; the summary counts the subscription's alerts
by severity and state; the monitor-service metadata lists the services."""

from __future__ import annotations

import pytest

from conftest import FABRIKAM_PROD, unique_name

ALICE = "alice@contosomsp.onmicrosoft.com"


@pytest.fixture
def alerts_client(emulator, creds):
    from azure.mgmt.alertsmanagement import AlertsManagementClient

    def make(name: str, subscription: str):
        return AlertsManagementClient(creds.for_principal(name), subscription, base_url=emulator.url)

    return make


def fire(emulator, creds, resource_client, groups: int = 1) -> str:
    """An activity log alert rule on group writes in fabrikam-prod, then `groups` groups written: the
    rule's name."""
    token = creds.token("admin@fabrikam")
    rule = unique_name("rg-written")
    r = emulator.arm(
        "PUT",
        f"/subscriptions/{FABRIKAM_PROD}/resourceGroups/rg-web/providers/Microsoft.Insights/activityLogAlerts/{rule}"
        "?api-version=2020-10-01", token,
        json={"location": "Global", "properties": {
            "scopes": [f"/subscriptions/{FABRIKAM_PROD}"],
            "condition": {"allOf": [
                {"field": "category", "equals": "Administrative"},
                {"field": "operationName", "equals": "Microsoft.Resources/subscriptions/resourceGroups/write"},
                {"field": "status", "equals": "Succeeded"}]},
            "actions": {"actionGroups": []}}})
    assert r.status_code in (200, 201), r.text
    rc = resource_client("admin@fabrikam", FABRIKAM_PROD)
    for _ in range(groups):
        rc.resource_groups.create_or_update(unique_name("rg-alerted"), {"location": "westeurope"})
    return rule


def test_a_delegated_acknowledgement_is_in_the_alerts_history(emulator, creds, resource_client, alerts_client):
    from azure.mgmt.alertsmanagement.models import Comments

    rule = fire(emulator, creds, resource_client)
    theirs = alerts_client(ALICE, FABRIKAM_PROD)
    mine = [a for a in theirs.alerts.get_all() if a.name == rule]
    assert len(mine) == 1
    alert_id = mine[0].id.rsplit("/", 1)[1]

    acked = theirs.alerts.change_state(alert_id, "Acknowledged", Comments(comments="looking into it"))
    assert acked.properties.essentials.alert_state == "Acknowledged"
    assert acked.properties.essentials.last_modified_user_name == ALICE

    history = alerts_client("admin@fabrikam", FABRIKAM_PROD).alerts.get_history(alert_id)
    events = [m.modification_event for m in history.properties.modifications]
    assert events == ["AlertCreated", "StateChange"], events
    change = history.properties.modifications[1]
    assert change.modified_by == ALICE
    assert (change.old_value, change.new_value) == ("New", "Acknowledged")
    assert change.comments == "looking into it"


def test_the_summary_counts_by_severity_and_state(emulator, creds, resource_client, alerts_client):
    emulator.reset()
    fire(emulator, creds, resource_client, groups=2)
    client = alerts_client(ALICE, FABRIKAM_PROD)
    first = next(iter(client.alerts.get_all()))
    client.alerts.change_state(first.id.rsplit("/", 1)[1], "Closed")

    summary = client.alerts.get_summary(groupby="severity,alertState")
    assert summary.properties.total == 2
    assert summary.properties.groupedby == "severity"
    sev4 = next(v for v in summary.properties.values if v.name == "Sev4")
    assert sev4.count == 2
    assert {v.name: v.count for v in sev4.values} == {"New": 1, "Acknowledged": 0, "Closed": 1}


def test_the_monitor_service_list(alerts_client):
    meta = alerts_client("admin@northwind", FABRIKAM_PROD).alerts.meta_data("MonitorServiceList")
    names = [d.name for d in meta.properties.data]
    assert "ActivityLog Administrative" in names and "Log Analytics" in names
