//! How each x-ms-example of Microsoft.AlertsManagement's alerts spec (2025-05-25-preview) maps onto
//! the default world: an activity log alert rule on fabrikam-prod fires when a resource group is
//! written (once per activity-log record of the write); admin@fabrikam lists, reads and acknowledges one
//! by the id the emulator gave it, at its scope and at tenant level; its history (with an action
//! group notified and an acknowledgement), enrichments and summary; the metadata and operations.

use crate::spec_plans::{Case, Plan};
use crate::*;
use serde_json::json;

const API: &str = "api-version=2025-05-25-preview";
const EXAMPLE_SUB: &str = "3b540246-808d-4331-99aa-917b808a9166";

/// An alert fired in fabrikam-prod: the rule, then the write that fires it.
fn fired() -> Case {
    Case::new("admin@fabrikam", &[(EXAMPLE_SUB, FABRIKAM_PROD)])
        .setup(
            "PUT",
            format!("/subscriptions/{FABRIKAM_PROD}/resourceGroups/rg-web/providers/Microsoft.Insights/activityLogAlerts/rg-written?api-version=2020-10-01"),
            Some(json!({"location": "Global", "properties": {
                "scopes": [format!("/subscriptions/{FABRIKAM_PROD}")],
                "condition": {"allOf": [
                    {"field": "category", "equals": "Administrative"},
                    {"field": "operationName", "equals": "Microsoft.Resources/subscriptions/resourceGroups/write"}]},
                "actions": {"actionGroups": []},
                "description": "A resource group was written"}})),
        )
        .setup(
            "PUT",
            format!("/subscriptions/{FABRIKAM_PROD}/resourcegroups/rg-alerted?api-version=2024-11-01"),
            Some(json!({"location": "westeurope"})),
        )
        // Alerts live at the subscription's scope in the emulator (the alert id the common alert
        // schema gives); the examples read one under an Application Insights component.
        .set("scope", json!(format!("subscriptions/{FABRIKAM_PROD}")))
}

/// The fired alert's id, for the examples that name one.
fn by_id(c: Case) -> Case {
    c.pick(
        "alertId",
        format!("/subscriptions/{FABRIKAM_PROD}/providers/Microsoft.AlertsManagement/alerts?{API}"),
        "/value/0/id",
    )
}

/// The fired alert with an action group on its rule (its history has `ActionsTriggered`), then
/// acknowledged with a comment (a `StateChange`).
fn with_history() -> Case {
    let ag = format!("/subscriptions/{FABRIKAM_PROD}/resourceGroups/rg-web/providers/Microsoft.Insights/actionGroups/ops");
    let c = Case::new("admin@fabrikam", &[(EXAMPLE_SUB, FABRIKAM_PROD)])
        .setup(
            "PUT",
            format!("{ag}?api-version=2023-01-01"),
            Some(json!({"location": "Global", "properties": {"groupShortName": "ops", "enabled": true}})),
        )
        .setup(
            "PUT",
            format!("/subscriptions/{FABRIKAM_PROD}/resourceGroups/rg-web/providers/Microsoft.Insights/activityLogAlerts/rg-written?api-version=2020-10-01"),
            Some(json!({"location": "Global", "properties": {
                "scopes": [format!("/subscriptions/{FABRIKAM_PROD}")],
                "condition": {"allOf": [
                    {"field": "category", "equals": "Administrative"},
                    {"field": "operationName", "equals": "Microsoft.Resources/subscriptions/resourceGroups/write"}]},
                "actions": {"actionGroups": [{"actionGroupId": ag}]},
                "description": "A resource group was written"}})),
        )
        .setup(
            "PUT",
            format!("/subscriptions/{FABRIKAM_PROD}/resourcegroups/rg-alerted?api-version=2024-11-01"),
            Some(json!({"location": "westeurope"})),
        )
        .set("scope", json!(format!("subscriptions/{FABRIKAM_PROD}")));
    by_id(c).then(
        "POST",
        format!("/subscriptions/{FABRIKAM_PROD}/providers/Microsoft.AlertsManagement/alerts/{{alertId}}/changestate?newState=Acknowledged&{API}"),
        Some(json!({"comment": "Looking into it"})),
    )
}

const RESOLVED: &str = "the example's alert is resolved (monitorConditionResolvedDateTime); the emulator's activity log alert is fired and stays so, as Azure's activity log alerts do (they are stateless)";
const CUSTOM: &str = "the example's alert carries customProperties from its action rule; the emulator's rule sets none (its webhook properties go to the action group's payload)";
const CONTEXT: &str = "the example's context is a Log Analytics search alert's (AlertRuleName, SearchQuery, …); the emulator's alert is an activity log alert, whose context is the common alert schema's data";
const SUPPRESSED: &str = "the example's history has an ActionsSuppressed entry from alert processing rules (action rules), which the emulator does not model: nothing suppresses its alerts' actions";
const STATUS_URL: &str = "the example's ActionsTriggered entry links to the notification's status; the emulator queues an alert's notifications in its outbox (GET /_emulator/outbox), with no notification-status resource to link to";
const ENRICHMENTS: &str = "enrichments are the results of a Prometheus alert rule's queries; the emulator has no Prometheus rules, so its alerts' enrichment list is empty";

pub fn alerts(name: &str) -> Option<Plan> {
    let history = |c: Case| {
        c.missing(
            ".properties.modifications[].details.suppressedActionGroups*",
            SUPPRESSED,
        )
        .missing(
            ".properties.modifications[].details.suppressionActionRules",
            SUPPRESSED,
        )
        .missing(
            ".properties.modifications[].details.notificationResult.statusURL",
            STATUS_URL,
        )
    };
    match name {
        "Alerts_List" => fired()
            .missing(
                ".nextLink",
                "the emulator answers the subscription's alerts in one page and gives no nextLink",
            )
            .missing(
                ".value[].properties.essentials.monitorConditionResolvedDateTime",
                RESOLVED,
            )
            .missing(".value[].properties.customProperties*", CUSTOM)
            .missing(".value[].properties.context.*", CONTEXT)
            .go(),
        // at tenant level the example's `scope` (no part of the path) goes as a query parameter,
        // which the operation ignores
        "Alerts_List_GetAllTenant" => fired()
            .missing(
                ".nextLink",
                "the emulator answers the caller's alerts in one page and gives no nextLink",
            )
            .missing(
                ".value[].properties.essentials.monitorConditionResolvedDateTime",
                RESOLVED,
            )
            .missing(".value[].properties.customProperties*", CUSTOM)
            .missing(".value[].properties.context.*", CONTEXT)
            .go(),
        "Alerts_GetById" | "Alerts_GetByIdTenant" => by_id(fired())
            .missing(
                ".properties.essentials.monitorConditionResolvedDateTime",
                RESOLVED,
            )
            .missing(".properties.customProperties*", CUSTOM)
            .go(),
        "Alerts_ChangeState" | "Alerts_ChangeStateTenant" => by_id(fired())
            .missing(
                ".properties.essentials.monitorConditionResolvedDateTime",
                RESOLVED,
            )
            .go(),
        "Alerts_History" | "Alerts_GetHistoryTenant" => history(with_history()).go(),
        "Alerts_GetEnrichments" => by_id(fired())
            .missing(".value[].properties.enrichments[]*", ENRICHMENTS)
            .go(),
        "Alerts_Summary" => fired().go(),
        "AlertsMetaData_MonitorService" | "Operations_List" => {
            Case::new("admin@fabrikam", &[]).go()
        }
        _ => None,
    }
}
