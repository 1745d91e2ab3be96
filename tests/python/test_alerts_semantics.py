"""Log search alert semantics with the unmodified azure-mgmt-monitor: a stateful scheduled query rule split by
a dimension fires one alert per user over the threshold (the dimension values in the common schema's
alertContext) and, after three clear 5-minute evaluations, resolves each one and calls the webhook again with
monitorCondition Resolved."""

from __future__ import annotations

from datetime import timedelta

from conftest import FABRIKAM_PROD, unique_name
from test_alerts import alerts, hook, monitor, outbox  # noqa: F401 (hook, monitor: fixtures)


def users(bodies: list[dict]) -> list[str]:
    return sorted(b["data"]["alertContext"]["condition"]["allOf"][0]["dimensions"][0]["value"] for b in bodies)


def test_a_rule_split_by_user_fires_per_user_and_resolves(emulator, creds, monitor, hook):  # noqa: F811 (fixtures)
    from azure.mgmt.loganalytics import LogAnalyticsManagementClient
    from azure.mgmt.loganalytics.models import Workspace
    from azure.mgmt.monitor.models import (ActionGroupResource, Actions, Condition, ConditionFailingPeriods,
                                           Dimension, ScheduledQueryRuleCriteria, ScheduledQueryRuleResource,
                                           WebhookReceiver)

    who = "admin@fabrikam"
    la = LogAnalyticsManagementClient(creds.for_principal(who), FABRIKAM_PROD, base_url=emulator.url)
    ws = la.workspaces.begin_create_or_update("rg-web", unique_name("ws"), Workspace(location="westeurope")).result()
    mon = monitor(who, FABRIKAM_PROD)
    ag = mon.action_groups.create_or_update("rg-web", unique_name("ag"), ActionGroupResource(
        location="Global", group_short_name="dims", enabled=True,
        webhook_receivers=[WebhookReceiver(name="hook", service_uri=hook.url, use_common_alert_schema=True)]))
    name = unique_name("failed-by-user")
    rule = mon.scheduled_query_rules.create_or_update("rg-web", name, ScheduledQueryRuleResource(
        location="westeurope", severity=2, enabled=True, scopes=[ws.id], auto_mitigate=True,
        evaluation_frequency=timedelta(minutes=5), window_size=timedelta(minutes=5),
        criteria=ScheduledQueryRuleCriteria(all_of=[Condition(
            query="Logins_CL | where Result == 'Failed'", time_aggregation="Count", operator="GreaterThan",
            threshold=1, dimensions=[Dimension(name="User", operator="Include", values=["*"])],
            failing_periods=ConditionFailingPeriods(number_of_evaluation_periods=1,
                                                    min_failing_periods_to_alert=1))]),
        actions=Actions(action_groups=[ag.id], custom_properties={"team": "msp"})))
    assert rule.criteria.all_of[0].dimensions[0].name == "User"
    assert rule.auto_mitigate is True
    rows = [{"User": "eve", "Result": "Failed"}] * 3 + [{"User": "bob", "Result": "Failed"}] + \
        [{"User": "mallory", "Result": "Failed"}] * 2
    r = emulator.admin("POST", f"/_emulator/logs/{ws.customer_id}/Logins_CL", json=rows)
    assert r.status_code == 200, r.text

    emulator.advance_clock("PT5M")
    fired = hook.wait_for(2)
    assert len(fired) == 2, fired
    assert users(fired) == ["eve", "mallory"]
    assert {b["data"]["essentials"]["monitorCondition"] for b in fired} == {"Fired"}
    assert all(b["data"]["customProperties"] == {"team": "msp"} for b in fired)
    by_user = {b["data"]["alertContext"]["condition"]["allOf"][0]["dimensions"][0]["value"]: b for b in fired}
    assert by_user["eve"]["data"]["alertContext"]["condition"]["allOf"][0]["metricValue"] == 3

    # two clear evaluations: still fired; the third resolves both, each with a second notification
    emulator.advance_clock("PT10M")
    mine = [a for a in alerts(emulator, creds.token(who), FABRIKAM_PROD) if a["name"] == name]
    assert sorted(a["properties"]["essentials"]["monitorCondition"] for a in mine) == ["Fired", "Fired"]
    emulator.advance_clock("PT5M")
    got = hook.wait_for(4)
    assert len(got) == 4, got
    resolved = got[2:]
    assert users(resolved) == ["eve", "mallory"]
    for b in resolved:
        ess = b["data"]["essentials"]
        assert ess["monitorCondition"] == "Resolved"
        assert ess["resolvedDateTime"]
        assert ess["alertId"] in {f["data"]["essentials"]["alertId"] for f in fired}
    mine = [a for a in alerts(emulator, creds.token(who), FABRIKAM_PROD) if a["name"] == name]
    assert len(mine) == 2
    for a in mine:
        ess = a["properties"]["essentials"]
        assert ess["monitorCondition"] == "Resolved"
        assert ess["monitorConditionResolvedDateTime"]
    # the outbox keeps both notifications of each alert
    posts = [m for m in outbox(emulator, "webhook") if m["alertRule"] == name]
    assert sorted(m["monitorCondition"] for m in posts) == ["Fired", "Fired", "Resolved", "Resolved"]
