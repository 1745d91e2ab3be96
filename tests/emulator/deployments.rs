//! Onboarding by ARM template: every Azure Lighthouse sample onboarding template (tests/templates/
//! lighthouse, unmodified) deployed with its sample parameter file filled with default-world ids, the
//! delegation then used by a Contoso MSP principal; the deployment history, operations, validate,
//! what-if, export, cancel and delete; the failures ARM reports (Owner, DataActions role, Databricks,
//! an expression error with its location); a 200-resource copy loop.

use crate::*;
use serde_json::{json, Value};

const MSP_OPERATORS: &str = "30000000-0000-0000-0000-000000001101";
const MSP_READERS: &str = "30000000-0000-0000-0000-000000001102";
const TAILSPIN_ANALYTICS: &str = "20000000-0000-0000-0000-000000004002";
const API: &str = "api-version=2025-04-01";
const LOG_ANALYTICS_CONTRIBUTOR: &str = "92aaf0da-9dab-42b6-94a3-d43ce8d16293";

fn load(rel: &str) -> Value {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/templates/lighthouse/templates")
        .join(rel);
    serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap()
}

/// A sample parameter file's `parameters` with the default world's ids: Contoso MSP manages, MSP
/// Operators hold the permanent authorizations, MSP Readers the eligible ones and the approvals.
fn fill(params: &Value) -> Value {
    let mut p = params["parameters"].clone();
    if p.get("managedByTenantId").is_some() {
        p["managedByTenantId"]["value"] = json!(CONTOSO);
    }
    for (key, group) in [
        ("authorizations", MSP_OPERATORS),
        ("eligibleAuthorizations", MSP_READERS),
    ] {
        if let Some(list) = p.get_mut(key).and_then(|a| a["value"].as_array_mut()) {
            for a in list {
                a["principalId"] = json!(group);
                if let Some(approvers) = a
                    .get_mut("justInTimeAccessPolicy")
                    .and_then(|j| j.get_mut("managedByTenantApprovers"))
                    .and_then(Value::as_array_mut)
                {
                    for ap in approvers {
                        ap["principalId"] = json!(MSP_READERS);
                    }
                }
            }
        }
    }
    p
}

fn dep_path(sub: &str, name: &str) -> String {
    format!("/subscriptions/{sub}/providers/Microsoft.Resources/deployments/{name}?{API}")
}

fn dep_body(template: &Value, parameters: &Value) -> Value {
    json!({"location": "westeurope", "properties": {"mode": "Incremental", "template": template, "parameters": parameters}})
}

/// PUT a deployment, follow the `Azure-AsyncOperation` poll as the SDKs do, GET the result.
async fn deploy(e: &Emu, token: &str, path: &str, body: Value) -> (Resp, Value) {
    let r = e.call("PUT", path, Some(token), Some(body)).await;
    assert!(
        r.status == 201 || r.status == 200,
        "{} {}",
        r.status,
        r.body
    );
    assert_eq!(r.body["properties"]["provisioningState"], "Accepted");
    let poll = r.header("azure-asyncoperation").to_string();
    assert!(poll.contains("/operationStatuses/"), "{poll}");
    assert_eq!(r.header("retry-after"), "1");
    let status = e.call("GET", &poll, Some(token), None).await;
    assert_eq!(status.status, 200, "{}", status.body);
    let got = e.call("GET", path, Some(token), None).await;
    assert_eq!(got.status, 200);
    assert_eq!(
        status.body["status"], got.body["properties"]["provisioningState"],
        "the poll is terminal at once"
    );
    (got, status.body)
}

