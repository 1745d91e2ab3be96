//! How each x-ms-example of the policy specs (definitions, set definitions, assignments at 2025-11-01,
//! exemptions at 2024-12-01-preview) maps onto the default world: the examples' subscription is
//! fabrikam-prod, their groups rg-web, their built-in ids built-ins of fixtures/policy, and the
//! definitions, initiatives, assignments and exemptions they name are made first by admin@fabrikam.

use crate::spec_plans::{Case, Plan};
use crate::*;
use serde_json::{json, Value};

const EX_SUB: &str = "ae640e6b-ba3e-4256-9d62-2993eecfa6f2";
const ALLOWED_LOCATIONS: &str = "e56962a6-4747-49cd-b67b-bf8b01975c4c";
/// A built-in initiative of fixtures/policy (flow logs for every network security group).
const BUILT_IN_SET: &str = "62329546-775b-4a3d-a4cb-eb4bb990d2c0";
const API: &str = "api-version=2025-11-01";

fn sub_scope() -> String {
    format!("/subscriptions/{FABRIKAM_PROD}")
}

fn mg_scope(group: &str) -> String {
    format!("/providers/Microsoft.Management/managementGroups/{group}")
}

fn auth_at(scope: &str, kind: &str, name: &str) -> String {
    format!("{scope}/providers/Microsoft.Authorization/{kind}/{name}")
}

fn auth(kind: &str, name: &str) -> String {
    auth_at(&sub_scope(), kind, name)
}

fn put_at(
    scope: &str,
    kind: &str,
    name: &str,
    body: Value,
) -> (&'static str, String, Option<Value>) {
    (
        "PUT",
        format!("{}?{API}", auth_at(scope, kind, name)),
        Some(body),
    )
}

fn put(kind: &str, name: &str, body: Value) -> (&'static str, String, Option<Value>) {
    put_at(&sub_scope(), kind, name, body)
}

/// The management group `group` an example names, made under Fabrikam's root group (admin@fabrikam
/// is Owner of the root).
fn group(c: Case, group: &str) -> Case {
    c.setup(
        "PUT",
        format!("{}?api-version=2023-04-01", mg_scope(group)),
        Some(json!({"properties": {"displayName": group,
            "details": {"parent": {"id": mg_scope(FABRIKAM)}}}})),
    )
}

fn naming(version: &str) -> Value {
    json!({"properties": {"displayName": "Naming", "description": "Force resource names", "mode": "All", "version": version,
        "metadata": {"category": "Naming"},
        "parameters": {"prefix": {"type": "String", "metadata": {"description": "Resource name prefix", "displayName": "Prefix"}},
                       "suffix": {"type": "String", "metadata": {"description": "Resource name suffix", "displayName": "Suffix"}}},
        "policyRule": {"if": {"not": {"field": "name", "like": "[concat(parameters('prefix'), '*', parameters('suffix'))]"}}, "then": {"effect": "deny"}}}})
}

fn skus() -> Value {
    json!({"properties": {"displayName": "Allowed SKUs", "mode": "Indexed",
        "parameters": {"listOfAllowedSKUs": {"type": "Array"}},
        "policyRule": {"if": {"not": {"field": "Microsoft.Storage/storageAccounts/sku.name", "in": "[parameters('listOfAllowedSKUs')]"}}, "then": {"effect": "deny"}}}})
}

fn cost_set_at(scope: &str, version: &str) -> Value {
    let auth = |kind: &str, name: &str| auth_at(scope, kind, name);
    json!({"properties": {"displayName": "Cost Management", "description": "Low cost SKUs", "version": version,
        "metadata": {"category": "Cost Management"},
        "parameters": {"allowedSkus": {"type": "Array", "defaultValue": ["Standard_GRS"]}},
        "policyDefinitionGroups": [{"name": "CostSaving", "displayName": "Cost", "description": "Spend"},
                                   {"name": "Organizational", "displayName": "Org", "description": "Standards"}],
        "policyDefinitions": [
            {"policyDefinitionId": auth("policyDefinitions", "7433c107-6db4-4ad1-b57a-a76dce0154a1"), "policyDefinitionReferenceId": "Limit_Skus", "groupNames": ["CostSaving"],
             "parameters": {"listOfAllowedSKUs": {"value": "[parameters('allowedSkus')]"}}},
            {"policyDefinitionId": auth("policyDefinitions", "ResourceNaming"), "policyDefinitionReferenceId": "Resource_Naming", "groupNames": ["Organizational"],
             "parameters": {"prefix": {"value": "DeptA"}, "suffix": {"value": "-LC"}}}]}})
}

