//! Azure Policy resources end to end: custom and built-in definitions, initiatives, assignments (with
//! their parameters, identity and list filters) and exemptions, as a customer admin and as the service
//! provider through a delegation, with the RBAC the built-in roles give.

use crate::*;
use serde_json::{json, Value};

const API: &str = "api-version=2025-11-01";
const ALLOWED_LOCATIONS: &str = "e56962a6-4747-49cd-b67b-bf8b01975c4c";
const CONTRIBUTOR: &str = "b24988ac-6180-42a0-ab88-20f7382dd24c";
const RESOURCE_POLICY_CONTRIBUTOR: &str = "36243c78-bf99-498c-9df9-86d9f8d28608";
const MSP_OPERATORS: &str = "30000000-0000-0000-0000-000000001101";

fn sub() -> String {
    format!("/subscriptions/{FABRIKAM_PROD}")
}
fn rg_web() -> String {
    format!("{}/resourceGroups/rg-web", sub())
}
fn at(scope: &str, t: &str, name: &str) -> String {
    format!("{scope}/providers/Microsoft.Authorization/{t}/{name}?{API}")
}
fn list(scope: &str, t: &str, filter: &str) -> String {
    let f = if filter.is_empty() {
        String::new()
    } else {
        format!(
            "&$filter={}",
            filter.replace(' ', "%20").replace('\'', "%27")
        )
    };
    format!("{scope}/providers/Microsoft.Authorization/{t}?{API}{f}")
}
fn names(r: &Resp) -> Vec<String> {
    r.body["value"]
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {}", r.body))
        .iter()
        .map(|v| v["name"].as_str().unwrap().to_string())
        .collect()
}

fn tag_definition() -> Value {
    json!({"properties": {
        "displayName": "Require a tag", "mode": "Indexed", "metadata": {"category": "Tags"},
        "parameters": {
            "tagName": {"type": "String"},
            "effect": {"type": "String", "allowedValues": ["Audit", "Deny", "Disabled"], "defaultValue": "Audit"}},
        "policyRule": {"if": {"field": "[concat('tags[', parameters('tagName'), ']')]", "exists": "false"},
                        "then": {"effect": "[parameters('effect')]"}}}})
}

fn assignment(def_id: &str, params: Value) -> Value {
    json!({"properties": {"displayName": "tags", "policyDefinitionId": def_id, "parameters": params}})
}

