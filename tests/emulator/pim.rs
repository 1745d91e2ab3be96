//! Just-in-time access: Lighthouse eligible authorizations activated through the PIM API — bob's
//! eligible Contributor in tailspin-prod, its limits and expiry on the emulator clock, refusals for
//! principals that are not eligible, and the approval flow of a delegation built in the test.

use crate::*;
use serde_json::{json, Value};

const TAILSPIN_PROD: &str = "20000000-0000-0000-0000-000000004001";
const CONTRIBUTOR: &str = "b24988ac-6180-42a0-ab88-20f7382dd24c";
const READER: &str = "acdd72a7-3385-48ef-bd42-f606fba81ae7";
const BOB: &str = "30000000-0000-0000-0000-000000001112";
const ALICE: &str = "30000000-0000-0000-0000-000000001111";
const MSP_READERS: &str = "30000000-0000-0000-0000-000000001102";
const PIM_API: &str = "api-version=2020-10-01";
const APPROVALS_API: &str = "api-version=2021-01-01-preview";

fn sub_scope() -> String {
    format!("/subscriptions/{TAILSPIN_PROD}")
}

fn rg_path(rg: &str) -> String {
    format!("/subscriptions/{TAILSPIN_PROD}/resourcegroups/{rg}?api-version=2024-11-01")
}

fn request_path(scope: &str, name: &str) -> String {
    format!(
        "{scope}/providers/Microsoft.Authorization/roleAssignmentScheduleRequests/{name}?{PIM_API}"
    )
}

fn new_name() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A SelfActivate body as the Azure SDKs send it.
fn activation(principal: &str, role: &str, duration: &str, justification: Option<&str>) -> Value {
    let mut p = json!({
        "principalId": principal,
        "roleDefinitionId": format!("/subscriptions/{TAILSPIN_PROD}/providers/Microsoft.Authorization/roleDefinitions/{role}"),
        "requestType": "SelfActivate",
        "scheduleInfo": {
            "startDateTime": "2020-01-01T00:00:00Z",
            "expiration": {"type": "AfterDuration", "endDateTime": null, "duration": duration}
        }
    });
    if let Some(j) = justification {
        p["justification"] = json!(j);
    }
    json!({ "properties": p })
}

async fn put_rg(e: &Emu, token: &str, rg: &str) -> Resp {
    e.call(
        "PUT",
        &rg_path(rg),
        Some(token),
        Some(json!({"location": "westeurope"})),
    )
    .await
}