/// The examples' definitions: ResourceNaming at 1.0.0 and 1.2.1, the SKU definition the initiatives
/// reference, and (with `set`) the CostManagement initiative at 1.2.1.
fn definitions(c: Case, set: bool) -> Case {
    definitions_at(c, &sub_scope(), set)
}

/// As `definitions`, at `scope`.
fn definitions_at(c: Case, scope: &str, set: bool) -> Case {
    let put = |kind: &str, name: &str, body: Value| put_at(scope, kind, name, body);
    let cost_set = |version: &str| cost_set_at(scope, version);
    let (m, p, b) = put("policyDefinitions", "ResourceNaming", naming("1.0.0"));
    let c = c.setup(m, p, b);
    let (m, p, b) = put(
        "policyDefinitions",
        "ResourceNaming/versions/1.2.1",
        naming("1.2.1"),
    );
    let c = c.setup(m, p, b);
    let (m, p, b) = put(
        "policyDefinitions",
        "7433c107-6db4-4ad1-b57a-a76dce0154a1",
        skus(),
    );
    let c = c.setup(m, p, b);
    if !set {
        return c;
    }
    let (m, p, b) = put("policySetDefinitions", "CostManagement", cost_set("1.0.0"));
    let c = c.setup(m, p, b);
    let (m, p, b) = put(
        "policySetDefinitions",
        "CostManagement/versions/1.2.1",
        cost_set("1.2.1"),
    );
    c.setup(m, p, b)
}

/// The acquirePolicyToken examples' definition `5ed64d02` (denyAction on `rtype`, external
/// evaluation by a CoinFlip certain to succeed) assigned as `3f2def86` at `scope`. The CoinFlip
/// endpoint's claims are `isValid` alone, and the rule's evaluation details are not reported.
fn coin_flip(c: Case, scope: &str, rtype: &str) -> Case {
    let (m, p, b) = put_at(
        scope,
        "policyDefinitions",
        "5ed64d02",
        json!({"properties": {"displayName": "Coin flip", "mode": "All",
            "policyRule": {"if": {"field": "type", "equals": rtype},
                "then": {"effect": "denyAction", "details": {"actionNames": ["delete"]}}},
            "externalEvaluationEnforcementSettings": {"missingTokenAction": "deny", "resultLifespan": "PT2H",
                "endpointSettings": {"kind": "CoinFlip", "details": {"successProbability": 1}}}}}),
    );
    let c = c.setup(m, p, b);
    let (m, p, b) = put_at(
        scope,
        "policyAssignments",
        "3f2def86",
        json!({"properties": {"policyDefinitionId": auth_at(scope, "policyDefinitions", "5ed64d02")}}),
    );
    c.setup(m, p, b)
        .missing(
            ".results[].claims.*",
            "the example's endpoint returns made-up claims; CoinFlip's are `isValid`",
        )
        .missing(
            ".results[].policyEvaluationDetails*",
            "the rule's evaluation details are not reported in a token result",
        )
}

const OTHER_BUILT_IN: &str = "the example shows another built-in's parameters and rule than the fixtures/policy built-in it is mapped onto";
const EXAMPLE_KEY: &str = "the identity's id is an object key, which the replay cannot map onto the world: the answer names the world's identity instead";

