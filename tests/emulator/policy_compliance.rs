//! Compliance and remediation (Microsoft.PolicyInsights) end to end: policy states computed from the
//! store after each write, their OData options, summaries and the trigger's long-running operation, as
//! a customer admin and as the service provider through the delegation; remediations that run a
//! `deployIfNotExists` deployment or a `modify` as the assignment's managed identity, failing without
//! its roles and succeeding once a principal allowed to has granted them; the Lighthouse policy samples.

use crate::*;
use serde_json::{json, Value};

const PI: &str = "api-version=2024-10-01";
const POLICY: &str = "api-version=2025-11-01";
const ARM: &str = "api-version=2021-04-01";
const CONTRIBUTOR: &str = "b24988ac-6180-42a0-ab88-20f7382dd24c";

fn sub() -> String {
    format!("/subscriptions/{FABRIKAM_PROD}")
}
fn q(s: &str) -> String {
    s.replace(' ', "%20")
        .replace('\'', "%27")
        .replace('$', "%24")
}
fn states(scope: &str, verb: &str, query: &str) -> String {
    format!("{scope}/providers/Microsoft.PolicyInsights/policyStates/latest/{verb}?{PI}{query}")
}
fn values(r: &Resp) -> Vec<Value> {
    r.body["value"]
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {} {}", r.status, r.body))
        .clone()
}
fn load(rel: &str) -> Value {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/templates/lighthouse/templates")
        .join(rel);
    serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap()
}

