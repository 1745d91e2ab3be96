//! How each x-ms-example of the Azure Monitor alert specs (actionGroups.json 2026-09-01,
//! activityLogAlerts_API.json 2020-10-01, scheduledQueryRule_API.json 2018-04-16 and 2023-12-01) maps
//! onto the default world: every example's subscription is fabrikam-prod and its resource group
//! rg-web, admin@fabrikam asks, and the resource an example reads, patches or deletes is first made
//! with the body of the same spec's create example.

use crate::spec_plans::{Case, Plan};
use crate::*;
use serde_json::{json, Value};

fn example(dir: &str, name: &str) -> Value {
    let path = format!(
        "{}/tests/spec-examples/{dir}/examples/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn base(example_subs: &[&str]) -> Case {
    let mut c = Case::new("admin@fabrikam", &[]).set("resourceGroupName", json!("rg-web"));
    for s in example_subs {
        c = c.sub(s, FABRIKAM_PROD);
    }
    c.set("subscriptionId", json!(FABRIKAM_PROD))
}

fn rg_path(kind: &str, name: &str, api: &str) -> String {
    format!("/subscriptions/{FABRIKAM_PROD}/resourceGroups/rg-web/providers/Microsoft.Insights/{kind}/{name}?api-version={api}")
}

/// The create example's body with the world's subscription in it.
fn body_of(dir: &str, create: &str, param: &str, from: &[&str]) -> Value {
    let mut text = example(dir, create)["parameters"][param].to_string();
    for f in from {
        text = text.replace(f, FABRIKAM_PROD);
    }
    serde_json::from_str(&text).unwrap()
}

const AG_SUB: &str = "187f412d-1758-44d9-b052-169e2564721d";
const AG_TEST_SUB: &str = "11111111-1111-1111-1111-111111111111";

pub fn action_groups(name: &str) -> Option<Plan> {
    let dir = "actiongroups/2026-09-01";
    let existing = |c: Case| {
        c.setup(
            "PUT",
            rg_path("actionGroups", "SampleActionGroup", "2026-09-01"),
            Some(body_of(
                dir,
                "createOrUpdateActionGroup",
                "actionGroup",
                &[AG_SUB],
            )),
        )
    };
    const UAI: &str = "the example's user-assigned identities live in a subscription the world does not have (ARM would refuse them); the emulator keeps them as sent, without the principal and client ids only their resources would have";
    const SYSTEM: &str = "the example's identity, user-assigned at create, is made system-assigned by the PATCH: the emulator gives an identity its ids when a PUT asks for it";
    match name {
        "createOrUpdateActionGroup" => base(&[AG_SUB]).go(),
        "getActionGroup" => existing(base(&[AG_SUB]))
            .missing(".identity.userAssignedIdentities*", UAI)
            .go(),
        "listActionGroups" | "listActionGroupsByResourceGroup" => existing(base(&[AG_SUB]))
            .missing(".value[].identity.userAssignedIdentities*", UAI)
            .missing(".value[].identity.principalId", UAI)
            .missing(".value[].identity.tenantId", UAI)
            .go(),
        "patchActionGroup" => existing(base(&[AG_SUB]))
            .missing(".identity.principalId", SYSTEM)
            .missing(".identity.tenantId", SYSTEM)
            .go(),
        "deleteActionGroup" | "enableReceiver" => existing(base(&[AG_SUB])).go(),
        "postTestNotificationsAtActionGroupResourceLevel" => base(&[AG_TEST_SUB])
            .set("actionGroupName", json!("TestAgName"))
            .setup(
                "PUT",
                rg_path("actionGroups", "TestAgName", "2026-09-01"),
                Some(json!({"location": "Global", "properties": {"groupShortName": "test", "enabled": true}})),
            )
            .go(),
        "getTestNotificationsAtActionGroupResourceLevel" => Some(Plan::Excluded(
            "the example reads the status of a notification id ('11000222191287') that only the service has issued; the emulator's own test notifications are read back in tests/emulator/alerts.rs",
        )),
        _ => None,
    }
}

pub fn activity_log_alerts(name: &str) -> Option<Plan> {
    let dir = "activitylogalerts/2020-10-01";
    let existing = |c: Case| {
        c.setup(
            "PUT",
            rg_path(
                "activityLogAlerts",
                "SampleActivityLogAlertRule",
                "2020-10-01",
            ),
            Some(body_of(
                dir,
                "ActivityLogAlertRule_CreateOrUpdate",
                "activityLogAlertRule",
                &[AG_SUB],
            )),
        )
    };
    match name {
        "ActivityLogAlertRule_CreateOrUpdate"
        | "ActivityLogAlertRule_CreateOrUpdateRuleWithAnyOfCondition"
        | "ActivityLogAlertRule_CreateOrUpdateRuleWithContainsAny" => base(&[AG_SUB]).go(),
        "ActivityLogAlertRule_Get"
        | "ActivityLogAlertRule_Update"
        | "ActivityLogAlertRule_ListBySubscriptionId"
        | "ActivityLogAlertRule_ListByResourceGroupName" => existing(base(&[AG_SUB])).go(),
        // the example names the rule `alertRuleName`, the swagger's path `activityLogAlertName`
        "ActivityLogAlertRule_Delete" => existing(base(&[AG_SUB]))
            .set("alertRuleName", Value::Null)
            .set("activityLogAlertName", json!("SampleActivityLogAlertRule"))
            .go(),
        _ => None,
    }
}

const SQR_SUBS_2018: &[&str] = &[
    "b67f7fec-69fc-4974-9099-a26bd6ffeda3",
    "af52d502-a447-4bc6-8cb7-4780fbb00490",
    "14ddf0c5-77c5-4b53-84f6-e1fa43ad68f7",
    "subid",
];

/// A workspace the 2018 examples' `dataSourceId` points at.
fn sample_workspace(c: Case) -> Case {
    c.setup(
        "PUT",
        format!("/subscriptions/{FABRIKAM_PROD}/resourceGroups/rg-web/providers/Microsoft.OperationalInsights/workspaces/sampleWorkspace?api-version=2025-07-01"),
        Some(json!({"location": "eastus"})),
    )
}

const NO_LOCATION: &str = "the example's create request sends no location, and its response says 'eastus': the emulator stores the rule as sent";

pub fn scheduled_query_rules_2018(name: &str) -> Option<Plan> {
    let dir = "scheduledqueryrules/2018-04-16";
    let existing = |c: Case| {
        c.setup(
            "PUT",
            rg_path("scheduledQueryRules", "logalertfoo", "2018-04-16"),
            Some(body_of(
                dir,
                "createOrUpdateScheduledQueryRules",
                "parameters",
                SQR_SUBS_2018,
            )),
        )
    };
    match name {
        "createOrUpdateScheduledQueryRules"
        | "getScheduledQueryRules"
        | "patchScheduledQueryRules" => existing(base(SQR_SUBS_2018))
            .missing(".location", NO_LOCATION)
            .go(),
        "createOrUpdateScheduledQueryRuleswithCrossResource" => base(SQR_SUBS_2018).go(),
        "createOrUpdateScheduledQueryRule-LogToMetricAction" => {
            const SENT: &str = "a log-to-metric rule has no query or schedule: the example's response shows a query and a schedule its request does not send, and the emulator stores what was sent";
            base(SQR_SUBS_2018)
                .missing(".properties.schedule", SENT)
                .missing(".properties.source.query", SENT)
                .go()
        }
        "deleteScheduledQueryRules" => existing(base(SQR_SUBS_2018)).go(),
        // the example says api-version 2018-03-01, which the service answers for this type too
        "listScheduledQueryRules" => sample_workspace(existing(base(SQR_SUBS_2018)))
            .missing(".value[].location", NO_LOCATION)
            .go(),
        _ => None,
    }
}

const SQR_SUBS_2023: &[&str] = &[
    "dd4bfc94-a096-412b-9c43-4bd13e35afbc",
    "aaf177ed-1330-a9f2-80ea-fd3d7783b147",
    "1cf177ed-1330-4692-80ea-fd3d7783b147",
];

pub fn scheduled_query_rules_2023(name: &str) -> Option<Plan> {
    let dir = "scheduledqueryrules/2023-12-01";
    let existing = |c: Case, rule: &str, create: &str| {
        c.setup(
            "PUT",
            rg_path("scheduledQueryRules", rule, "2023-12-01"),
            Some(body_of(dir, create, "parameters", SQR_SUBS_2023)),
        )
    };
    let rg = |c: Case| c.sub("QueryResourceGroupName", "rg-web");
    match name {
        "createOrUpdateScheduledQueryRule"
        | "createOrUpdateScheduledQueryRuleResourceGroup"
        | "createOrUpdateScheduledQueryRuleSubscription" => rg(base(SQR_SUBS_2023)).go(),
        "getScheduledQueryRule" => {
            existing(rg(base(SQR_SUBS_2023)), "perf", "createOrUpdateScheduledQueryRule").go()
        }
        // the listed rules have `targetResourceTypes` and `actionProperties`, as the subscription
        // example's; their `resolveConfiguration` (the swagger's name) the create examples send as
        // `ruleResolveConfiguration`
        "listScheduledQueryRulesBySubscription" => existing(
            existing(rg(base(SQR_SUBS_2023)), "perf", "createOrUpdateScheduledQueryRuleSubscription"),
            "heartbeat",
            "createOrUpdateScheduledQueryRuleResourceGroup",
        )
        .go(),
        "listScheduledQueryRulesByResourceGroup" => existing(
            existing(rg(base(SQR_SUBS_2023)), "perf", "createOrUpdateScheduledQueryRuleSubscription"),
            "heartbeat",
            "createOrUpdateScheduledQueryRuleResourceGroup",
        )
        .missing(
            ".value[].properties.resolveConfiguration*",
            "the create examples send `ruleResolveConfiguration` (not the swagger's `resolveConfiguration`); the emulator keeps what was sent",
        )
        .go(),
        "patchScheduledQueryRule" | "deleteScheduledQueryRule" => existing(
            rg(base(SQR_SUBS_2023)),
            "heartbeat",
            "createOrUpdateScheduledQueryRuleResourceGroup",
        )
        .go(),
        _ => None,
    }
}