fn our_uai() -> Value {
    json!({"type": "UserAssigned", "userAssignedIdentities": {format!("/subscriptions/{FABRIKAM_PROD}/resourceGroups/rg-web/providers/Microsoft.ManagedIdentity/userAssignedIdentities/test-identity"): {}}})
}

fn uai() -> (&'static str, String, Option<Value>) {
    ("PUT", format!("/subscriptions/{FABRIKAM_PROD}/resourceGroups/rg-web/providers/Microsoft.ManagedIdentity/userAssignedIdentities/test-identity?api-version=2023-01-31"),
     Some(json!({"location": "westeurope"})))
}

/// The examples' assignments: EnforceNaming (with a system- or user-assigned identity) and
/// CostManagement (the initiative, with overrides and resource selectors), and the exemption.
fn assignments(c: Case, user_assigned: bool) -> Case {
    let c = definitions(c, true);
    let (m, p, b) = uai();
    let c = c.setup(m, p, b);
    let identity = if user_assigned {
        json!({"type": "UserAssigned", "userAssignedIdentities": {format!("/subscriptions/{FABRIKAM_PROD}/resourceGroups/rg-web/providers/Microsoft.ManagedIdentity/userAssignedIdentities/test-identity"): {}}})
    } else {
        json!({"type": "SystemAssigned"})
    };
    let (m, p, b) = put(
        "policyAssignments",
        "EnforceNaming",
        json!({"location": "westeurope", "identity": identity,
        "properties": {"displayName": "Enforce naming", "description": "naming", "metadata": {"assignedBy": "admin", "category": "Naming"},
            "policyDefinitionId": auth("policyDefinitions", "ResourceNaming"),
            "parameters": {"prefix": {"value": "DeptA"}, "suffix": {"value": "-LC"}}}}),
    );
    let c = c.setup(m, p, b);
    let (m, p, b) = put(
        "policyAssignments",
        "CostManagement",
        json!({"properties": {"displayName": "Cost", "description": "cost",
        "metadata": {"assignedBy": "admin", "category": "Cost"}, "policyDefinitionId": auth("policySetDefinitions", "CostManagement"),
        "parameters": {"allowedSkus": {"value": ["Standard_A1"]}},
        "overrides": [{"kind": "policyEffect", "value": "Audit", "selectors": [{"kind": "policyDefinitionReferenceId", "in": ["Limit_Skus"]}]}],
        "resourceSelectors": [{"name": "SDPRegions", "selectors": [{"kind": "resourceLocation", "in": ["westeurope"]}]}]}}),
    );
    c.setup(m, p, b)
}

fn exemption(c: Case) -> Case {
    let c = assignments(c, false);
    let at_sub = format!("/subscriptions/{FABRIKAM_PROD}/providers/Microsoft.Authorization/policyExemptions/WholeSub?api-version=2024-12-01-preview");
    let c = c.setup("PUT", at_sub, Some(json!({"properties": {"policyAssignmentId": auth("policyAssignments", "EnforceNaming"),
        "exemptionCategory": "Mitigated", "displayName": "sub", "description": "sub", "metadata": {"reason": "sub"}}})));
    let p = format!("/subscriptions/{FABRIKAM_PROD}/resourceGroups/rg-web/providers/Microsoft.Authorization/policyExemptions/DemoExpensiveVM?api-version=2024-12-01-preview");
    c.setup("PUT", p, Some(json!({"properties": {"policyAssignmentId": auth("policyAssignments", "CostManagement"),
        "policyDefinitionReferenceIds": ["Limit_Skus"], "exemptionCategory": "Waiver", "displayName": "demo",
        "description": "demo", "metadata": {"reason": "demo"}, "expiresOn": "2099-12-31T00:00:00Z",
        "resourceSelectors": [{"name": "SDPRegions", "selectors": [{"kind": "resourceLocation", "in": ["westeurope"]}]}]}})))
}