#[tokio::test(flavor = "multi_thread")]
async fn a_customer_defines_assigns_lists_and_deletes() {
    let e = emu().await;
    let t = e.token("admin@fabrikam").await;
    let r = e
        .call(
            "PUT",
            &at(&sub(), "policyDefinitions", "require-tag"),
            Some(&t),
            Some(tag_definition()),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["properties"]["policyType"], "Custom");
    assert_eq!(r.body["properties"]["version"], "1.0.0");
    let def_id = r.body["id"].as_str().unwrap().to_string();
    // customs beside built-ins; the filter picks one kind
    let all = names(
        &e.call(
            "GET",
            &list(&sub(), "policyDefinitions", ""),
            Some(&t),
            None,
        )
        .await,
    );
    assert!(
        all.contains(&"require-tag".to_string()) && all.contains(&ALLOWED_LOCATIONS.to_string())
    );
    let custom = names(
        &e.call(
            "GET",
            &list(&sub(), "policyDefinitions", "policyType eq 'Custom'"),
            Some(&t),
            None,
        )
        .await,
    );
    assert_eq!(custom, ["require-tag"]);
    let builtin = names(
        &e.call(
            "GET",
            &list(&sub(), "policyDefinitions", "policyType eq 'BuiltIn'"),
            Some(&t),
            None,
        )
        .await,
    );
    assert!(
        builtin.contains(&ALLOWED_LOCATIONS.to_string())
            && !builtin.contains(&"require-tag".to_string())
    );
    let tags = names(
        &e.call(
            "GET",
            &list(&sub(), "policyDefinitions", "category eq 'Tags'"),
            Some(&t),
            None,
        )
        .await,
    );
    assert!(
        tags.contains(&"require-tag".to_string()) && !tags.contains(&ALLOWED_LOCATIONS.to_string())
    );

    // parameters follow the definition, with Azure's codes
    let a = |p: Value| assignment(&def_id, p);
    for (params, code) in [
        (json!({}), "MissingPolicyParameter"),
        (
            json!({"tagName": {"value": "env"}, "colour": {"value": 1}}),
            "UndefinedPolicyParameter",
        ),
        (
            json!({"tagName": {"value": "env"}, "effect": {"value": "deny"}}),
            "PolicyParameterValueNotAllowed",
        ),
    ] {
        let r = e
            .call(
                "PUT",
                &at(&rg_web(), "policyAssignments", "x"),
                Some(&t),
                Some(a(params)),
            )
            .await;
        assert_eq!((r.status, r.code()), (400, code), "{}", r.body);
    }
    let missing = format!(
        "{}/providers/Microsoft.Authorization/policyDefinitions/nope",
        sub()
    );
    let r = e
        .call(
            "PUT",
            &at(&rg_web(), "policyAssignments", "x"),
            Some(&t),
            Some(assignment(&missing, json!({}))),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (400, "PolicyDefinitionNotFound"),
        "{}",
        r.body
    );

    // one assignment at the subscription, one at rg-web
    let params = json!({"tagName": {"value": "env"}});
    let r = e
        .call(
            "PUT",
            &at(&sub(), "policyAssignments", "tags-sub"),
            Some(&t),
            Some(a(params.clone())),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let p = &r.body["properties"];
    assert_eq!(p["scope"], sub());
    assert_eq!(p["enforcementMode"], "Default");
    assert_eq!(p["notScopes"], json!([]));
    assert_eq!(
        p["metadata"]["createdBy"],
        "30000000-0000-0000-0000-000000002111"
    );
    assert!(p["metadata"]["createdOn"].is_string());
    let mut body = a(params);
    body["properties"]["enforcementMode"] = json!("DoNotEnforce");
    body["properties"]["notScopes"] = json!([format!("{}/resourceGroups/rg-data", sub())]);
    body["properties"]["nonComplianceMessages"] = json!([{"message": "Tag it"}]);
    let r = e
        .call(
            "PUT",
            &at(&rg_web(), "policyAssignments", "tags-rg"),
            Some(&t),
            Some(body),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["properties"]["enforcementMode"], "DoNotEnforce");
    assert_eq!(
        r.body["properties"]["nonComplianceMessages"][0]["message"],
        "Tag it"
    );

    // the filters az sends: a list at the group shows what applies from above
    let l = |scope: String, f: &'static str| {
        let e = &e;
        let t = t.clone();
        async move {
            let mut n = names(
                &e.call("GET", &list(&scope, "policyAssignments", f), Some(&t), None)
                    .await,
            );
            n.sort();
            n
        }
    };
    assert_eq!(l(rg_web(), "atScope()").await, ["tags-rg", "tags-sub"]);
    assert_eq!(l(rg_web(), "atExactScope()").await, ["tags-rg"]);
    assert_eq!(l(rg_web(), "").await, ["tags-rg", "tags-sub"]);
    assert_eq!(l(sub(), "atExactScope()").await, ["tags-sub"]);
    assert_eq!(l(sub(), "atScope()").await, ["tags-sub"]);
    assert_eq!(l(sub(), "atScopeAndBelow()").await, ["tags-rg", "tags-sub"]);
    assert_eq!(l(sub(), "").await, ["tags-rg", "tags-sub"]);
    let by_def = format!("policyDefinitionId eq '{def_id}'");
    let r = e
        .call(
            "GET",
            &list(&sub(), "policyAssignments", &by_def),
            Some(&t),
            None,
        )
        .await;
    assert_eq!(names(&r).len(), 2);
    let r = e
        .call(
            "GET",
            &list(&sub(), "policyAssignments", "name eq 'x'"),
            Some(&t),
            None,
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "InvalidFilter"));
    let vm = format!(
        "{}/providers/Microsoft.Compute/virtualMachines/vm-web-01",
        rg_web()
    );
    assert_eq!(l(vm, "atScope()").await, ["tags-rg", "tags-sub"]);

    // a definition in use is not deleted; the assignment is, with its body, then 404
    let r = e
        .call(
            "DELETE",
            &at(&sub(), "policyDefinitions", "require-tag"),
            Some(&t),
            None,
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (400, "InvalidDeletePolicyDefinitionRequest"),
        "{}",
        r.body
    );
    let r = e
        .call(
            "DELETE",
            &at(&rg_web(), "policyAssignments", "tags-rg"),
            Some(&t),
            None,
        )
        .await;
    assert_eq!((r.status, r.body["name"].as_str()), (200, Some("tags-rg")));
    let r = e
        .call(
            "GET",
            &at(&rg_web(), "policyAssignments", "tags-rg"),
            Some(&t),
            None,
        )
        .await;
    assert_eq!((r.status, r.code()), (404, "PolicyAssignmentNotFound"));
    let r = e
        .call(
            "DELETE",
            &at(&rg_web(), "policyAssignments", "tags-rg"),
            Some(&t),
            None,
        )
        .await;
    assert_eq!(r.status, 204);
    // an assignment in a group that does not exist
    let r = e
        .call(
            "PUT",
            &at(
                &format!("{}/resourceGroups/nope", sub()),
                "policyAssignments",
                "x",
            ),
            Some(&t),
            Some(a(json!({"tagName": {"value": "env"}}))),
        )
        .await;
    assert_eq!((r.status, r.code()), (404, "ResourceGroupNotFound"));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_built_in_catalogue_is_read_only_and_assignable() {
    let e = emu().await;
    let t = e.token("admin@fabrikam").await;
    let builtin =
        format!("/providers/Microsoft.Authorization/policyDefinitions/{ALLOWED_LOCATIONS}?{API}");
    let r = e.call("GET", &builtin, Some(&t), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["properties"]["displayName"], "Allowed locations");
    assert_eq!(r.body["properties"]["policyType"], "BuiltIn");
    for m in ["PUT", "DELETE"] {
        let r = e.call(m, &builtin, Some(&t), Some(json!({}))).await;
        assert_eq!(r.status, 405, "{m}");
    }
    let r = e
        .call(
            "GET",
            &format!("/providers/Microsoft.Authorization/policyDefinitions/nope?{API}"),
            Some(&t),
            None,
        )
        .await;
    assert_eq!((r.status, r.code()), (404, "PolicyDefinitionNotFound"));
    let r = e
        .call(
            "GET",
            &format!("/providers/Microsoft.Authorization/policySetDefinitions?{API}"),
            Some(&t),
            None,
        )
        .await;
    assert_eq!(names(&r).len(), 3, "the initiatives of fixtures/policy");
    let r = e.call("GET", &format!("/providers/Microsoft.Authorization/policyDefinitions/{ALLOWED_LOCATIONS}/versions?{API}"), Some(&t), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    // assignable, its parameters checked
    let def = format!("/providers/Microsoft.Authorization/policyDefinitions/{ALLOWED_LOCATIONS}");
    let r = e
        .call(
            "PUT",
            &at(&sub(), "policyAssignments", "eu-only"),
            Some(&t),
            Some(assignment(
                &def,
                json!({"listOfAllowedLocations": {"value": ["westeurope"]}}),
            )),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = e
        .call(
            "GET",
            &format!(
                "{}&$expand=LatestDefinitionVersion",
                at(&sub(), "policyAssignments", "eu-only")
            ),
            Some(&t),
            None,
        )
        .await;
    assert!(
        r.body["properties"]["latestDefinitionVersion"].is_string(),
        "{}",
        r.body
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_assignment_identity_is_a_managed_identity_that_goes_with_it() {
    let e = emu().await;
    let t = e.token("admin@fabrikam").await;
    let def = format!("/providers/Microsoft.Authorization/policyDefinitions/{ALLOWED_LOCATIONS}");
    // a Modify definition needs a managed identity (Azure's ResourceIdentityRequired)
    let modify =
        "/providers/Microsoft.Authorization/policyDefinitions/5ffd78d9-436d-4b41-a421-5baa819e3008";
    let tag = json!({"tagName": {"value": "env"}, "tagValue": {"value": "prod"}});
    let r = e
        .call(
            "PUT",
            &at(&sub(), "policyAssignments", "tag-it"),
            Some(&t),
            Some(assignment(modify, tag.clone())),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (400, "ResourceIdentityRequired"),
        "{}",
        r.body
    );
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("'Modify' policy definitions"));
    let mut with_mi = assignment(modify, tag);
    with_mi["identity"] = json!({"type": "SystemAssigned"});
    with_mi["location"] = json!("westeurope");
    let r = e
        .call(
            "PUT",
            &at(&sub(), "policyAssignments", "tag-it"),
            Some(&t),
            Some(with_mi),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);

    let mut body = assignment(
        &def,
        json!({"listOfAllowedLocations": {"value": ["westeurope"]}}),
    );
    body["identity"] = json!({"type": "SystemAssigned"});
    let r = e
        .call(
            "PUT",
            &at(&sub(), "policyAssignments", "with-mi"),
            Some(&t),
            Some(body.clone()),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (400, "LocationRequired"),
        "{}",
        r.body
    );
    body["location"] = json!("westeurope");
    let r = e
        .call(
            "PUT",
            &at(&sub(), "policyAssignments", "with-mi"),
            Some(&t),
            Some(body.clone()),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["identity"]["tenantId"], FABRIKAM);
    let pid = r.body["identity"]["principalId"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(r.body["properties"]["instanceId"], pid.as_str());
    // kept across an update
    let r = e
        .call(
            "PUT",
            &at(&sub(), "policyAssignments", "with-mi"),
            Some(&t),
            Some(body),
        )
        .await;
    assert_eq!(r.body["identity"]["principalId"], pid.as_str());
    // the provider's delegated User Access Administrator may give it a role it lists (Contributor)
    let msp = e.token("msp-automation").await;
    let ra = |n: &str| {
        format!(
            "{}/providers/Microsoft.Authorization/roleAssignments/{n}?api-version=2022-04-01",
            sub()
        )
    };
    let grant = json!({"properties": {
        "roleDefinitionId": format!("{}/providers/Microsoft.Authorization/roleDefinitions/{CONTRIBUTOR}", sub()),
        "principalId": pid, "principalType": "ServicePrincipal",
        "delegatedManagedIdentityResourceId": format!("{}/providers/Microsoft.Authorization/policyAssignments/with-mi", sub())}});
    let r = e
        .call(
            "PUT",
            &ra("7a000000-0000-0000-0000-000000000001"),
            Some(&msp),
            Some(grant.clone()),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    // gone with the assignment: no longer a principal of the tenant
    let r = e
        .call(
            "DELETE",
            &at(&sub(), "policyAssignments", "with-mi"),
            Some(&t),
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    let r = e
        .call(
            "PUT",
            &ra("7a000000-0000-0000-0000-000000000002"),
            Some(&msp),
            Some(grant),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (400, "PrincipalNotFound"),
        "{}",
        r.body
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_provider_reads_policy_and_writes_it_only_with_a_policy_role() {
    let e = emu().await;
    let admin = e.token("admin@fabrikam").await;
    let alice = e.token("alice").await;
    let def = format!("/providers/Microsoft.Authorization/policyDefinitions/{ALLOWED_LOCATIONS}");
    let body = assignment(
        &def,
        json!({"listOfAllowedLocations": {"value": ["westeurope"]}}),
    );
    let r = e
        .call(
            "PUT",
            &at(&sub(), "policyAssignments", "customer-own"),
            Some(&admin),
            Some(body.clone()),
        )
        .await;
    assert_eq!(r.status, 201);
    // Contributor (alice's delegated role, fabrikam-ci's own) has Microsoft.Authorization/*/Write in notActions
    let ci = e.token("fabrikam-ci").await;
    for tok in [&alice, &ci] {
        let r = e
            .call(
                "PUT",
                &at(&sub(), "policyAssignments", "provider"),
                Some(tok),
                Some(body.clone()),
            )
            .await;
        assert_eq!(
            (r.status, r.code()),
            (403, "AuthorizationFailed"),
            "{}",
            r.body
        );
        assert!(r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Microsoft.Authorization/policyAssignments/write"));
    }
    // but reads what the customer assigned
    let r = e
        .call(
            "GET",
            &list(&sub(), "policyAssignments", "atExactScope()"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(names(&r), ["customer-own"]);
    // the customer delegates Resource Policy Contributor to MSP Operators
    let def_id = "51000000-0000-0000-0000-00000000b001";
    let reg = json!({"properties": {"registrationDefinitionName": "Contoso MSP - policy", "description": "policy",
        "managedByTenantId": CONTOSO, "authorizations": [{"principalId": MSP_OPERATORS,
        "principalIdDisplayName": "MSP Operators", "roleDefinitionId": RESOURCE_POLICY_CONTRIBUTOR}]}});
    let r = e.call("PUT", &format!("{}/providers/Microsoft.ManagedServices/registrationDefinitions/{def_id}?api-version=2022-10-01", sub()), Some(&admin), Some(reg)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = e.call("PUT", &format!("{}/providers/Microsoft.ManagedServices/registrationAssignments/61000000-0000-0000-0000-00000000b001?api-version=2022-10-01", sub()), Some(&admin),
        Some(json!({"properties": {"registrationDefinitionId": format!("{}/providers/Microsoft.ManagedServices/registrationDefinitions/{def_id}", sub())}}))).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = e
        .call(
            "PUT",
            &at(&sub(), "policyAssignments", "provider"),
            Some(&alice),
            Some(body),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        r.body["properties"]["metadata"]["createdBy"],
        "30000000-0000-0000-0000-000000001111"
    );
    // the customer sees the provider's assignment beside its own
    let mut n = names(
        &e.call(
            "GET",
            &list(&sub(), "policyAssignments", ""),
            Some(&admin),
            None,
        )
        .await,
    );
    n.sort();
    assert_eq!(n, ["customer-own", "provider"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn initiatives_and_exemptions() {
    let e = emu().await;
    let t = e.token("admin@fabrikam").await;
    let r = e
        .call(
            "PUT",
            &at(&sub(), "policyDefinitions", "require-tag"),
            Some(&t),
            Some(tag_definition()),
        )
        .await;
    let def_id = r.body["id"].as_str().unwrap().to_string();
    let set = |refs: Value| {
        json!({"properties": {"displayName": "Tagging",
        "policyDefinitionGroups": [{"name": "Org"}], "policyDefinitions": refs}})
    };
    let nope = format!(
        "{}/providers/Microsoft.Authorization/policyDefinitions/nope",
        sub()
    );
    let r = e
        .call(
            "PUT",
            &at(&sub(), "policySetDefinitions", "tagging"),
            Some(&t),
            Some(set(json!([{"policyDefinitionId": nope}]))),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (404, "PolicyDefinitionNotFound"),
        "{}",
        r.body
    );
    let r = e
        .call(
            "PUT",
            &at(&sub(), "policySetDefinitions", "tagging"),
            Some(&t),
            Some(set(
                json!([{"policyDefinitionId": def_id, "parameters": {"bogus": {"value": 1}}}]),
            )),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (400, "UndefinedPolicyParameter"),
        "{}",
        r.body
    );
    let refs = json!([
        {"policyDefinitionId": def_id, "policyDefinitionReferenceId": "env", "groupNames": ["Org"], "parameters": {"tagName": {"value": "env"}}},
        {"policyDefinitionId": def_id, "policyDefinitionReferenceId": "owner", "parameters": {"tagName": {"value": "owner"}}}]);
    let r = e
        .call(
            "PUT",
            &at(&sub(), "policySetDefinitions", "tagging"),
            Some(&t),
            Some(set(refs.clone())),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = e
        .call(
            "PUT",
            &at(&sub(), "policySetDefinitions", "tagging"),
            Some(&t),
            Some(set(refs)),
        )
        .await;
    assert_eq!(r.status, 200, "an update");
    let set_id = r.body["id"].as_str().unwrap().to_string();
    // a definition an initiative references is not deleted
    let r = e
        .call(
            "DELETE",
            &at(&sub(), "policyDefinitions", "require-tag"),
            Some(&t),
            None,
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (400, "InvalidDeletePolicyDefinitionRequest")
    );
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("referenced by the policy set definition"));
    let r = e
        .call(
            "PUT",
            &at(&sub(), "policyAssignments", "tagging"),
            Some(&t),
            Some(assignment(&set_id, json!({}))),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let a_id = r.body["id"].as_str().unwrap().to_string();

    let ex = |refs: Value, cat: &str| {
        json!({"properties": {"policyAssignmentId": a_id, "exemptionCategory": cat,
        "policyDefinitionReferenceIds": refs, "expiresOn": "2099-01-01T00:00:00Z"}})
    };
    let put = |scope: String, body: Value| {
        let e = &e;
        let t = t.clone();
        async move {
            e.call("PUT", &format!("{scope}/providers/Microsoft.Authorization/policyExemptions/demo?api-version=2024-12-01-preview"), Some(&t), Some(body)).await
        }
    };
    let r = put(rg_web(), ex(json!(["env"]), "Sometimes")).await;
    assert_eq!(
        (r.status, r.code()),
        (400, "InvalidPolicyExemptionCategory")
    );
    let r = put(rg_web(), ex(json!(["colour"]), "Waiver")).await;
    assert_eq!(
        (r.status, r.code()),
        (400, "InvalidPolicyDefinitionReferenceId")
    );
    let r = put(rg_web(), ex(json!(["env"]), "Waiver")).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = put(rg_web(), ex(json!(["env", "owner"]), "Mitigated")).await;
    assert_eq!(
        (r.status, r.body["properties"]["exemptionCategory"].as_str()),
        (200, Some("Mitigated"))
    );
    // outside the assignment's scope
    let dev = format!("/subscriptions/{FABRIKAM_DEV}");
    let r = put(dev, ex(json!([]), "Waiver")).await;
    assert_eq!(
        (r.status, r.code()),
        (400, "PolicyExemptionScopeNotWithinAssignmentScope"),
        "{}",
        r.body
    );
    let ex_list = |scope: String, f: &'static str| {
        let e = &e;
        let t = t.clone();
        async move {
            let f = if f.is_empty() {
                String::new()
            } else {
                format!("&$filter={f}")
            };
            names(&e.call("GET", &format!("{scope}/providers/Microsoft.Authorization/policyExemptions?api-version=2024-12-01-preview{f}"), Some(&t), None).await)
        }
    };
    assert_eq!(ex_list(sub(), "").await, ["demo"]);
    assert_eq!(ex_list(sub(), "atScope()").await, Vec::<String>::new());
    assert_eq!(ex_list(rg_web(), "excludeExpired()").await, ["demo"]);
    // an expired exemption is left out by excludeExpired()
    let r = e
        .call(
            "POST",
            "/_emulator/clock",
            None,
            Some(json!({"set": "2100-01-01T00:00:00Z"})),
        )
        .await;
    assert_eq!(r.status, 200);
    let t2 = e.token("admin@fabrikam").await;
    let r = e.call("GET", &format!("{}/providers/Microsoft.Authorization/policyExemptions?api-version=2024-12-01-preview&$filter=excludeExpired()", rg_web()), Some(&t2), None).await;
    assert_eq!(names(&r), Vec::<String>::new());
    e.call(
        "POST",
        "/_emulator/clock",
        None,
        Some(json!({"reset": true})),
    )
    .await;
}
