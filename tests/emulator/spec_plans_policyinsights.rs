//! How each x-ms-example of the PolicyInsights specs (policyStates.json and remediations.json,
//! 2024-10-01) maps onto the default world: the examples' subscriptions are fabrikam-prod, their
//! group rg-data, their resources its storage account (or, for the subscription-level ones, a policy
//! definition version at the subscription), their management groups Fabrikam's root, and the policies
//! they query or remediate are made first by admin@fabrikam: an initiative with an audit and a deny
//! member in a group (so states of every kind exist), and a `modify` assignment (or initiative) with a
//! managed identity for the remediations.

use crate::spec_plans::{Case, Plan};
use crate::*;
use serde_json::{json, Value};

const API: &str = "api-version=2025-11-01";
const PI: &str = "api-version=2024-10-01";
const MISSING: &str = "the stored copy of policyStates.json references 38 example files of which 26 are in the repository (22 from the stored copy of the spec, four fetched later from the same folder upstream); this one's file is not";

type Req = (&'static str, String, Option<Value>);

fn sub() -> String {
    format!("/subscriptions/{FABRIKAM_PROD}")
}
fn mg() -> String {
    format!("/providers/Microsoft.Management/managementGroups/{FABRIKAM}")
}
fn put(scope: &str, kind: &str, name: &str, body: Value) -> Req {
    (
        "PUT",
        format!("{scope}/providers/Microsoft.Authorization/{kind}/{name}?{API}"),
        Some(body),
    )
}
fn def_id(scope: &str, name: &str) -> String {
    format!("{scope}/providers/Microsoft.Authorization/policyDefinitions/{name}")
}

/// The examples' states: `env-tags`, an initiative (group `group1`) of an audit and a deny member,
/// assigned at the subscription as `ec8f9645-…`, at rg-data as `myPolicyAssignment`.
fn states_setup() -> Vec<Req> {
    let rule = |effect: &str| {
        json!({"properties": {"mode": "All", "version": "1.0.0", "policyRule": {
            "if": {"allOf": [{"field": "type", "equals": "Microsoft.Storage/storageAccounts"},
                             {"field": "tags['env']", "exists": "false"}]},
            "then": {"effect": effect}}}})
    };
    let set = json!({"properties": {"displayName": "env tags",
        "policyDefinitionGroups": [{"name": "group1"}],
        "policyDefinitions": [
            {"policyDefinitionId": def_id(&sub(), "audit-env"), "policyDefinitionReferenceId": "auditEnv", "groupNames": ["group1"]},
            {"policyDefinitionId": def_id(&sub(), "deny-env"), "policyDefinitionReferenceId": "denyEnv", "groupNames": ["group1"]}]}});
    let set_id = format!(
        "{}/providers/Microsoft.Authorization/policySetDefinitions/env-tags",
        sub()
    );
    vec![
        put(&sub(), "policyDefinitions", "audit-env", rule("audit")),
        put(&sub(), "policyDefinitions", "deny-env", rule("deny")),
        put(&sub(), "policySetDefinitions", "env-tags", set),
        put(
            &sub(),
            "policyAssignments",
            "ec8f9645-8ecb-4abb-9c0b-5292f19d4003",
            json!({"properties": {"policyDefinitionId": set_id}}),
        ),
        put(
            &format!("{}/resourceGroups/rg-data", sub()),
            "policyAssignments",
            "myPolicyAssignment",
            json!({"properties": {"policyDefinitionId": def_id(&sub(), "audit-env")}}),
        ),
    ]
}

pub fn policy_states(name: &str) -> Option<Plan> {
    let sa = format!(
        "{}/resourceGroups/rg-data/providers/Microsoft.Storage/storageAccounts/fabrikamdata",
        sub()
    );
    let mut c = Case::new(
        "admin@fabrikam",
        &[
            ("fffedd8f-ffff-fffd-fffd-fffed2f84852", FABRIKAM_PROD),
            ("fff10b27-fff3-fff5-fff8-fffbe01e86a5", FABRIKAM_PROD),
            ("myManagementGroup", FABRIKAM),
            ("myResourceGroup", "rg-data"),
        ],
    );
    for r in states_setup() {
        c = c.setup(r.0, r.1, r.2);
    }
    let resource = |c: Case, id: String| c.set("resourceId", json!(id.trim_start_matches('/')));
    match name {
        "PolicyStates_QueryResourceScope"
        | "PolicyStates_QueryResourceScopeNextLink"
        | "PolicyStates_SummarizeResourceScope" => resource(c, sa).go(),
        "PolicyStates_QueryNestedResourceScope" => {
            resource(c, format!("{sa}/blobServices/default/containers/reports")).go()
        }
        // a resource below the subscription itself: the definition version the setup made
        "PolicyStates_QuerySubscriptionLevelResourceScope" => resource(
            c,
            format!(
                "{}/providers/Microsoft.Authorization/policySetDefinitions/env-tags",
                sub()
            ),
        )
        .go(),
        "PolicyStates_QuerySubscriptionLevelNestedResourceScope" => {
            resource(c, format!("{}/versions/1.0.0", def_id(&sub(), "audit-env"))).go()
        }
        "PolicyStates_QueryManagementGroupScope"
        | "PolicyStates_QueryManagementGroupScopeNextLink"
        | "PolicyStates_QuerySubscriptionScope"
        | "PolicyStates_QuerySubscriptionScopeNextLink"
        | "PolicyStates_TimeRangeSortSelectTop"
        | "PolicyStates_FilterAndGroupByWithAggregate"
        | "PolicyStates_FilterAndGroupByWithoutAggregate"
        | "PolicyStates_FilterAndAggregateOnly"
        | "PolicyStates_FilterAndMultipleGroups"
        | "PolicyStates_QueryResourceGroupScope"
        | "PolicyStates_QueryResourceGroupScopeNextLink"
        | "PolicyStates_SummarizeResourceGroupScope"
        | "PolicyStates_TriggerSubscriptionEvaluation"
        | "PolicyStates_TriggerResourceGroupEvaluation"
        | "PolicyStates_QuerySubscriptionLevelPolicyAssignmentScope"
        | "PolicyStates_QueryResourceGroupLevelPolicyAssignmentScope"
        | "PolicyStates_QuerySubscriptionLevelPolicyAssignmentScopeNextLink"
        | "PolicyStates_QueryResourceGroupLevelPolicyAssignmentScopeNextLink" => c.go(),
        // the definition the example names is the setup's audit member, assigned at the subscription
        // through the initiative
        "PolicyStates_QuerySubscriptionLevelPolicyDefinitionScopeNextLink" => {
            c.set("policyDefinitionName", json!("audit-env")).go()
        }
        // the initiative the example names is the setup's, assigned at the subscription
        "PolicyStates_QuerySubscriptionLevelPolicySetDefinitionScopeNextLink" => {
            c.set("policySetDefinitionName", json!("env-tags")).go()
        }
        // (an unreferenced next-link example whose parameters name no scope: nothing to map)
        "PolicyStates_QueryManagementGroupScopeNextLinkSkipToken" => Some(Plan::Excluded(
            "the example's parameters hold only a $skiptoken, without the management group its path needs; the emulator answers every query in one page",
        )),
        _ => Some(Plan::Excluded(MISSING)),
    }
}

/// A `modify` definition (tag `owner` on storage accounts) at `scope`, assigned there as
/// `b101830944f246d8a14088c5` with a system-assigned identity; with `initiative`, inside an
/// initiative under the references `8c8fa9e4` and `storageSkuDef`.
fn modify_assignment(def_scope: &str, scope: &str, initiative: bool) -> Vec<Req> {
    let def = json!({"properties": {"mode": "Indexed", "policyRule": {
        "if": {"allOf": [{"field": "type", "equals": "Microsoft.Storage/storageAccounts"},
                         {"field": "tags['owner']", "exists": "false"}]},
        "then": {"effect": "modify", "details": {
            "roleDefinitionIds": ["/providers/Microsoft.Authorization/roleDefinitions/b24988ac-6180-42a0-ab88-20f7382dd24c"],
            "operations": [{"operation": "addOrReplace", "field": "tags['owner']", "value": "platform"}]}}}}});
    let mut out = vec![put(def_scope, "policyDefinitions", "owner-tag", def)];
    let assigned = if initiative {
        let set = json!({"properties": {"policyDefinitions": [
            {"policyDefinitionId": def_id(def_scope, "owner-tag"), "policyDefinitionReferenceId": "8c8fa9e4"},
            {"policyDefinitionId": def_id(def_scope, "owner-tag"), "policyDefinitionReferenceId": "storageSkuDef"}]}});
        out.push(put(def_scope, "policySetDefinitions", "owner-tags", set));
        format!("{def_scope}/providers/Microsoft.Authorization/policySetDefinitions/owner-tags")
    } else {
        def_id(def_scope, "owner-tag")
    };
    out.push(put(
        scope,
        "policyAssignments",
        "b101830944f246d8a14088c5",
        json!({"location": "westeurope", "identity": {"type": "SystemAssigned"},
               "properties": {"policyDefinitionId": assigned}}),
    ));
    out
}

pub fn remediations(name: &str) -> Option<Plan> {
    let rg = format!("{}/resourceGroups/rg-data", sub());
    let mut c = Case::new(
        "admin@fabrikam",
        &[
            ("35ee058e-5fa0-414c-8145-3ebb8d09b6e2", FABRIKAM_PROD),
            ("financeMg", FABRIKAM),
            ("myResourceGroup", "rg-data"),
            ("storAc1", "fabrikamdata"),
        ],
    );
    let scope_of = |n: &str| -> (String, String, String) {
        // (where the remediation lives, where its assignment is, where the definition is)
        if n.contains("ManagementGroup") {
            (mg(), mg(), mg())
        } else if n.contains("ResourceGroup") {
            (rg.clone(), rg.clone(), sub())
        } else if n.contains("ResourceScope") {
            let sa = format!("{rg}/providers/Microsoft.Storage/storageAccounts/fabrikamdata");
            // (the resource-scope list filters on a subscription-level assignment)
            let a = if n == "Remediations_ListResourceScope_WithQuery" {
                sub()
            } else {
                rg.clone()
            };
            (sa, a, sub())
        } else {
            (sub(), sub(), sub())
        }
    };
    let (at, assignment_scope, def_scope) = scope_of(name);
    let initiative = name.contains("AllProperties")
        || name.contains("ResourceIdsFilter")
        || name == "Remediations_ListSubscriptionScope_WithQuery";
    for r in modify_assignment(&def_scope, &assignment_scope, initiative) {
        c = c.setup(r.0, r.1, r.2);
    }
    let assignment = format!("{assignment_scope}/providers/Microsoft.Authorization/policyAssignments/b101830944f246d8a14088c5");
    let remediation = |n: &str, props: Value| -> Req {
        (
            "PUT",
            format!("{at}/providers/Microsoft.PolicyInsights/remediations/{n}?{PI}"),
            Some(json!({"properties": props})),
        )
    };
    let made = |c: Case, n: &str| {
        let mut p = json!({"policyAssignmentId": assignment, "failureThreshold": {"percentage": 0.5},
            "resourceCount": 42, "parallelDeployments": 6});
        if initiative {
            p["policyDefinitionReferenceId"] = json!("storageSkuDef");
        }
        let (m, path, b) = remediation(n, p);
        c.setup(m, path, b)
    };
    let c = match name {
        n if n.contains("_Create") => c,
        n if n.contains("_Get") || n.contains("_Delete") => made(c, "storageRemediation"),
        n if n.contains("_Cancel") || n.contains("_ListDeployments") => made(c, "myRemediation"),
        n if n.contains("_List") => made(c, "storageRemediation"),
        _ => return None,
    };
    c.go()
}