pub fn policy(name: &str) -> Option<Plan> {
    let base = || {
        Case::new(
            "admin@fabrikam",
            &[
                (EX_SUB, FABRIKAM_PROD),
                ("TestResourceGroup", "rg-web"),
                ("testResourceGroup", "rg-web"),
                ("demoCluster", "rg-web"),
            ],
        )
    };
    let on_vm = |c: Case| {
        c.set("resourceProviderNamespace", json!("Microsoft.Compute"))
            .set("parentResourcePath", json!(""))
            .set("resourceType", json!("virtualMachines"))
            .set("resourceName", json!("vm-web-01"))
    };
    if name.contains("ManagementGroup") {
        return management_group(name, base());
    }
    match name {
        "acquirePolicyToken" => coin_flip(
            base().sub("testRG", "rg-web").sub("testVM", "vm-web-01"),
            &sub_scope(),
            "Microsoft.Compute/virtualMachines",
        )
        .go(),
        "createOrUpdatePolicyDefinition"
        | "createOrUpdatePolicyDefinitionAdvancedParams"
        | "createOrUpdatePolicyDefinitionExternalEvaluationEnforcementSettings"
        | "createOrUpdatePolicyDefinitionVersion"
        | "listAllPolicyDefinitionVersions"
        | "getPolicyDefinition"
        | "getPolicyDefinitionVersion"
        | "listPolicyDefinitionVersions"
        | "deletePolicyDefinition"
        | "deletePolicyDefinitionVersion" => definitions(base(), false).go(),
        "createOrUpdatePolicySetDefinition"
        | "createOrUpdatePolicySetDefinitionVersion"
        | "createOrUpdatePolicySetDefinitionWithGroups" => definitions(base(), false).go(),
        "getPolicySetDefinition"
        | "getPolicySetDefinitionVersion"
        | "listPolicySetDefinitions"
        | "listPolicySetDefinitionVersions"
        | "listAllPolicySetDefinitionVersions"
        | "deletePolicySetDefinition"
        | "deletePolicySetDefinitionVersion" => definitions(base(), true).go(),
        "getBuiltinPolicyDefinition" | "getBuiltinPolicyDefinitionVersion" => base()
            .sub("7433c107-6db4-4ad1-b57a-a76dce0154a1", ALLOWED_LOCATIONS)
            .set("policyDefinitionVersion", json!("1.1.0"))
            .missing(".properties.parameters.*", OTHER_BUILT_IN)
            .missing(".properties.policyRule.*", OTHER_BUILT_IN)
            .go(),
        "listBuiltInPolicyDefinitionVersions" => base()
            .sub("06a78e20-9358-41c9-923c-fb736d382a12", ALLOWED_LOCATIONS)
            .missing(".value[].properties.parameters.*", OTHER_BUILT_IN)
            .missing(".value[].properties.policyRule.*", OTHER_BUILT_IN)
            .go(),
        "listBuiltInPolicyDefinitions" | "listPolicyDefinitions" => definitions(base(), false)
            .missing(".value[].properties.parameters.*", OTHER_BUILT_IN)
            .missing(".value[].properties.policyRule.*", OTHER_BUILT_IN)
            .go(),
        "getBuiltInPolicySetDefinition"
        | "getBuiltInPolicySetDefinitionVersion"
        | "listBuiltInPolicySetDefinitionVersions" => base()
            .sub("1f3afdf9-d0c9-4c3d-847f-89da613e70a8", BUILT_IN_SET)
            .set("policyDefinitionVersion", json!("1.0.0"))
            .go(),
        "listAllBuiltInPolicyDefinitionVersions" => base()
            .missing(".value[].properties.parameters.*", OTHER_BUILT_IN)
            .go(),
        "listBuiltInPolicySetDefinitions" | "listAllBuiltInPolicySetDefinitionVersions" => {
            base().go()
        }
        "createPolicyAssignment"
        | "createPolicyAssignmentWithIdentity"
        | "createPolicyAssignmentWithoutEnforcement"
        | "createPolicyAssignmentWithEnrollEnforcement"
        | "createPolicyAssignmentWithOverrides"
        | "createPolicyAssignmentWithResourceSelectors" => definitions(base(), true).go(),
        "createPolicyAssignmentWithUserAssignedIdentity" => {
            let (m, p, b) = uai();
            definitions(base(), true)
                .setup(m, p, b)
                .set("parameters", json!({"location": "eastus", "identity": our_uai(),
                    "properties": {"displayName": "Enforce resource naming rules", "description": "naming", "enforcementMode": "Default",
                        "metadata": {"assignedBy": "Foo Bar"}, "parameters": {"prefix": {"value": "DeptA"}, "suffix": {"value": "-LC"}},
                        "policyDefinitionId": auth("policyDefinitions", "ResourceNaming")}}))
                .missing(".identity.userAssignedIdentities./subscriptions/ae640e6b*", EXAMPLE_KEY)
                .go()
        }
        "createPolicyAssignmentNonComplianceMessages" => {
            // the initiative the example names, with the reference ids its messages name
            let refs = json!({"properties": {"displayName": "Security", "policyDefinitions": [
                {"policyDefinitionId": auth("policyDefinitions", "ResourceNaming"), "policyDefinitionReferenceId": "10420126870854049575",
                 "parameters": {"prefix": {"value": "DeptA"}, "suffix": {"value": "-LC"}}},
                {"policyDefinitionId": auth("policyDefinitions", "7433c107-6db4-4ad1-b57a-a76dce0154a1"), "policyDefinitionReferenceId": "8572513655450389710",
                 "parameters": {"listOfAllowedSKUs": {"value": ["Standard_GRS"]}}}]}});
            let (m, p, b) = put("policySetDefinitions", "securityInitiative", refs);
            definitions(base(), false)
                .setup(m, p, b)
                .missing(
                    ".properties.metadata.assignedBy",
                    "the example's answer shows metadata its request does not send",
                )
                .go()
        }
        "getPolicyAssignment"
        | "getPolicyAssignmentWithIdentity"
        | "getPolicyAssignmentWithOverrides"
        | "getPolicyAssignmentWithResourceSelectors"
        | "deletePolicyAssignment"
        | "updatePolicyAssignmentWithIdentity"
        | "updatePolicyAssignmentWithOverrides"
        | "updatePolicyAssignmentWithResourceSelectors"
        | "listPolicyAssignments"
        | "listPolicyAssignmentsForResourceGroup" => assignments(base(), false).go(),
        "getPolicyAssignmentWithUserAssignedIdentity" => assignments(base(), true)
            .missing(
                ".identity.userAssignedIdentities./subscriptions/ae640e6b*",
                EXAMPLE_KEY,
            )
            .go(),
        "updatePolicyAssignmentWithUserAssignedIdentity" => assignments(base(), true)
            .set(
                "parameters",
                json!({"location": "eastus", "identity": our_uai()}),
            )
            .missing(
                ".identity.userAssignedIdentities./subscriptions/ae640e6b*",
                EXAMPLE_KEY,
            )
            .go(),
        "listPolicyAssignmentsForResource" => on_vm(assignments(base(), false)).go(),
        "createOrUpdatePolicyExemption" | "createOrUpdatePolicyExemptionWithResourceSelectors" => {
            assignments(base(), false).go()
        }
        "getPolicyExemption"
        | "getPolicyExemptionWithResourceSelectors"
        | "deletePolicyExemption"
        | "updatePolicyExemptionWithResourceSelectors"
        | "listPolicyExemptionsForSubscription"
        | "listPolicyExemptionsForResourceGroup" => exemption(base()).go(),
        "listPolicyExemptionsForResource" => on_vm(exemption(base())).go(),
        _ => None,
    }
}