/// A custom "audit resources without tag env" definition and its assignment at fabrikam-prod.
async fn audit_env_tag(e: &Emu, t: &str) -> String {
    let def = format!(
        "{}/providers/Microsoft.Authorization/policyDefinitions/audit-env",
        sub()
    );
    let r = e
        .call("PUT", &format!("{def}?{POLICY}"), Some(t), Some(json!({"properties": {
            "mode": "All", "displayName": "Audit env tag",
            "policyRule": {"if": {"allOf": [
                {"field": "type", "in": ["Microsoft.Storage/storageAccounts", "Microsoft.Resources/subscriptions/resourceGroups"]},
                {"field": "tags['env']", "exists": "false"}]},
                "then": {"effect": "audit"}}}})))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let a = format!(
        "{}/providers/Microsoft.Authorization/policyAssignments/audit-env",
        sub()
    );
    let r = e
        .call(
            "PUT",
            &format!("{a}?{POLICY}"),
            Some(t),
            Some(json!({"properties": {"policyDefinitionId": def}})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    a
}

#[tokio::test(flavor = "multi_thread")]
async fn states_follow_every_write_and_the_delegation_reads_them() {
    let e = emu().await;
    let admin = e.token("admin@fabrikam").await;
    // no assignment: no states
    let r = e
        .call(
            "POST",
            &states(&sub(), "queryResults", ""),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(values(&r).is_empty());
    let a = audit_env_tag(&e, &admin).await;
    let sa = format!(
        "{}/resourceGroups/rg-data/providers/Microsoft.Storage/storageAccounts/fabrikamdata",
        sub()
    );
    let non_compliant = |r: &Resp| -> Vec<String> {
        values(r)
            .iter()
            .filter(|v| v["complianceState"] == "NonCompliant")
            .map(|v| v["resourceId"].as_str().unwrap().to_lowercase())
            .collect()
    };
    let r = e
        .call(
            "POST",
            &states(&sub(), "queryResults", ""),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(non_compliant(&r).contains(&sa.to_lowercase()), "{}", r.body);
    let rec = values(&r)
        .into_iter()
        .find(|v| v["resourceId"].as_str().unwrap().eq_ignore_ascii_case(&sa))
        .unwrap();
    assert_eq!(
        rec["policyAssignmentId"].as_str().unwrap().to_lowercase(),
        a.to_lowercase()
    );
    assert_eq!(rec["policyDefinitionAction"], "audit");
    assert_eq!(rec["isCompliant"], false);
    assert_eq!(rec["resourceGroup"], "rg-data");
    assert!(rec["@odata.context"]
        .as_str()
        .unwrap()
        .ends_with("policyStates/$metadata#latest/$entity"));
    // a write changes the state: tag the account
    let tagged = e
        .call(
            "PATCH",
            &format!("{sa}?api-version=2023-01-01"),
            Some(&admin),
            Some(json!({"tags": {"env": "prod"}})),
        )
        .await;
    assert!(tagged.status < 300, "{}", tagged.body);
    let r = e
        .call(
            "POST",
            &states(&sub(), "queryResults", ""),
            Some(&admin),
            None,
        )
        .await;
    assert!(
        !non_compliant(&r).contains(&sa.to_lowercase()),
        "{}",
        r.body
    );
    let rec = values(&r)
        .into_iter()
        .find(|v| v["resourceId"].as_str().unwrap().eq_ignore_ascii_case(&sa))
        .unwrap();
    assert_eq!(rec["complianceState"], "Compliant");

    // $filter, $select, $top, $orderby, $apply; resource-group and assignment scopes
    let f = q("&$filter=complianceState eq 'NonCompliant' and resourceType eq 'Microsoft.Resources/subscriptions/resourceGroups'&$select=resourceId,complianceState&$orderby=resourceId desc");
    let r = e
        .call(
            "POST",
            &states(&sub(), "queryResults", &f),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let v = values(&r);
    assert!(!v.is_empty());
    for x in &v {
        assert_eq!(x["complianceState"], "NonCompliant");
        assert!(x.get("policyAssignmentId").is_none(), "{x}");
    }
    let ids: Vec<String> = v
        .iter()
        .map(|x| x["resourceId"].as_str().unwrap().to_lowercase())
        .collect();
    let mut sorted = ids.clone();
    sorted.sort();
    sorted.reverse();
    assert_eq!(ids, sorted);
    let ap = q("&$apply=groupby((complianceState), aggregate($count as NumberOfRecords))");
    let r = e
        .call(
            "POST",
            &states(&sub(), "queryResults", &ap),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        values(&r)
            .iter()
            .all(|x| x["NumberOfRecords"].as_u64().unwrap() > 0 && x.get("resourceId").is_none()),
        "{}",
        r.body
    );
    let r = e
        .call(
            "POST",
            &states(
                &format!("{}/resourceGroups/rg-data", sub()),
                "queryResults",
                "&%24top=1",
            ),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(values(&r).len(), 1, "{}", r.body);
    let r = e
        .call("POST", &states(&a, "queryResults", ""), Some(&admin), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(values(&r).iter().all(|x| x["policyAssignmentId"]
        .as_str()
        .unwrap()
        .eq_ignore_ascii_case(&a)));
    // summarize
    let r = e
        .call("POST", &states(&sub(), "summarize", ""), Some(&admin), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let s = &r.body["value"][0];
    assert!(
        s["results"]["nonCompliantResources"].as_u64().unwrap() >= 1,
        "{s}"
    );
    assert_eq!(
        s["policyAssignments"][0]["policyAssignmentId"]
            .as_str()
            .unwrap()
            .to_lowercase(),
        a.to_lowercase()
    );
    assert_eq!(
        s["policyAssignments"][0]["policyDefinitions"][0]["effect"],
        "audit"
    );
    // bad options: ARM's envelope
    let r = e
        .call(
            "POST",
            &states(
                &sub(),
                "queryResults",
                &q("&$filter=complianceState like 'x'"),
            ),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.code(), "InvalidQueryParameterValue");

    // alice reads Fabrikam's compliance through the delegation; reader@fabrikam with Reader;
    // Northwind's admin has no standing in fabrikam-prod
    for who in ["alice", "reader@fabrikam"] {
        let t = e.token(who).await;
        let r = e
            .call("POST", &states(&sub(), "queryResults", ""), Some(&t), None)
            .await;
        assert_eq!(r.status, 200, "{who}: {}", r.body);
        assert!(!values(&r).is_empty(), "{who}");
        let r = e
            .call("POST", &states(&sub(), "summarize", ""), Some(&t), None)
            .await;
        assert_eq!(r.status, 200, "{who}: {}", r.body);
    }
    let t = e.token("admin@northwind").await;
    let r = e
        .call("POST", &states(&sub(), "queryResults", ""), Some(&t), None)
        .await;
    assert_eq!(r.status, 401, "{}", r.body);

    // triggerEvaluation: 202 + Location, which answers 200
    let r = e
        .call(
            "POST",
            &states(&sub(), "triggerEvaluation", ""),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let loc = r.header("location").to_string();
    assert!(
        loc.contains("/providers/Microsoft.PolicyInsights/asyncOperationResults/"),
        "{loc}"
    );
    let r = e.call("GET", &loc, Some(&admin), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let t = e.token("reader@fabrikam").await;
    let r = e
        .call(
            "POST",
            &states(&sub(), "triggerEvaluation", ""),
            Some(&t),
            None,
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_audit_delegation_sample_shows_the_delegation_non_compliant() {
    let e = emu().await;
    let admin = e.token("admin@fabrikam").await;
    let template = load("policy-audit-delegation/policyAuditDelegation.json");
    let d = format!(
        "{}/providers/Microsoft.Resources/deployments/audit-delegation?{ARM}",
        sub()
    );
    let r = e.call("PUT", &d, Some(&admin), Some(json!({"location": "westeurope", "properties": {"mode": "Incremental", "template": template}}))).await;
    assert!(r.status < 300, "{}", r.body);
    let r = e.call("GET", &d, Some(&admin), None).await;
    assert_eq!(
        r.body["properties"]["provisioningState"], "Succeeded",
        "{}",
        r.body
    );
    let f = q("&$filter=complianceState eq 'NonCompliant' and resourceType eq 'Microsoft.ManagedServices/registrationAssignments'");
    for who in ["admin@fabrikam", "alice"] {
        let t = e.token(who).await;
        let r = e
            .call("POST", &states(&sub(), "queryResults", &f), Some(&t), None)
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let v = values(&r);
        assert_eq!(v.len(), 1, "{who}: {}", r.body);
        assert!(
            v[0]["policyAssignmentId"]
                .as_str()
                .unwrap()
                .ends_with("/Audit-Delegation-assignments"),
            "{}",
            v[0]
        );
    }
}

/// The key vault monitoring sample's definition, assigned directly (without the sample's role
/// assignment), so the identity starts with no role.
async fn keyvault_dine(e: &Emu, t: &str) -> (String, String) {
    let template = load("policy-enforce-keyvault-monitoring/enforceAzureMonitoredKeyVault.json");
    let def = template["resources"][0]["properties"].clone();
    let def_id = format!(
        "{}/providers/Microsoft.Authorization/policyDefinitions/Enforce-Monitoring-KeyVault",
        sub()
    );
    // (the template's `[[` escapes are what a deployment stores as `[`)
    let def: Value = serde_json::from_str(&def.to_string().replace("\"[[", "\"[")).unwrap();
    let mut def = def;
    // (what the deployment makes of the template's variables('rbacContributor'))
    def["policyRule"]["then"]["details"]["roleDefinitionIds"] = json!([format!(
        "/providers/Microsoft.Authorization/roleDefinitions/{CONTRIBUTOR}"
    )]);
    let r = e
        .call(
            "PUT",
            &format!("{def_id}?{POLICY}"),
            Some(t),
            Some(json!({"properties": def})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let a = format!(
        "{}/providers/Microsoft.Authorization/policyAssignments/kv-monitoring",
        sub()
    );
    let ws = format!(
        "{}/resourcegroups/rg-data/providers/microsoft.operationalinsights/workspaces/ws",
        sub()
    );
    let r = e.call("PUT", &format!("{a}?{POLICY}"), Some(t), Some(json!({"location": "westeurope", "identity": {"type": "SystemAssigned"},
        "properties": {"policyDefinitionId": def_id, "parameters": {"logAnalytics": {"value": ws}}}}))).await;
    assert_eq!(r.status, 201, "{}", r.body);
    (
        a,
        r.body["identity"]["principalId"]
            .as_str()
            .unwrap()
            .to_string(),
    )
}

fn remediation(name: &str) -> String {
    format!(
        "{}/providers/Microsoft.PolicyInsights/remediations/{name}?{PI}",
        sub()
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_remediation_runs_as_the_identity_and_needs_its_roles() {
    let e = emu().await;
    let admin = e.token("admin@fabrikam").await;
    let (a, principal) = keyvault_dine(&e, &admin).await;
    let kv = format!(
        "{}/resourceGroups/rg-data/providers/Microsoft.KeyVault/vaults/fabrikam-kv",
        sub()
    );
    let f = q("&$filter=complianceState eq 'NonCompliant'");
    let r = e
        .call("POST", &states(&a, "queryResults", &f), Some(&admin), None)
        .await;
    let v = values(&r);
    assert!(
        v.iter()
            .any(|x| x["resourceId"].as_str().unwrap().eq_ignore_ascii_case(&kv)),
        "{}",
        r.body
    );
    assert!(v
        .iter()
        .all(|x| x["policyDefinitionAction"] == "deployifnotexists"));

    // without a role the identity's deployment is refused with ARM's AuthorizationFailed
    let r = e
        .call(
            "PUT",
            &remediation("first"),
            Some(&admin),
            Some(json!({"properties": {"policyAssignmentId": a}})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["properties"]["provisioningState"], "Accepted");
    let r = e
        .call("GET", &remediation("first"), Some(&admin), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["properties"]["provisioningState"], "Failed",
        "{}",
        r.body
    );
    let deployments = format!(
        "{}/providers/Microsoft.PolicyInsights/remediations/first/listDeployments?{PI}",
        sub()
    );
    let r = e.call("POST", &deployments, Some(&admin), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let d = values(&r);
    assert_eq!(d.len(), 1, "{}", r.body);
    assert_eq!(d[0]["status"], "Failed");
    assert_eq!(d[0]["error"]["code"], "AuthorizationFailed", "{}", d[0]);
    assert!(
        d[0]["error"]["message"]
            .as_str()
            .unwrap()
            .contains(&principal),
        "{}",
        d[0]
    );
    assert!(d[0]["remediatedResourceId"]
        .as_str()
        .unwrap()
        .eq_ignore_ascii_case(&kv));

    // msp-automation, delegated User Access Administrator with delegatedRoleDefinitionIds [Contributor],
    // grants the identity Contributor; the next remediation succeeds and the setting exists
    let msp = e.token("msp-automation").await;
    let ra = format!(
        "{}/providers/Microsoft.Authorization/roleAssignments/{}?api-version=2022-04-01",
        sub(),
        "9b2b3c1e-0000-4000-8000-00000000a001"
    );
    let r = e.call("PUT", &ra, Some(&msp), Some(json!({"properties": {
        "roleDefinitionId": format!("{}/providers/Microsoft.Authorization/roleDefinitions/{CONTRIBUTOR}", sub()),
        "principalId": principal, "principalType": "ServicePrincipal", "delegatedManagedIdentityResourceId": a}}))).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = e.call("PUT", &remediation("second"), Some(&msp), Some(json!({"properties": {"policyAssignmentId": a,
        "resourceDiscoveryMode": "ReEvaluateCompliance", "filters": {"locations": ["westeurope", "northeurope", "eastus", "westus"]}}}))).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = e
        .call("GET", &remediation("second"), Some(&msp), None)
        .await;
    assert_eq!(
        r.body["properties"]["provisioningState"], "Succeeded",
        "{}",
        r.body
    );
    assert_eq!(
        r.body["properties"]["deploymentStatus"]["successfulDeployments"], 1,
        "{}",
        r.body
    );
    let setting = format!("{kv}/providers/Microsoft.Insights/diagnosticSettings/setByPolicy?api-version=2021-05-01-preview");
    let r = e.call("GET", &setting, Some(&admin), None).await;
    assert_eq!(r.status, 200, "{}", r.body);

    // list, cancel (a finished one cannot be), delete
    let r = e
        .call(
            "GET",
            &format!(
                "{}/providers/Microsoft.PolicyInsights/remediations?{PI}",
                sub()
            ),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(values(&r).len(), 2, "{}", r.body);
    let cancel = format!(
        "{}/providers/Microsoft.PolicyInsights/remediations/second/cancel?{PI}",
        sub()
    );
    let r = e.call("POST", &cancel, Some(&admin), None).await;
    assert_eq!(r.status, 400, "{}", r.body);
    let r = e
        .call(
            "PUT",
            &remediation("third"),
            Some(&admin),
            Some(json!({"properties": {"policyAssignmentId": a}})),
        )
        .await;
    assert_eq!(r.status, 201);
    let r = e
        .call(
            "POST",
            &cancel.replace("second", "third"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(
        r.body["properties"]["provisioningState"], "Cancelling",
        "{}",
        r.body
    );
    let r = e
        .call("GET", &remediation("third"), Some(&admin), None)
        .await;
    assert_eq!(
        r.body["properties"]["provisioningState"], "Cancelled",
        "{}",
        r.body
    );
    let r = e
        .call("DELETE", &remediation("third"), Some(&admin), None)
        .await;
    assert_eq!(r.status, 200);
    let r = e
        .call("DELETE", &remediation("third"), Some(&admin), None)
        .await;
    assert_eq!(r.status, 204);
    let r = e
        .call("GET", &remediation("third"), Some(&admin), None)
        .await;
    assert_eq!(r.status, 404);
    // a reader may read remediations but not make them; an audit assignment cannot be remediated
    let reader = e.token("reader@fabrikam").await;
    let r = e
        .call("GET", &remediation("second"), Some(&reader), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = e
        .call(
            "PUT",
            &remediation("fourth"),
            Some(&reader),
            Some(json!({"properties": {"policyAssignmentId": a}})),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    let audit = audit_env_tag(&e, &admin).await;
    let r = e
        .call(
            "PUT",
            &remediation("fourth"),
            Some(&admin),
            Some(json!({"properties": {"policyAssignmentId": audit}})),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_modify_remediation_tags_existing_resources() {
    let e = emu().await;
    let admin = e.token("admin@fabrikam").await;
    let def = format!(
        "{}/providers/Microsoft.Authorization/policyDefinitions/add-owner-tag",
        sub()
    );
    let r = e.call("PUT", &format!("{def}?{POLICY}"), Some(&admin), Some(json!({"properties": {"mode": "Indexed",
        "policyRule": {"if": {"allOf": [{"field": "type", "equals": "Microsoft.Storage/storageAccounts"}, {"field": "tags['owner']", "exists": "false"}]},
            "then": {"effect": "modify", "details": {"roleDefinitionIds": [format!("/providers/Microsoft.Authorization/roleDefinitions/{CONTRIBUTOR}")],
                "operations": [{"operation": "addOrReplace", "field": "tags['owner']", "value": "platform"}]}}}}}))).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let a = format!(
        "{}/providers/Microsoft.Authorization/policyAssignments/add-owner-tag",
        sub()
    );
    let r = e
        .call(
            "PUT",
            &format!("{a}?{POLICY}"),
            Some(&admin),
            Some(
                json!({"location": "westeurope", "identity": {"type": "SystemAssigned"},
        "properties": {"policyDefinitionId": def}}),
            ),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let principal = r.body["identity"]["principalId"]
        .as_str()
        .unwrap()
        .to_string();
    let ra = format!("{}/providers/Microsoft.Authorization/roleAssignments/9b2b3c1e-0000-4000-8000-00000000a002?api-version=2022-04-01", sub());
    let r = e.call("PUT", &ra, Some(&admin), Some(json!({"properties": {
        "roleDefinitionId": format!("{}/providers/Microsoft.Authorization/roleDefinitions/{CONTRIBUTOR}", sub()),
        "principalId": principal, "principalType": "ServicePrincipal"}}))).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = e
        .call(
            "PUT",
            &remediation("tags"),
            Some(&admin),
            Some(json!({"properties": {"policyAssignmentId": a}})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = e
        .call("GET", &remediation("tags"), Some(&admin), None)
        .await;
    assert_eq!(
        r.body["properties"]["provisioningState"], "Succeeded",
        "{}",
        r.body
    );
    let sa = format!("{}/resourceGroups/rg-data/providers/Microsoft.Storage/storageAccounts/fabrikamdata?api-version=2023-01-01", sub());
    let r = e.call("GET", &sa, Some(&admin), None).await;
    assert_eq!(r.body["tags"]["owner"], "platform", "{}", r.body);
    let f = q("&$filter=complianceState eq 'NonCompliant'");
    let r = e
        .call("POST", &states(&a, "queryResults", &f), Some(&admin), None)
        .await;
    assert!(values(&r).is_empty(), "{}", r.body);
}

/// Deploy a subscription-scope sample with its parameter file, as `who`; the deployment's final state.
async fn deploy_sample(e: &Emu, who: &str, name: &str, template: &str, params: &str) -> Value {
    let t = e.token(who).await;
    let template = load(template);
    let params = load(params)["parameters"].clone();
    let d = format!(
        "{}/providers/Microsoft.Resources/deployments/{name}?{ARM}",
        sub()
    );
    let r = e
        .call(
            "PUT",
            &d,
            Some(&t),
            Some(json!({"location": "westeurope",
            "properties": {"mode": "Incremental", "template": template, "parameters": params}})),
        )
        .await;
    assert!(r.status < 300, "{}", r.body);
    e.call("GET", &d, Some(&t), None).await.body
}

#[tokio::test(flavor = "multi_thread")]
async fn the_keyvault_monitoring_sample_remediates_through_the_identity_the_provider_granted() {
    let e = emu().await;
    // the customer's admin deploys it (writing policy definitions needs a policy role the default
    // world's delegation does not give); in a delegated subscription the sample's role assignment
    // names the assignment as the delegated managed identity
    let d = deploy_sample(
        &e,
        "admin@fabrikam",
        "kv-monitoring",
        "policy-enforce-keyvault-monitoring/enforceAzureMonitoredKeyVault.json",
        "policy-enforce-keyvault-monitoring/enforceAzureMonitoredKeyVault.parameters.json",
    )
    .await;
    assert_eq!(d["properties"]["provisioningState"], "Succeeded", "{d}");
    // the provider's automation remediates
    let msp = e.token("msp-automation").await;
    let a = format!(
        "{}/providers/Microsoft.Authorization/policyAssignments/Enforce-Monitoring-KeyVault-Assignment",
        sub()
    );
    let r = e
        .call(
            "PUT",
            &remediation("kv"),
            Some(&msp),
            Some(json!({"properties": {"policyAssignmentId": a}})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = e.call("GET", &remediation("kv"), Some(&msp), None).await;
    assert_eq!(
        r.body["properties"]["provisioningState"], "Succeeded",
        "{}",
        r.body
    );
    let kv = format!(
        "{}/resourceGroups/rg-data/providers/Microsoft.KeyVault/vaults/fabrikam-kv",
        sub()
    );
    let admin = e.token("admin@fabrikam").await;
    let setting = format!("{kv}/providers/Microsoft.Insights/diagnosticSettings/setByPolicy?api-version=2021-05-01-preview");
    let r = e.call("GET", &setting, Some(&admin), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["properties"]["workspaceId"],
        "/subscriptions/74903176-3e4e-492d-9d18-9afab69a0cf8/resourcegroups/azuremgmt/providers/microsoft.operationalinsights/workspaces/workspace100"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_subscription_monitoring_sample_remediates_the_subscription() {
    let e = emu().await;
    let d = deploy_sample(
        &e,
        "admin@fabrikam",
        "sub-monitoring",
        "policy-enforce-sub-monitoring/enforceAzureMonitoredSubsription.json",
        "policy-enforce-sub-monitoring/enforceAzureMonitoredSubscription.parameters.json",
    )
    .await;
    assert_eq!(d["properties"]["provisioningState"], "Succeeded", "{d}");
    let admin = e.token("admin@fabrikam").await;
    let a = format!(
        "{}/providers/Microsoft.Authorization/policyAssignments/Enable-Full-AzSub-Monitoring-Assignment",
        sub()
    );
    // the subscription itself is what is non-compliant
    let f = q("&$filter=complianceState eq 'NonCompliant'");
    let r = e
        .call("POST", &states(&a, "queryResults", &f), Some(&admin), None)
        .await;
    let v = values(&r);
    assert_eq!(v.len(), 1, "{}", r.body);
    assert_eq!(v[0]["resourceType"], "Microsoft.Resources/subscriptions");
    let r = e
        .call(
            "PUT",
            &remediation("sub"),
            Some(&admin),
            Some(json!({"properties": {"policyAssignmentId": a}})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = e.call("GET", &remediation("sub"), Some(&admin), None).await;
    let deployments = format!(
        "{}/providers/Microsoft.PolicyInsights/remediations/sub/listDeployments?{PI}",
        sub()
    );
    let l = e.call("POST", &deployments, Some(&admin), None).await;
    // As in Azure: the identity holds Contributor (the sample's roleDefinitionIds), which creates the
    // group, the workspace and the automation account but not the policy assignment the sample's
    // deployment also makes, so that deployment fails with ARM's authorization error
    assert_eq!(
        r.body["properties"]["provisioningState"], "Failed",
        "{}",
        r.body
    );
    let d = values(&l);
    assert_eq!(d.len(), 1, "{}", l.body);
    assert_eq!(d[0]["status"], "Failed");
    assert!(d[0]["remediatedResourceId"]
        .as_str()
        .unwrap()
        .eq_ignore_ascii_case(&sub()));
    assert!(
        d[0]["error"].to_string().contains("AuthorizationFailed")
            && d[0]["error"]
                .to_string()
                .contains("Microsoft.Authorization/policyAssignments/write"),
        "{}",
        d[0]
    );
    let r = e
        .call(
            "GET",
            &format!("{}/resourceGroups/fabrikam-prod-mgmt?{ARM}", sub()),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let ws = format!("{}/resourceGroups/fabrikam-prod-mgmt/providers/Microsoft.OperationalInsights/workspaces/fabrikam-prodmanagedws?api-version=2022-10-01", sub());
    let r = e.call("GET", &ws, Some(&admin), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    // the group the existence condition looks for exists now: the subscription is compliant
    let r = e
        .call("POST", &states(&a, "queryResults", &f), Some(&admin), None)
        .await;
    assert!(values(&r).is_empty(), "{}", r.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_management_group_sample_onboards_each_subscription_of_the_group() {
    let e = emu().await;
    let admin = e.token("admin@fabrikam").await;
    let mg = format!("/providers/Microsoft.Management/managementGroups/{FABRIKAM}");
    let template =
        load("policy-delegate-management-groups/deployLighthouseIfNotExistManagementGroup.json");
    let mut params = load("policy-delegate-management-groups/deployLighthouseIfNotExistsManagementGroup.parameters.json")["parameters"].clone();
    params["managedByTenantId"]["value"] = json!(CONTOSO);
    for a in params["managedByAuthorizations"]["value"]
        .as_array_mut()
        .unwrap()
    {
        a["principalId"] = json!("30000000-0000-0000-0000-000000001101");
    }
    let d = format!("{mg}/providers/Microsoft.Resources/deployments/lighthouse-policy?{ARM}");
    let r = e
        .call(
            "PUT",
            &d,
            Some(&admin),
            Some(json!({"location": "westeurope",
            "properties": {"mode": "Incremental", "template": template, "parameters": params}})),
        )
        .await;
    assert!(r.status < 300, "{}", r.body);
    let r = e.call("GET", &d, Some(&admin), None).await;
    assert_eq!(
        r.body["properties"]["provisioningState"], "Succeeded",
        "{}",
        r.body
    );
    // the customer assigns it at its root group with an identity that is Owner there
    let def =
        format!("{mg}/providers/Microsoft.Authorization/policyDefinitions/Enable-Azure-Lighthouse");
    let a = format!("{mg}/providers/Microsoft.Authorization/policyAssignments/lighthouse");
    let r = e
        .call(
            "PUT",
            &format!("{a}?{POLICY}"),
            Some(&admin),
            Some(json!({"location": "westeurope",
            "identity": {"type": "SystemAssigned"}, "properties": {"policyDefinitionId": def}})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let principal = r.body["identity"]["principalId"]
        .as_str()
        .unwrap()
        .to_string();
    let ra = format!("{mg}/providers/Microsoft.Authorization/roleAssignments/9b2b3c1e-0000-4000-8000-00000000a003?api-version=2022-04-01");
    let r = e
        .call("PUT", &ra, Some(&admin), Some(json!({"properties": {
            "roleDefinitionId": "/providers/Microsoft.Authorization/roleDefinitions/8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
            "principalId": principal, "principalType": "ServicePrincipal"}})))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    // fabrikam-dev is not delegated to Contoso yet: non-compliant
    let f = q("&$filter=complianceState eq 'NonCompliant'");
    let r = e
        .call("POST", &states(&a, "queryResults", &f), Some(&admin), None)
        .await;
    let ids: Vec<String> = values(&r)
        .iter()
        .map(|v| v["resourceId"].as_str().unwrap().to_lowercase())
        .collect();
    assert!(
        ids.contains(&format!("/subscriptions/{FABRIKAM_DEV}")),
        "{}",
        r.body
    );
    let rem = format!("{mg}/providers/Microsoft.PolicyInsights/remediations/onboard?{PI}");
    let r = e
        .call(
            "PUT",
            &rem,
            Some(&admin),
            Some(json!({"properties": {"policyAssignmentId": a}})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = e.call("GET", &rem, Some(&admin), None).await;
    let l = e
        .call(
            "POST",
            &rem.replace("/onboard?", "/onboard/listDeployments?"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(
        r.body["properties"]["provisioningState"], "Succeeded",
        "{} {}",
        r.body, l.body
    );
    // alice now sees fabrikam-dev through the new delegation
    let alice = e.token("alice").await;
    let r = e
        .call("GET", &format!("/subscriptions?{ARM}"), Some(&alice), None)
        .await;
    let subs: Vec<String> = values(&r)
        .iter()
        .map(|s| s["subscriptionId"].as_str().unwrap().to_string())
        .collect();
    assert!(subs.contains(&FABRIKAM_DEV.to_string()), "{subs:?}");
    let r = e
        .call("POST", &states(&a, "queryResults", &f), Some(&admin), None)
        .await;
    assert!(values(&r).is_empty(), "{}", r.body);
}