/// (template, parameter file, deployed to a resource group?)
const SAMPLES: &[(&str, &str)] = &[
    (
        "delegated-resource-management/subscription/subscription.json",
        "delegated-resource-management/subscription/subscription.parameters.json",
    ),
    (
        "delegated-resource-management/rg/rg.json",
        "delegated-resource-management/rg/rg.parameters.json",
    ),
    (
        "delegated-resource-management/rg/multi-rg.json",
        "delegated-resource-management/rg/multiple-rg.parameters.json",
    ),
    (
        "delegated-resource-management-eligible-authorizations/subscription/subscription.json",
        "delegated-resource-management-eligible-authorizations/subscription/subscription.parameters.json",
    ),
    (
        "delegated-resource-management-eligible-authorizations/subscription/subscription-managing-tenant-approvers.json",
        "delegated-resource-management-eligible-authorizations/subscription/subscription-managing-tenant-approvers.parameters.json",
    ),
    (
        "delegated-resource-management-eligible-authorizations/rg/rg.json",
        "delegated-resource-management-eligible-authorizations/rg/rg.parameters.json",
    ),
    (
        "delegated-resource-management-eligible-authorizations/rg/rg-managing-tenant-approvers.json",
        "delegated-resource-management-eligible-authorizations/rg/rg-managing-tenant-approvers.parameters.json",
    ),
    (
        "delegated-resource-management-eligible-authorizations/rg/multiple-rg.json",
        "delegated-resource-management-eligible-authorizations/rg/multiple-rg.parameters.json",
    ),
    (
        "delegated-resource-management-eligible-authorizations/rg/multiple-rg-managing-tenant-approvers.json",
        "delegated-resource-management-eligible-authorizations/rg/multiple-rg-managing-tenant-approvers.parameters.json",
    ),
    (
        "delegated-resource-management-azmigrate/delegatedResourceManagementAzMigrate.json",
        "delegated-resource-management-azmigrate/delegatedResourceManagementAzMigrate.parameters.json",
    ),
    (
        "marketplace-delegated-resource-management/marketplaceDelegatedResourceManagement.json",
        "marketplace-delegated-resource-management/marketplaceDelegatedResourceManagement.parameters.json",
    ),
];