/// The examples at management-group scope: their group (`MyManagementGroup`, `TestManagementGroup`,
/// `DevOrg`) made under Fabrikam's root, with the definitions, initiatives, assignments and
/// exemptions they name made there first. The set definitions that reference subscription
/// definitions (`…WithGroups…`) find them at fabrikam-prod, below Fabrikam's root.
fn management_group(name: &str, base: Case) -> Option<Plan> {
    const MY: &str = "MyManagementGroup";
    let my = || group(base_clone(&base), MY);
    let at = mg_scope(MY);
    match name {
        "acquirePolicyTokenAtManagementGroup" => {
            coin_flip(my(), &at, "Microsoft.Authorization/roleAssignments").go()
        }
        "createOrUpdatePolicyDefinitionAtManagementGroup"
        | "createOrUpdatePolicyDefinitionVersionAtManagementGroup" => {
            definitions_at(my(), &at, false).go()
        }
        "createOrUpdatePolicySetDefinitionAtManagementGroup"
        | "createOrUpdatePolicySetDefinitionVersionAtManagementGroup" => {
            definitions_at(my(), &at, false).go()
        }
        "createOrUpdatePolicySetDefinitionWithGroupsAtManagementGroup" => {
            definitions(definitions_at(my(), &at, false), false).go()
        }
        "getPolicyDefinitionAtManagementGroup"
        | "getPolicyDefinitionVersionAtManagementGroup"
        | "deletePolicyDefinitionAtManagementGroup"
        | "deletePolicyDefinitionVersionAtManagementGroup"
        | "listPolicyDefinitionVersionsByManagementGroup"
        | "listAllPolicyDefinitionVersionsByManagementGroup"
        | "listPolicyDefinitionsByManagementGroup" => definitions_at(my(), &at, false).go(),
        "getPolicySetDefinitionAtManagementGroup"
        | "getPolicySetDefinitionVersionAtManagementGroup"
        | "deletePolicySetDefinitionAtManagementGroup"
        | "deletePolicySetDefinitionVersionAtManagementGroup"
        | "listPolicySetDefinitionVersionsByManagementGroup"
        | "listAllPolicySetDefinitionVersionsByManagementGroup"
        | "listPolicySetDefinitionsByManagementGroup" => definitions_at(my(), &at, true).go(),
        "listPolicyAssignmentsForManagementGroup" => {
            let test = mg_scope("TestManagementGroup");
            let c = definitions_at(group(base_clone(&base), "TestManagementGroup"), &test, true);
            let (m, p, b) = put_at(
                &test,
                "policyAssignments",
                "TestCostManagement",
                json!({"location": "eastus", "identity": {"type": "SystemAssigned"},
                    "properties": {"displayName": "Storage Cost Management", "description": "cost",
                        "metadata": {"category": "Cost Management"},
                        "policyDefinitionId": auth_at(&test, "policySetDefinitions", "CostManagement"),
                        "parameters": {"allowedSkus": {"value": ["Standard_A1"]}}}}),
            );
            c.setup(m, p, b).go()
        }
        "listPolicyExemptionsForManagementGroup" => {
            let dev = mg_scope("DevOrg");
            let c = definitions_at(group(base_clone(&base), "DevOrg"), &dev, true);
            let (m, p, b) = put_at(
                &dev,
                "policyAssignments",
                "CostManagement",
                json!({"properties": {"displayName": "Cost", "description": "cost",
                    "policyDefinitionId": auth_at(&dev, "policySetDefinitions", "CostManagement")}}),
            );
            let c = c.setup(m, p, b);
            c.setup(
                "PUT",
                format!("{}?api-version=2024-12-01-preview", auth_at(&dev, "policyExemptions", "ResearchBudgetExemption")),
                Some(json!({"properties": {"policyAssignmentId": auth_at(&dev, "policyAssignments", "CostManagement"),
                    "policyDefinitionReferenceIds": ["Limit_Skus"], "exemptionCategory": "Waiver",
                    "displayName": "Exempt demo cluster", "description": "demo", "metadata": {"reason": "demo"}}})),
            )
            .go()
        }
        _ => None,
    }
}

fn base_clone(c: &Case) -> Case {
    Case {
        who: c.who,
        subs: c.subs.clone(),
        set: c.set.clone(),
        setup: c.setup.clone(),
        missing_ok: c.missing_ok.clone(),
        pick: c.pick.clone(),
        after: c.after.clone(),
    }
}
