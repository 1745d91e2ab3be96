//! How each x-ms-example of Microsoft.AlertsManagement's alerts spec (2025-05-25-preview) maps onto
//! the default world: an activity log alert rule on fabrikam-prod fires when a resource group is
//! written, so the subscription has one alert; admin@fabrikam lists it, reads it and acknowledges it
//! by the id the emulator gave it. The other operations of the spec are not served.

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

const RESOLVED: &str = "the example's alert is resolved (monitorConditionResolvedDateTime); the emulator's activity log alert is fired and stays so, as Azure's activity log alerts do (they are stateless)";
const CUSTOM: &str = "the example's alert carries customProperties from its action rule; the emulator's rule sets none (its webhook properties go to the action group's payload)";
const NOT_SERVED: &str = "the emulator serves Alerts_GetAll, Alerts_GetById and Alerts_ChangeState at subscription scope only (src/providers/alertsmanagement.rs); this operation is not modelled";

pub fn alerts(name: &str) -> Option<Plan> {
    match name {
        "Alerts_List" => fired()
            .missing(
                ".nextLink",
                "the emulator answers the subscription's alerts in one page and gives no nextLink",
            )
            .missing(".value[].properties.essentials.monitorConditionResolvedDateTime", RESOLVED)
            .missing(".value[].properties.customProperties*", CUSTOM)
            .missing(
                ".value[].properties.context.*",
                "the example's context is a Log Analytics search alert's (AlertRuleName, SearchQuery, …); the emulator's alert is an activity log alert, whose context is the common alert schema's data",
            )
            .go(),
        "Alerts_GetById" => by_id(fired())
            .missing(".properties.essentials.monitorConditionResolvedDateTime", RESOLVED)
            .missing(".properties.customProperties*", CUSTOM)
            .go(),
        "Alerts_ChangeState" => by_id(fired())
            .missing(".properties.essentials.monitorConditionResolvedDateTime", RESOLVED)
            .go(),
        "Alerts_GetEnrichments" | "Alerts_History" | "Alerts_Summary" | "Alerts_List_GetAllTenant"
        | "Alerts_GetByIdTenant" | "Alerts_ChangeStateTenant" | "Alerts_GetHistoryTenant"
        | "AlertsMetaData_MonitorService" | "Operations_List" => Some(Plan::Excluded(NOT_SERVED)),
        _ => None,
    }
}