#[tokio::test(flavor = "multi_thread")]
async fn every_onboarding_sample_deploys_unmodified_and_the_delegation_works() {
    let e = emu().await;
    for (tpl, params) in SAMPLES {
        let r = e.call("POST", "/_emulator/reset", None, None).await;
        assert!(r.status < 300);
        let admin = e.token("admin@fabrikam").await;
        let template = load(tpl);
        let parameters = fill(&load(params));
        // the resource groups the parameters name must exist (as the samples say)
        let mut rgs: Vec<String> = Vec::new();
        if let Some(r) = parameters["rgName"]["value"].as_str() {
            rgs.push(r.into());
        }
        for r in parameters["resourceGroups"]["value"]
            .as_array()
            .into_iter()
            .flatten()
        {
            rgs.push(r["rgName"].as_str().unwrap().into());
        }
        for rg in &rgs {
            let r = e
                .call(
                    "PUT",
                    &format!(
                        "/subscriptions/{FABRIKAM_DEV}/resourcegroups/{rg}?api-version=2024-11-01"
                    ),
                    Some(&admin),
                    Some(json!({"location": "westeurope"})),
                )
                .await;
            assert!(r.status < 300, "{tpl}: {}", r.body);
        }
        let (got, status) = deploy(
            &e,
            &admin,
            &dep_path(FABRIKAM_DEV, "onboard"),
            dep_body(&template, &parameters),
        )
        .await;
        assert_eq!(
            got.body["properties"]["provisioningState"], "Succeeded",
            "{tpl}: {} / {}",
            got.body, status
        );
        let offer = parameters["mspOfferName"]["value"].as_str().unwrap();
        assert_eq!(
            got.body["properties"]["outputs"]["mspOfferName"]["value"],
            format!("Managed by {offer}"),
            "{tpl}"
        );
        assert_eq!(
            got.body["properties"]["parameters"]["managedByTenantId"]["value"],
            CONTOSO
        );
        // every operation succeeded, each naming its target
        let ops = e
            .call(
                "GET",
                &format!("/subscriptions/{FABRIKAM_DEV}/providers/Microsoft.Resources/deployments/onboard/operations?{API}"),
                Some(&admin),
                None,
            )
            .await;
        let ops = ops.body["value"].as_array().unwrap().clone();
        assert!(!ops.is_empty());
        for op in &ops {
            assert_eq!(
                op["properties"]["provisioningState"], "Succeeded",
                "{tpl}: {op}"
            );
        }
        // the managing tenant now reaches the delegated scope
        let msp = e.token("msp-automation").await;
        let targets: Vec<String> = if rgs.is_empty() {
            vec![format!(
                "/subscriptions/{FABRIKAM_DEV}/resourcegroups/rg-dev?api-version=2024-11-01"
            )]
        } else {
            rgs.iter()
                .map(|rg| {
                    format!(
                        "/subscriptions/{FABRIKAM_DEV}/resourcegroups/{rg}?api-version=2024-11-01"
                    )
                })
                .collect()
        };
        for t in &targets {
            let r = e.call("GET", t, Some(&msp), None).await;
            assert_eq!(r.status, 200, "{tpl}: msp-automation GET {t}: {}", r.body);
            assert!(r
                .header("x-ms-emulator-decision")
                .contains("delegated authorization"));
        }
        if !rgs.is_empty() {
            // only the delegated groups: rg-dev stays out of reach
            let r = e
                .call("GET", &format!("/subscriptions/{FABRIKAM_DEV}/resourcegroups/rg-dev?api-version=2024-11-01"), Some(&msp), None)
                .await;
            assert_eq!(r.status, 403, "{tpl}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn deployment_history_operations_validate_what_if_export_cancel_delete() {
    let e = emu().await;
    let admin = e.token("admin@fabrikam").await;
    let template = load("delegated-resource-management/rg/rg.json");
    let mut parameters = fill(&load("delegated-resource-management/rg/rg.parameters.json"));
    parameters["rgName"]["value"] = json!("rg-dev");
    let body = dep_body(&template, &parameters);
    // validate first, as az does
    let r = e
        .call(
            "POST",
            &format!("/subscriptions/{FABRIKAM_DEV}/providers/Microsoft.Resources/deployments/rg-onboard/validate?{API}"),
            Some(&admin),
            Some(body.clone()),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["properties"]["provisioningState"], "Succeeded");
    assert_eq!(
        r.body["properties"]["validatedResources"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // what-if before: everything is created
    let wi = format!("/subscriptions/{FABRIKAM_DEV}/providers/Microsoft.Resources/deployments/rg-onboard/whatIf?{API}");
    let r = e.call("POST", &wi, Some(&admin), Some(body.clone())).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let kinds: Vec<&str> = r.body["properties"]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["changeType"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["Create", "Create"]);
    let (got, _) = deploy(
        &e,
        &admin,
        &dep_path(FABRIKAM_DEV, "rg-onboard"),
        body.clone(),
    )
    .await;
    let p = &got.body["properties"];
    assert_eq!(p["provisioningState"], "Succeeded", "{}", got.body);
    assert_eq!(got.body["location"], "westeurope");
    for k in [
        "timestamp",
        "duration",
        "correlationId",
        "templateHash",
        "outputResources",
        "dependencies",
        "providers",
    ] {
        assert!(!p[k].is_null(), "missing {k}: {}", got.body);
    }
    // the activity log shows the deployment and each resource it wrote, by the deploying principal
    let now = e.app.clock.now();
    let filter = format!(
        "eventTimestamp ge '{}' and eventTimestamp le '{}'",
        lighthouse_emulator::clock::arm_time(now - time::Duration::hours(1)),
        lighthouse_emulator::clock::arm_time(now + time::Duration::hours(1))
    );
    let q = form_urlencoded::Serializer::new(String::new())
        .append_pair("api-version", "2015-04-01")
        .append_pair("$filter", &filter)
        .finish();
    let log = e
        .call("GET", &format!("/subscriptions/{FABRIKAM_DEV}/providers/Microsoft.Insights/eventtypes/management/values?{q}"), Some(&admin), None)
        .await;
    assert_eq!(log.status, 200, "{}", log.body);
    let ops: Vec<String> = log.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            v["operationName"]["value"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    for action in [
        "Microsoft.Resources/deployments/write",
        "Microsoft.ManagedServices/registrationDefinitions/write",
        "Microsoft.ManagedServices/registrationAssignments/write",
    ] {
        assert!(
            ops.iter().any(|o| o.eq_ignore_ascii_case(action)),
            "{action} not in {ops:?}"
        );
    }
    assert!(
        log.body["value"]
            .as_array()
            .unwrap()
            .iter()
            .all(|v| v["caller"] == "admin@fabrikam.onmicrosoft.com"),
        "{}",
        log.body
    );
    // the nested deployment is in the resource group's history
    let nested = e
        .call("GET", &format!("/subscriptions/{FABRIKAM_DEV}/resourcegroups/rg-dev/providers/Microsoft.Resources/deployments/rgAssignment?{API}"), Some(&admin), None)
        .await;
    assert_eq!(nested.status, 200);
    assert_eq!(nested.body["properties"]["provisioningState"], "Succeeded");
    let nested_ops = e
        .call("GET", &format!("/subscriptions/{FABRIKAM_DEV}/resourcegroups/rg-dev/deployments/rgAssignment/operations?{API}"), Some(&admin), None)
        .await;
    assert_eq!(nested_ops.status, 200, "{}", nested_ops.body);
    let op = &nested_ops.body["value"][0]["properties"];
    assert_eq!(
        op["targetResource"]["resourceType"],
        "Microsoft.ManagedServices/registrationAssignments"
    );
    assert_eq!(op["statusCode"], "Created");
    // operations of the parent: definition then nested deployment; one operation by id
    let ops = e
        .call("GET", &format!("/subscriptions/{FABRIKAM_DEV}/providers/Microsoft.Resources/deployments/rg-onboard/operations?{API}"), Some(&admin), None)
        .await;
    let ops = ops.body["value"].as_array().unwrap().clone();
    let types: Vec<&str> = ops
        .iter()
        .filter_map(|o| o["properties"]["targetResource"]["resourceType"].as_str())
        .collect();
    assert_eq!(
        types,
        [
            "Microsoft.ManagedServices/registrationDefinitions",
            "Microsoft.Resources/deployments"
        ]
    );
    let one = e
        .call("GET", &format!("/subscriptions/{FABRIKAM_DEV}/providers/Microsoft.Resources/deployments/rg-onboard/operations/{}?{API}", ops[0]["operationId"].as_str().unwrap()), Some(&admin), None)
        .await;
    assert_eq!(one.status, 200);
    // list, filter, export
    let l = e
        .call(
            "GET",
            &format!(
                "/subscriptions/{FABRIKAM_DEV}/providers/Microsoft.Resources/deployments/?{API}"
            ),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(
        l.body["value"].as_array().unwrap().len(),
        1,
        "sub-level history only: {}",
        l.body
    );
    let l = e.call("GET", &format!("/subscriptions/{FABRIKAM_DEV}/providers/Microsoft.Resources/deployments/?{API}&$filter=provisioningState eq 'Failed'"), Some(&admin), None).await;
    assert_eq!(l.body["value"].as_array().unwrap().len(), 0);
    let x = e.call("POST", &format!("/subscriptions/{FABRIKAM_DEV}/providers/Microsoft.Resources/deployments/rg-onboard/exportTemplate?{API}"), Some(&admin), None).await;
    assert_eq!(x.body["template"], template);
    // what-if after: nothing changes
    let r = e.call("POST", &wi, Some(&admin), Some(body.clone())).await;
    let kinds: Vec<&str> = r.body["properties"]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["changeType"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["NoChange", "NoChange"], "{}", r.body);
    // a finished deployment cannot be cancelled; deleting removes the record, not the resources
    let c = e.call("POST", &format!("/subscriptions/{FABRIKAM_DEV}/providers/Microsoft.Resources/deployments/rg-onboard/cancel?{API}"), Some(&admin), None).await;
    assert_eq!((c.status, c.code()), (409, "DeploymentCannotBeCancelled"));
    let d = e
        .call(
            "DELETE",
            &dep_path(FABRIKAM_DEV, "rg-onboard"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(d.status, 202);
    let g = e
        .call(
            "GET",
            &dep_path(FABRIKAM_DEV, "rg-onboard"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!((g.status, g.code()), (404, "DeploymentNotFound"));
    let alice = e.token("alice").await;
    assert_eq!(
        e.call(
            "GET",
            &format!("/subscriptions/{FABRIKAM_DEV}/resourcegroups/rg-dev?api-version=2024-11-01"),
            Some(&alice),
            None
        )
        .await
        .status,
        200
    );
    // the deployer needs deployments/write: the customer's Reader cannot deploy
    let reader = e.token("reader@fabrikam").await;
    let r = e
        .call(
            "PUT",
            &dep_path(FABRIKAM_PROD, "nope"),
            Some(&reader),
            Some(body),
        )
        .await;
    assert_eq!(r.code(), "AuthorizationFailed");
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Microsoft.Resources/deployments/write"));
}

/// Deploy the subscription sample with one authorization role changed; the deployment must fail.
async fn failing(e: &Emu, who: &str, sub: &str, role: &str) -> Value {
    let token = e.token(who).await;
    let template = load("delegated-resource-management/subscription/subscription.json");
    let mut parameters = fill(&load(
        "delegated-resource-management/subscription/subscription.parameters.json",
    ));
    parameters["authorizations"]["value"][0]["roleDefinitionId"] = json!(role);
    let (got, status) = deploy(
        e,
        &token,
        &dep_path(sub, "onboard-bad"),
        dep_body(&template, &parameters),
    )
    .await;
    assert_eq!(
        got.body["properties"]["provisioningState"], "Failed",
        "{}",
        got.body
    );
    assert_eq!(status["status"], "Failed");
    assert_eq!(status["error"]["code"], "DeploymentFailed");
    let err = got.body["properties"]["error"].clone();
    assert_eq!(err["code"], "DeploymentFailed");
    assert_eq!(err["message"], "At least one resource deployment operation failed. Please list deployment operations for details. Please see https://aka.ms/arm-deployment-operations for usage details.");
    // the failing operation is listed with its status; the assignment that depends on it never ran
    let ops = e
        .call("GET", &format!("/subscriptions/{sub}/providers/Microsoft.Resources/deployments/onboard-bad/operations?{API}"), Some(&token), None)
        .await;
    let ops = ops.body["value"].as_array().unwrap().clone();
    assert_eq!(ops.len(), 1, "{ops:?}");
    let p = &ops[0]["properties"];
    assert_eq!(p["provisioningState"], "Failed");
    assert_eq!(p["statusCode"], "BadRequest");
    assert_eq!(
        p["targetResource"]["resourceType"],
        "Microsoft.ManagedServices/registrationDefinitions"
    );
    assert_eq!(p["statusMessage"]["error"], err["details"][0]);
    err["details"][0].clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn templates_the_delegation_rules_forbid_fail_with_the_inner_error() {
    let e = emu().await;
    // Owner cannot be delegated
    let d = failing(
        &e,
        "admin@fabrikam",
        FABRIKAM_DEV,
        "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
    )
    .await;
    assert_eq!(
        d["code"], "InvalidRegistrationDefinitionCreateRequest",
        "{d}"
    );
    assert!(
        d["message"]
            .as_str()
            .unwrap()
            .contains("restricted for registration"),
        "{d}"
    );
    // nor a role with DataActions (Storage Blob Data Reader)
    let d = failing(
        &e,
        "admin@fabrikam",
        FABRIKAM_DEV,
        "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
    )
    .await;
    assert_eq!(
        d["code"], "InvalidRegistrationDefinitionCreateRequest",
        "{d}"
    );
    // and a subscription using Databricks cannot be onboarded
    let d = failing(
        &e,
        "admin@tailspin",
        TAILSPIN_ANALYTICS,
        "acdd72a7-3385-48ef-bd42-f606fba81ae7",
    )
    .await;
    assert_eq!(
        d["code"], "InvalidRegistrationDefinitionCreateRequest",
        "{d}"
    );
    assert!(d["message"].as_str().unwrap().contains("Databricks"), "{d}");
    // nothing was delegated
    let msp = e.token("msp-automation").await;
    let r = e
        .call(
            "GET",
            &format!("/subscriptions/{FABRIKAM_DEV}/resourcegroups/rg-dev?api-version=2024-11-01"),
            Some(&msp),
            None,
        )
        .await;
    assert_eq!(r.code(), "InvalidAuthenticationTokenTenant");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_data_action_role_is_refused_in_authorizations_but_not_as_a_delegated_role() {
    // The samples let User Access Administrator assign Log Analytics Contributor (which carries a data
    // action today) to managed identities: accepted there, refused as a role of its own.
    let e = emu().await;
    let admin = e.token("admin@fabrikam").await;
    let template = load("delegated-resource-management/subscription/subscription.json");
    let mut parameters = fill(&load(
        "delegated-resource-management/subscription/subscription.parameters.json",
    ));
    parameters["authorizations"]["value"][0]["roleDefinitionId"] = json!(LOG_ANALYTICS_CONTRIBUTOR);
    let (got, _) = deploy(
        &e,
        &admin,
        &dep_path(FABRIKAM_DEV, "la"),
        dep_body(&template, &parameters),
    )
    .await;
    assert_eq!(got.body["properties"]["provisioningState"], "Failed");
    let d = &got.body["properties"]["error"]["details"][0];
    assert_eq!(d["code"], "InvalidRegistrationDefinitionCreateRequest");
    assert!(
        d["message"]
            .as_str()
            .unwrap()
            .contains(LOG_ANALYTICS_CONTRIBUTOR),
        "{d}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn template_errors_name_the_function_and_the_location() {
    let e = emu().await;
    let admin = e.token("admin@fabrikam").await;
    let mut template = load("delegated-resource-management/subscription/subscription.json");
    template["resources"][0]["properties"]["description"] =
        json!("[toLowr(parameters('mspOfferDescription'))]");
    let parameters = fill(&load(
        "delegated-resource-management/subscription/subscription.parameters.json",
    ));
    let text = serde_json::to_string_pretty(&dep_body(&template, &parameters)).unwrap();
    let r = e
        .raw(
            "PUT",
            &dep_path(FABRIKAM_DEV, "typo"),
            &[
                ("authorization", &format!("Bearer {admin}")),
                ("content-type", "application/json"),
            ],
            text.clone().into_bytes(),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "InvalidTemplate"), "{}", r.body);
    let line = text.lines().position(|l| l.contains("toLowr")).unwrap() + 1;
    let msg = r.body["error"]["message"].as_str().unwrap();
    let name = json!(lighthouse_emulator::template::hash::guid(&[
        "Relecloud Managed Services".into()
    ]));
    assert!(msg.starts_with(&format!("Deployment template validation failed: 'The template resource '[variables('mspRegistrationName')]' at line '{line}' and column ")) || msg.contains(&format!("at line '{line}'")), "{msg} {name}");
    assert!(
        msg.contains("The template function 'toLowr' is not found"),
        "{msg}"
    );
    let info = &r.body["error"]["additionalInfo"][0]["info"];
    assert_eq!(
        info["path"],
        "properties.template.resources[0].properties.description"
    );
    assert_eq!(info["lineNumber"], line);
    // nothing was recorded
    assert_eq!(
        e.call("GET", &dep_path(FABRIKAM_DEV, "typo"), Some(&admin), None)
            .await
            .status,
        404
    );
    // a missing parameter, a linked template, a missing location
    let r = e
        .call(
            "PUT",
            &dep_path(FABRIKAM_DEV, "p"),
            Some(&admin),
            Some(dep_body(
                &load("delegated-resource-management/subscription/subscription.json"),
                &json!({}),
            )),
        )
        .await;
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("The value for the template parameter 'mspOfferName'"),
        "{}",
        r.body
    );
    let r = e.call("PUT", &dep_path(FABRIKAM_DEV, "l"), Some(&admin), Some(json!({"location": "westeurope", "properties": {"mode": "Incremental", "templateLink": {"uri": "https://raw.githubusercontent.com/x/t.json"}}}))).await;
    assert_eq!((r.status, r.code()), (400, "InvalidDeployment"));
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("no network access"));
    let r = e
        .call(
            "PUT",
            &dep_path(FABRIKAM_DEV, "n"),
            Some(&admin),
            Some(json!({"properties": {"mode": "Incremental", "template": template}})),
        )
        .await;
    assert_eq!(r.code(), "InvalidDeployment");
    // tenant scope is refused clearly
    let r = e
        .call(
            "PUT",
            &format!("/providers/Microsoft.Resources/deployments/t?{API}"),
            Some(&admin),
            Some(dep_body(&template, &parameters)),
        )
        .await;
    assert!(r.status >= 400, "{}", r.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_copy_loop_of_200_resources() {
    let e = emu().await;
    let admin = e.token("admin@fabrikam").await;
    let template = json!({
        "$schema": "https://schema.management.azure.com/schemas/2015-01-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "parameters": {"count": {"type": "int", "defaultValue": 200, "maxValue": 800}},
        "variables": {"prefix": "[concat('st', uniqueString(resourceGroup().id))]"},
        "resources": [{
            "type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-05-01",
            "name": "[concat(variables('prefix'), copyIndex())]",
            "location": "[resourceGroup().location]",
            "sku": {"name": "Standard_LRS"}, "kind": "StorageV2",
            "copy": {"name": "accounts", "count": "[parameters('count')]", "mode": "Parallel", "batchSize": 50},
            "properties": {"index": "[copyIndex()]"}
        }],
        "outputs": {"names": {"type": "array", "copy": {"count": 3, "input": "[concat(variables('prefix'), copyIndex())]"}}}
    });
    let path = format!("/subscriptions/{FABRIKAM_DEV}/resourcegroups/rg-dev/providers/Microsoft.Resources/deployments/many?{API}");
    let rg_list = format!(
        "/subscriptions/{FABRIKAM_DEV}/resourceGroups/rg-dev/resources?api-version=2021-04-01"
    );
    let before = e.call("GET", &rg_list, Some(&admin), None).await.body["value"]
        .as_array()
        .unwrap()
        .len();
    let started = std::time::Instant::now();
    let (got, _) = deploy(
        &e,
        &admin,
        &path,
        json!({"properties": {"mode": "Incremental", "template": template}}),
    )
    .await;
    let took = started.elapsed();
    assert_eq!(
        got.body["properties"]["provisioningState"], "Succeeded",
        "{}",
        got.body
    );
    assert_eq!(
        got.body["properties"]["outputResources"]
            .as_array()
            .unwrap()
            .len(),
        200
    );
    assert_eq!(
        got.body["properties"]["outputs"]["names"]["value"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    let list = e.call("GET", &rg_list, Some(&admin), None).await;
    assert_eq!(list.body["value"].as_array().unwrap().len(), before + 200);
    eprintln!("200-resource copy loop (debug build, in-process): {took:?}");
}