async fn advance(e: &Emu, by: &str) {
    let r = e
        .call(
            "POST",
            "/_emulator/clock",
            None,
            Some(json!({"advance": by})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

fn values(r: &Resp) -> Vec<Value> {
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["value"].as_array().cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn bob_activates_his_eligible_contributor_for_at_most_its_duration() {
    let e = emu().await;
    let bob = e.token("bob").await;
    let scope = sub_scope();

    // Reader only: eligibility alone grants nothing.
    let r = put_rg(&e, &bob, "rg-jit").await;
    assert_eq!(
        (r.status, r.code()),
        (403, "AuthorizationFailed"),
        "{}",
        r.body
    );

    // His eligibility, through MSP Readers, at the delegated subscription.
    let path = format!(
        "{scope}/providers/Microsoft.Authorization/roleEligibilityScheduleInstances?{PIM_API}&$filter=asTarget()"
    );
    let list = values(&e.call("GET", &path, Some(&bob), None).await);
    assert_eq!(list.len(), 1, "{list:?}");
    let p = &list[0]["properties"];
    assert_eq!(p["scope"], json!(scope));
    assert_eq!(p["principalId"], json!(MSP_READERS));
    assert_eq!(p["principalType"], json!("Group"));
    assert_eq!(p["memberType"], json!("Group"));
    assert!(p["roleDefinitionId"]
        .as_str()
        .unwrap()
        .ends_with(CONTRIBUTOR));
    assert_eq!(
        p["expandedProperties"]["roleDefinition"]["displayName"],
        json!("Contributor")
    );
    let eligibility = p["roleEligibilityScheduleId"].as_str().unwrap().to_string();
    let path = format!(
        "{scope}/providers/Microsoft.Authorization/roleEligibilitySchedules?{PIM_API}&$filter=asTarget()"
    );
    let schedules = values(&e.call("GET", &path, Some(&bob), None).await);
    assert_eq!(schedules.len(), 1);
    assert_eq!(schedules[0]["id"], json!(eligibility));
    // … and GET by name on the same collection
    let by_name = e
        .call("GET", &format!("{eligibility}?{PIM_API}"), Some(&bob), None)
        .await;
    assert_eq!(by_name.status, 200, "{}", by_name.body);
    // alice (MSP Operators) has no eligibility anywhere
    let alice = e.token("alice").await;
    assert!(values(&e.call("GET", &path, Some(&alice), None).await).is_empty());

    // Policy checks: longer than PT8H, no justification, another scope, someone else.
    let r = e
        .call(
            "PUT",
            &request_path(&scope, &new_name()),
            Some(&bob),
            Some(activation(BOB, CONTRIBUTOR, "PT9H", Some("deploy"))),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (400, "RoleAssignmentRequestPolicyValidationFailed")
    );
    assert_eq!(
        r.body["error"]["message"],
        json!("The following policy rules failed: [\"ExpirationRule\"]")
    );
    let r = e
        .call(
            "PUT",
            &request_path(&scope, &new_name()),
            Some(&bob),
            Some(activation(BOB, CONTRIBUTOR, "PT9H", None)),
        )
        .await;
    assert_eq!(
        r.body["error"]["message"],
        json!("The following policy rules failed: [\"ExpirationRule\",\"JustificationRule\"]")
    );
    let r = e
        .call(
            "PUT",
            &request_path(&format!("{scope}/resourceGroups/rg-apps"), &new_name()),
            Some(&bob),
            Some(activation(BOB, CONTRIBUTOR, "PT2H", Some("deploy"))),
        )
        .await;
    assert_eq!(
        (r.status, r.body["error"]["message"].as_str()),
        (
            400,
            Some("The following policy rules failed: [\"EligibilityRule\"]")
        ),
        "{}",
        r.body
    );
    let r = e
        .call(
            "PUT",
            &request_path(&scope, &new_name()),
            Some(&bob),
            Some(activation(ALICE, CONTRIBUTOR, "PT2H", Some("deploy"))),
        )
        .await;
    assert_eq!((r.status, r.code()), (403, "AuthorizationFailed"));

    // Activate for two hours, linked to the eligibility as the portal does.
    let name = new_name();
    let mut body = activation(BOB, CONTRIBUTOR, "PT2H", Some("Deploy release 42"));
    body["properties"]["linkedRoleEligibilityScheduleId"] = json!(eligibility);
    let r = e
        .call("PUT", &request_path(&scope, &name), Some(&bob), Some(body))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let p = &r.body["properties"];
    assert_eq!(p["status"], json!("Provisioned"));
    assert_eq!(p["requestType"], json!("SelfActivate"));
    assert_eq!(p["principalId"], json!(BOB));
    assert_eq!(p["requestorId"], json!(BOB));
    assert_eq!(p["approvalId"], Value::Null);
    assert!(p["targetRoleAssignmentScheduleId"]
        .as_str()
        .unwrap()
        .contains("/providers/Microsoft.Authorization/RoleAssignmentSchedules/"));
    assert_eq!(
        r.body["type"],
        json!("Microsoft.Authorization/RoleAssignmentScheduleRequests")
    );
    let got = e
        .call("GET", &request_path(&scope, &name), Some(&bob), None)
        .await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body["properties"]["status"], json!("Provisioned"));

    // Once is enough.
    let r = e
        .call(
            "PUT",
            &request_path(&scope, &new_name()),
            Some(&bob),
            Some(activation(BOB, CONTRIBUTOR, "PT1H", Some("again"))),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "RoleAssignmentExists"));

    // The active assignment shows, Activated, ending two hours from now.
    let path = format!(
        "{scope}/providers/Microsoft.Authorization/roleAssignmentScheduleInstances?{PIM_API}&$filter=asTarget()"
    );
    let instances = values(&e.call("GET", &path, Some(&bob), None).await);
    assert_eq!(instances.len(), 1);
    let p = &instances[0]["properties"];
    assert_eq!(p["assignmentType"], json!("Activated"));
    assert_eq!(p["memberType"], json!("Group"));
    assert_eq!(p["principalId"], json!(BOB));
    let start = time::OffsetDateTime::parse(
        p["startDateTime"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let end = time::OffsetDateTime::parse(
        p["endDateTime"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert_eq!(end - start, time::Duration::hours(2));
    let path = format!(
        "{scope}/providers/Microsoft.Authorization/roleAssignmentSchedules?{PIM_API}&$filter=asTarget()"
    );
    assert_eq!(
        values(&e.call("GET", &path, Some(&bob), None).await).len(),
        1
    );

    // Now bob writes, through the delegation.
    let r = put_rg(&e, &bob, "rg-jit").await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert!(
        r.header("x-ms-emulator-decision")
            .contains("delegated authorization"),
        "{}",
        r.header("x-ms-emulator-decision")
    );
    // The activation is not a role assignment of the customer.
    let admin = e.token("admin@tailspin").await;
    let ras = values(
        &e.call(
            "GET",
            &format!(
                "{scope}/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01"
            ),
            Some(&admin),
            None,
        )
        .await,
    );
    assert!(!ras
        .iter()
        .any(|a| a["properties"]["principalId"] == json!(BOB)));

    // Three hours later it has expired: refused again at the next request.
    advance(&e, "PT3H").await;
    let bob = e.token("bob").await;
    let r = put_rg(&e, &bob, "rg-jit-2").await;
    assert_eq!(
        (r.status, r.code()),
        (403, "AuthorizationFailed"),
        "{}",
        r.body
    );
    let path = format!(
        "{scope}/providers/Microsoft.Authorization/roleAssignmentScheduleInstances?{PIM_API}&$filter=asTarget()"
    );
    assert!(values(&e.call("GET", &path, Some(&bob), None).await).is_empty());

    // Reset brings back the world: no activation, no request.
    let r = e.call("POST", "/_emulator/reset", None, None).await;
    assert_eq!(r.status, 200);
    let bob = e.token("bob").await;
    let r = e
        .call("GET", &request_path(&scope, &name), Some(&bob), None)
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
    let r = put_rg(&e, &bob, "rg-jit-3").await;
    assert_eq!((r.status, r.code()), (403, "AuthorizationFailed"));
}

#[tokio::test(flavor = "multi_thread")]
async fn self_deactivate_ends_the_activation_early() {
    let e = emu().await;
    let bob = e.token("bob").await;
    let scope = sub_scope();
    let r = e
        .call(
            "PUT",
            &request_path(&scope, &new_name()),
            Some(&bob),
            Some(activation(BOB, CONTRIBUTOR, "PT1H", Some("hotfix"))),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(put_rg(&e, &bob, "rg-a").await.status, 201);

    let mut off = activation(BOB, CONTRIBUTOR, "PT1H", None);
    off["properties"]["requestType"] = json!("SelfDeactivate");
    let r = e
        .call(
            "PUT",
            &request_path(&scope, &new_name()),
            Some(&bob),
            Some(off.clone()),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["properties"]["status"], json!("Revoked"));
    let r = put_rg(&e, &bob, "rg-b").await;
    assert_eq!((r.status, r.code()), (403, "AuthorizationFailed"));

    let r = e
        .call(
            "PUT",
            &request_path(&scope, &new_name()),
            Some(&bob),
            Some(off),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "RoleAssignmentDoesNotExist"));
}

#[tokio::test(flavor = "multi_thread")]
async fn only_eligible_users_activate() {
    let e = emu().await;
    let scope = sub_scope();
    let eligibility_rule = "The following policy rules failed: [\"EligibilityRule\"]";

    // alice: MSP Operators has standing Contributor, no eligibility
    let alice = e.token("alice").await;
    let r = e
        .call(
            "PUT",
            &request_path(&scope, &new_name()),
            Some(&alice),
            Some(activation(ALICE, CONTRIBUTOR, "PT1H", Some("x"))),
        )
        .await;
    assert_eq!(
        (r.status, r.body["error"]["message"].as_str()),
        (400, Some(eligibility_rule))
    );

    // msp-reporting is in MSP Readers, but service principals are never eligible
    let sp = e.token("msp-reporting").await;
    let r = e
        .call(
            "PUT",
            &request_path(&scope, &new_name()),
            Some(&sp),
            Some(activation(
                "30000000-0000-0000-0000-000000001122",
                CONTRIBUTOR,
                "PT1H",
                Some("x"),
            )),
        )
        .await;
    assert_eq!(
        (r.status, r.body["error"]["message"].as_str()),
        (400, Some(eligibility_rule)),
        "{}",
        r.body
    );
    assert!(r.body["error"]["details"][0]["message"]
        .as_str()
        .unwrap()
        .contains("service principal"));
    let r = put_rg(&e, &sp, "rg-sp").await;
    assert_eq!((r.status, r.code()), (403, "AuthorizationFailed"));

    // bob holds Reader permanently: nothing to activate there
    let bob = e.token("bob").await;
    let r = e
        .call(
            "PUT",
            &request_path(&scope, &new_name()),
            Some(&bob),
            Some(activation(BOB, READER, "PT1H", Some("x"))),
        )
        .await;
    assert_eq!(r.body["error"]["message"].as_str(), Some(eligibility_rule));

    // the customer's own Owner has no Lighthouse eligibility either
    let admin = e.token("admin@tailspin").await;
    let r = e
        .call(
            "PUT",
            &request_path(&scope, &new_name()),
            Some(&admin),
            Some(activation(
                "30000000-0000-0000-0000-000000004111",
                CONTRIBUTOR,
                "PT1H",
                Some("x"),
            )),
        )
        .await;
    assert_eq!(r.body["error"]["message"].as_str(), Some(eligibility_rule));
    // … and does not see the managing tenant's eligibilities
    let path =
        format!("{scope}/providers/Microsoft.Authorization/roleEligibilitySchedules?{PIM_API}");
    assert!(values(&e.call("GET", &path, Some(&admin), None).await).is_empty());

    // malformed requests
    let mut admin_assign = activation(BOB, CONTRIBUTOR, "PT1H", Some("x"));
    admin_assign["properties"]["requestType"] = json!("AdminAssign");
    let r = e
        .call(
            "PUT",
            &request_path(&scope, &new_name()),
            Some(&bob),
            Some(admin_assign),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "RequestTypeNotSupported"));
    let r = e
        .call(
            "PUT",
            &request_path(&scope, &new_name()),
            Some(&bob),
            Some(json!({"properties": {"principalId": BOB}})),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "InvalidRequestContent"));
    // PIM objects are not generic resources
    let r = e
        .call(
            "PUT",
            &format!(
                "{scope}/providers/Microsoft.Authorization/roleAssignmentSchedules/{}?{PIM_API}",
                new_name()
            ),
            Some(&admin),
            Some(json!({"properties": {}})),
        )
        .await;
    // (Microsoft.Authorization answers in ASP.NET style: `{"Message": …}`)
    assert_eq!(r.status, 405, "{}", r.body);
}

/// A delegation built in the test by the customer's Owner: bob eligible for Contributor on rg-apps,
/// activation approved by alice.
async fn delegate_rg_apps_with_approval(e: &Emu) {
    let admin = e.token("admin@tailspin").await;
    let def = format!(
        "/subscriptions/{TAILSPIN_PROD}/providers/Microsoft.ManagedServices/registrationDefinitions/70000000-0000-0000-0000-000000004001"
    );
    let r = e
        .call(
            "PUT",
            &format!("{def}?api-version=2022-10-01"),
            Some(&admin),
            Some(json!({"properties": {
                "registrationDefinitionName": "Contoso MSP - rg-apps with approval",
                "managedByTenantId": CONTOSO,
                "authorizations": [
                    {"principalId": MSP_READERS, "principalIdDisplayName": "MSP Readers", "roleDefinitionId": READER}
                ],
                "eligibleAuthorizations": [{
                    "principalId": BOB,
                    "principalIdDisplayName": "bob",
                    "roleDefinitionId": CONTRIBUTOR,
                    "justInTimeAccessPolicy": {
                        "multiFactorAuthProvider": "None",
                        "maximumActivationDuration": "PT4H",
                        "managedByTenantApprovers": [
                            {"principalId": ALICE, "principalIdDisplayName": "alice"}
                        ]
                    }
                }]
            }})),
        )
        .await;
    assert!(r.status < 300, "definition: {}", r.body);
    let r = e
        .call(
            "PUT",
            &format!(
                "/subscriptions/{TAILSPIN_PROD}/resourceGroups/rg-apps/providers/Microsoft.ManagedServices/registrationAssignments/71000000-0000-0000-0000-000000004001?api-version=2022-10-01"
            ),
            Some(&admin),
            Some(json!({"properties": {"registrationDefinitionId": def}})),
        )
        .await;
    assert!(r.status < 300, "assignment: {}", r.body);
}

async fn put_vnet(e: &Emu, token: &str, name: &str) -> Resp {
    e.call(
        "PUT",
        &format!(
            "/subscriptions/{TAILSPIN_PROD}/resourceGroups/rg-apps/providers/Microsoft.Network/virtualNetworks/{name}?api-version=2024-05-01"
        ),
        Some(token),
        Some(json!({"location": "westeurope", "properties": {"addressSpace": {"addressPrefixes": ["10.9.0.0/16"]}}})),
    )
    .await
}

async fn approvals_of(e: &Emu, token: &str) -> Vec<Value> {
    values(
        &e.call(
            "GET",
            &format!("/providers/Microsoft.Authorization/roleAssignmentApprovals?{APPROVALS_API}&$filter=asApprover()"),
            Some(token),
            None,
        )
        .await,
    )
}

async fn review(e: &Emu, token: &str, step_id: &str, result: &str) -> Resp {
    e.call(
        "PUT",
        &format!("{step_id}?{APPROVALS_API}"),
        Some(token),
        Some(
            json!({"properties": {"reviewResult": result, "justification": "checked the ticket"}}),
        ),
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn activation_with_approvers_waits_for_an_approver() {
    let e = emu().await;
    delegate_rg_apps_with_approval(&e).await;
    let rg = format!("/subscriptions/{TAILSPIN_PROD}/resourceGroups/rg-apps");
    let bob = e.token("bob").await;
    let alice = e.token("alice").await;

    // bob's eligibilities at rg-apps: the subscription's (through MSP Readers) and his own here
    let path = format!(
        "{rg}/providers/Microsoft.Authorization/roleEligibilityScheduleInstances?{PIM_API}&$filter=asTarget()"
    );
    assert_eq!(
        values(&e.call("GET", &path, Some(&bob), None).await).len(),
        2
    );

    let name = new_name();
    let r = e
        .call(
            "PUT",
            &request_path(&rg, &name),
            Some(&bob),
            Some(activation(BOB, CONTRIBUTOR, "PT1H", Some("INC-7"))),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["properties"]["status"], json!("PendingApproval"));
    let approval_id = r.body["properties"]["approvalId"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(approval_id.starts_with("/providers/Microsoft.Authorization/roleAssignmentApprovals/"));
    let r = put_vnet(&e, &bob, "vnet-jit").await;
    assert_eq!((r.status, r.code()), (403, "AuthorizationFailed"));
    // one request at a time
    let r = e
        .call(
            "PUT",
            &request_path(&rg, &new_name()),
            Some(&bob),
            Some(activation(BOB, CONTRIBUTOR, "PT1H", Some("INC-7"))),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "PendingRoleAssignmentRequest"));

    // alice sees it to approve; bob cannot approve his own request
    let list = approvals_of(&e, &alice).await;
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["id"], json!(approval_id));
    let step = &list[0]["properties"]["steps"][0];
    assert_eq!(step["properties"]["assignedToMe"], json!(true));
    assert_eq!(step["properties"]["status"], json!("InProgress"));
    assert_eq!(step["properties"]["reviewResult"], json!("NotReviewed"));
    let step_id = step["id"].as_str().unwrap().to_string();
    assert!(approvals_of(&e, &bob).await.is_empty());
    let r = review(&e, &bob, &step_id, "Approve").await;
    assert_eq!((r.status, r.code()), (403, "AuthorizationFailed"));
    // GET of the approval and of its step (the spec's `stages` spelling too)
    let r = e
        .call(
            "GET",
            &format!("{approval_id}?{APPROVALS_API}"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let stages = step_id.replace("/steps/", "/stages/");
    let r = e
        .call(
            "GET",
            &format!("{stages}?{APPROVALS_API}"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);

    // alice approves (through the `stages` path): the activation starts now
    let r = review(&e, &alice, &stages, "Approve").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["properties"]["status"], json!("Completed"));
    assert_eq!(r.body["properties"]["reviewResult"], json!("Approve"));
    assert_eq!(
        r.body["properties"]["reviewedBy"]["principalId"],
        json!(ALICE)
    );
    let r = review(&e, &alice, &step_id, "Approve").await;
    assert_eq!((r.status, r.code()), (400, "ApprovalStepNotInProgress"));
    let r = e
        .call("GET", &request_path(&rg, &name), Some(&bob), None)
        .await;
    assert_eq!(r.body["properties"]["status"], json!("Provisioned"));
    let r = put_vnet(&e, &bob, "vnet-jit").await;
    assert_eq!(r.status, 201, "{}", r.body);
    // the eligibility is at rg-apps only: the subscription is still read-only for bob
    let r = put_rg(&e, &bob, "rg-elsewhere").await;
    assert_eq!((r.status, r.code()), (403, "AuthorizationFailed"));

    // an hour later it is over; a new request is canceled by bob, a third one denied by alice
    advance(&e, "PT61M").await;
    let bob = e.token("bob").await;
    let alice = e.token("alice").await;
    assert_eq!(put_vnet(&e, &bob, "vnet-jit-2").await.status, 403);
    let second = new_name();
    let r = e
        .call(
            "PUT",
            &request_path(&rg, &second),
            Some(&bob),
            Some(activation(BOB, CONTRIBUTOR, "PT1H", Some("INC-8"))),
        )
        .await;
    assert_eq!(r.body["properties"]["status"], json!("PendingApproval"));
    let cancel = format!(
        "{rg}/providers/Microsoft.Authorization/roleAssignmentScheduleRequests/{second}/cancel?{PIM_API}"
    );
    let r = e.call("POST", &cancel, Some(&alice), None).await;
    assert_eq!((r.status, r.code()), (403, "AuthorizationFailed"));
    let r = e.call("POST", &cancel, Some(&bob), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = e.call("POST", &cancel, Some(&bob), None).await;
    assert_eq!((r.status, r.code()), (400, "InvalidRequestState"));
    let r = e
        .call("GET", &request_path(&rg, &second), Some(&bob), None)
        .await;
    assert_eq!(r.body["properties"]["status"], json!("Canceled"));

    let third = new_name();
    let r = e
        .call(
            "PUT",
            &request_path(&rg, &third),
            Some(&bob),
            Some(activation(BOB, CONTRIBUTOR, "PT1H", Some("INC-9"))),
        )
        .await;
    let approval_id = r.body["properties"]["approvalId"]
        .as_str()
        .unwrap()
        .to_string();
    let pending: Vec<Value> = approvals_of(&e, &alice)
        .await
        .into_iter()
        .filter(|a| a["id"] == json!(approval_id))
        .collect();
    let step_id = pending[0]["properties"]["steps"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = review(&e, &alice, &step_id, "Deny").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = e
        .call("GET", &request_path(&rg, &third), Some(&bob), None)
        .await;
    assert_eq!(r.body["properties"]["status"], json!("Denied"));
    assert_eq!(put_vnet(&e, &bob, "vnet-jit-3").await.status, 403);

    // the requests list of the scope, as bob asked for them
    let list = values(
        &e.call(
            "GET",
            &format!("{rg}/providers/Microsoft.Authorization/roleAssignmentScheduleRequests?{PIM_API}&$filter=asRequestor()"),
            Some(&bob),
            None,
        )
        .await,
    );
    assert_eq!(list.len(), 3, "{list:?}");
}
