//! Azure Lighthouse end to end: the default world's delegations, onboarding a new scope, each
//! onboarding rule refused with its code, revocation by each party, and the guardrails that follow.

use crate::*;
use serde_json::{json, Value};

const NORTHWIND: &str = "10000000-0000-0000-0000-000000000003";
const TAILSPIN: &str = "10000000-0000-0000-0000-000000000004";
const TAILSPIN_PROD: &str = "20000000-0000-0000-0000-000000004001";
const TAILSPIN_ANALYTICS: &str = "20000000-0000-0000-0000-000000004002";
const WOODGROVE_GOV: &str = "20000000-0000-0000-0000-000000005001";
const READER: &str = "acdd72a7-3385-48ef-bd42-f606fba81ae7";
const CONTRIBUTOR: &str = "b24988ac-6180-42a0-ab88-20f7382dd24c";
const MSP_OPERATORS: &str = "30000000-0000-0000-0000-000000001101";

fn rg(sub: &str, rg: &str) -> String {
    format!("/subscriptions/{sub}/resourcegroups/{rg}?api-version=2024-11-01")
}

fn def_path(sub: &str, id: &str) -> String {
    format!("/subscriptions/{sub}/providers/Microsoft.ManagedServices/registrationDefinitions/{id}?api-version=2022-10-01")
}

fn definition(role: &str) -> Value {
    json!({"properties": {
        "registrationDefinitionName": "Contoso MSP - test offer",
        "description": "test",
        "managedByTenantId": CONTOSO,
        "authorizations": [{"principalId": MSP_OPERATORS, "principalIdDisplayName": "MSP Operators", "roleDefinitionId": role}]
    }})
}

fn subs_of(r: &Resp) -> Vec<(String, String)> {
    r.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["subscriptionId"].as_str().unwrap().to_string(),
                s["tenantId"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_managing_tenant_sees_its_customers() {
    let e = emu().await;
    let t = e.token("msp-automation").await;
    let r = e
        .call(
            "GET",
            "/subscriptions?api-version=2022-12-01",
            Some(&t),
            None,
        )
        .await;
    let subs = subs_of(&r);
    assert_eq!(
        subs,
        [
            (MSP_TOOLS.to_string(), CONTOSO.to_string()),
            (FABRIKAM_PROD.to_string(), FABRIKAM.to_string()),
            (NORTHWIND_MAIN.to_string(), NORTHWIND.to_string()),
            (TAILSPIN_PROD.to_string(), TAILSPIN.to_string()),
        ]
    );
    let fab = &r.body["value"][1];
    assert_eq!(fab["managedByTenants"], json!([{"tenantId": CONTOSO}]));
    let r = e
        .call("GET", "/tenants?api-version=2022-12-01", Some(&t), None)
        .await;
    let cats: Vec<(String, String)> = r.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["tenantId"].as_str().unwrap().into(),
                t["tenantCategory"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(cats[0], (CONTOSO.to_string(), "Home".to_string()));
    assert!(cats.contains(&(FABRIKAM.to_string(), "ProjectedBy".to_string())));
    // customers see their delegations, with the managing tenant
    let admin = e.token("admin@fabrikam").await;
    let r = e.call("GET", &format!("/subscriptions/{FABRIKAM_PROD}/providers/Microsoft.ManagedServices/registrationAssignments?api-version=2022-10-01&$expandRegistrationDefinition=true"), Some(&admin), None).await;
    assert_eq!(r.status, 200);
    let a = &r.body["value"][0];
    assert_eq!(a["name"], "60000000-0000-0000-0000-000000002001");
    assert_eq!(
        a["properties"]["registrationDefinition"]["properties"]["managedByTenantId"],
        CONTOSO
    );
    assert_eq!(
        a["properties"]["registrationDefinition"]["properties"]["managedByTenantName"],
        "Contoso MSP"
    );
    let r = e.call("GET", &format!("/subscriptions/{FABRIKAM_PROD}/providers/Microsoft.ManagedServices/registrationDefinitions?api-version=2022-10-01&$filter=managedByTenantId eq '{CONTOSO}'"), Some(&admin), None).await;
    assert_eq!(r.body["value"].as_array().unwrap().len(), 1);
    let r = e.call("GET", &format!("/subscriptions/{FABRIKAM_PROD}/providers/Microsoft.ManagedServices/registrationDefinitions?api-version=2022-10-01&$filter=managedByTenantId in ('{FABRIKAM}')"), Some(&admin), None).await;
    assert_eq!(r.body["value"].as_array().unwrap().len(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn delegated_access_is_exactly_what_the_delegation_grants() {
    let e = emu().await;
    let alice = e.token("alice").await;
    // alice creates a resource group in fabrikam-prod through the delegation
    let r = e
        .call(
            "PUT",
            &rg(FABRIKAM_PROD, "rg-alice"),
            Some(&alice),
            Some(json!({"location": "westeurope"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert!(
        r.header("x-ms-emulator-decision")
            .contains("delegated authorization"),
        "{}",
        r.header("x-ms-emulator-decision")
    );
    // …but fabrikam-dev is not delegated: wrong tenant
    let r = e
        .call(
            "PUT",
            &rg(FABRIKAM_DEV, "rg-alice"),
            Some(&alice),
            Some(json!({"location": "westeurope"})),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (401, "InvalidAuthenticationTokenTenant")
    );
    // bob reads rg-managed in Northwind but not rg-private
    let bob = e.token("bob").await;
    assert_eq!(
        e.call("GET", &rg(NORTHWIND_MAIN, "rg-managed"), Some(&bob), None)
            .await
            .status,
        200
    );
    let r = e
        .call("GET", &rg(NORTHWIND_MAIN, "rg-private"), Some(&bob), None)
        .await;
    assert_eq!((r.status, r.code()), (403, "AuthorizationFailed"));
    // the customer's own role assignments never apply to the managing tenant, and delegated grants are
    // not role assignments: alice cannot write role assignments (Contributor) in fabrikam-prod
    let ra = format!("/subscriptions/{FABRIKAM_PROD}/providers/Microsoft.Authorization/roleAssignments/bbbbbbbb-0000-0000-0000-000000000001?api-version=2022-04-01");
    let body = json!({"properties": {"roleDefinitionId": format!("/subscriptions/{FABRIKAM_PROD}/providers/Microsoft.Authorization/roleDefinitions/{READER}"), "principalId": "30000000-0000-0000-0000-000000002112"}});
    assert_eq!(
        e.call("PUT", &ra, Some(&alice), Some(body)).await.code(),
        "AuthorizationFailed"
    );
    // locks do not stop the service provider; they stop the customer
    let vm = format!("/subscriptions/{NORTHWIND_MAIN}/resourceGroups/rg-managed/providers/Microsoft.Compute/virtualMachines/vm-app-01?api-version=2024-03-01");
    let admin_nw = e.token("admin@northwind").await;
    assert_eq!(
        e.call("DELETE", &vm, Some(&admin_nw), None).await.code(),
        "ScopeLocked"
    );
    assert_eq!(e.call("DELETE", &vm, Some(&alice), None).await.status, 200);
    // the system deny assignment of the managed application stops alice writing; reading is fine
    let appliance = format!("/subscriptions/{TAILSPIN_PROD}/resourceGroups/mrg-tailspin-app/providers/Microsoft.Compute/virtualMachines/vm-appliance?api-version=2024-03-01");
    assert_eq!(
        e.call("GET", &appliance, Some(&alice), None).await.status,
        200
    );
    let r = e
        .call(
            "PATCH",
            &appliance,
            Some(&alice),
            Some(json!({"tags": {"x": "y"}})),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (403, "DenyAssignmentAuthorizationFailed")
    );
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("80000000-0000-0000-0000-000000004001"));
}

#[tokio::test(flavor = "multi_thread")]
async fn onboarding_a_new_scope_end_to_end() {
    let e = emu().await;
    let admin = e.token("admin@fabrikam").await;
    let def_id = "50000000-0000-0000-0000-00000000a001";
    let r = e
        .call(
            "PUT",
            &def_path(FABRIKAM_DEV, def_id),
            Some(&admin),
            Some(definition(READER)),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["properties"]["manageeTenantId"], FABRIKAM);
    assert_eq!(r.body["properties"]["provisioningState"], "Succeeded");
    let op = r.header("azure-asyncoperation").to_string();
    assert_eq!(
        e.call("GET", &op, Some(&admin), None).await.body["status"],
        "Succeeded"
    );
    // the MSP sees nothing yet
    let reporting = e.token("msp-reporting").await;
    assert_eq!(
        e.call("GET", &rg(FABRIKAM_DEV, "rg-dev"), Some(&reporting), None)
            .await
            .code(),
        "InvalidAuthenticationTokenTenant"
    );
    let assign = format!("/subscriptions/{FABRIKAM_DEV}/resourceGroups/rg-dev/providers/Microsoft.ManagedServices/registrationAssignments/60000000-0000-0000-0000-00000000a001?api-version=2019-06-01");
    let body = json!({"properties": {"registrationDefinitionId": format!("/subscriptions/{FABRIKAM_DEV}/providers/Microsoft.ManagedServices/registrationDefinitions/{def_id}")}});
    let r = e.call("PUT", &assign, Some(&admin), Some(body)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    // msp-automation is in MSP Operators, now Reader on rg-dev only
    let msp = e.token("msp-automation").await;
    assert_eq!(
        e.call("GET", &rg(FABRIKAM_DEV, "rg-dev"), Some(&msp), None)
            .await
            .status,
        200
    );
    assert_eq!(
        e.call(
            "PUT",
            &rg(FABRIKAM_DEV, "rg-dev"),
            Some(&msp),
            Some(json!({"location": "westeurope"}))
        )
        .await
        .code(),
        "AuthorizationFailed"
    );
    let r = e
        .call(
            "GET",
            "/subscriptions?api-version=2022-12-01",
            Some(&msp),
            None,
        )
        .await;
    assert!(
        subs_of(&r).contains(&(FABRIKAM_DEV.to_string(), FABRIKAM.to_string())),
        "resource-group delegations list the subscription"
    );
    // old api-versions hide eligibleAuthorizations; the definition cannot go while assigned
    assert_eq!(
        e.call(
            "DELETE",
            &def_path(FABRIKAM_DEV, def_id),
            Some(&admin),
            None
        )
        .await
        .status,
        409
    );
    let r = e.call("DELETE", &assign, Some(&admin), None).await;
    assert_eq!(r.status, 202);
    assert_eq!(
        e.call("GET", &rg(FABRIKAM_DEV, "rg-dev"), Some(&msp), None)
            .await
            .code(),
        "InvalidAuthenticationTokenTenant"
    );
    assert_eq!(
        e.call(
            "DELETE",
            &def_path(FABRIKAM_DEV, def_id),
            Some(&admin),
            None
        )
        .await
        .status,
        200
    );
    assert_eq!(
        e.call(
            "DELETE",
            &def_path(FABRIKAM_DEV, def_id),
            Some(&admin),
            None
        )
        .await
        .status,
        204
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn each_onboarding_rule_is_refused_with_its_code() {
    let e = emu().await;
    let admin = e.token("admin@fabrikam").await;
    let put = |role: &str, n: u32| {
        let e = &e;
        let admin = admin.clone();
        let body = definition(role);
        async move {
            e.call(
                "PUT",
                &def_path(
                    FABRIKAM_DEV,
                    &format!("50000000-0000-0000-0000-0000000b{n:04}"),
                ),
                Some(&admin),
                Some(body),
            )
            .await
        }
    };
    for (role, n, needle) in [
        (
            "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
            1,
            "restricted for registration",
        ),
        (
            "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
            2,
            "with data actions not allowed",
        ),
        (
            "e5e2a7ff-d759-4cd2-bb51-3152d37e2eb1",
            3,
            "because of restricted actions",
        ),
        (
            "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9",
            4,
            "delegatedRoleDefinitionIds",
        ),
        (
            "12345678-1234-1234-1234-123456789012",
            5,
            "not a built-in role",
        ),
    ] {
        let r = put(role, n).await;
        assert_eq!(
            (r.status, r.code()),
            (400, "InvalidRegistrationDefinitionCreateRequest"),
            "{role}"
        );
        assert!(
            r.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains(needle),
            "{role}: {}",
            r.body
        );
    }
    // own tenant as managing tenant
    let mut same = definition(READER);
    same["properties"]["managedByTenantId"] = json!(FABRIKAM);
    let r = e
        .call(
            "PUT",
            &def_path(FABRIKAM_DEV, "50000000-0000-0000-0000-0000000b0006"),
            Some(&admin),
            Some(same),
        )
        .await;
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("as ManagedByTenantId"));
    // more than 20 authorizations
    let mut many = definition(READER);
    many["properties"]["authorizations"] = json!((0..21)
        .map(|_| json!({"principalId": MSP_OPERATORS, "roleDefinitionId": READER}))
        .collect::<Vec<_>>());
    let r = e
        .call(
            "PUT",
            &def_path(FABRIKAM_DEV, "50000000-0000-0000-0000-0000000b0007"),
            Some(&admin),
            Some(many),
        )
        .await;
    assert_eq!(r.code(), "InvalidRegistrationDefinitionCreateRequest");
    // a national cloud cannot be delegated to a public-cloud tenant
    let wg = e
        .token_for_user(
            "admin@woodgrove.onmicrosoft.us",
            "Woodgrove-Pa55!",
            "10000000-0000-0000-0000-000000000005",
        )
        .await;
    let r = e
        .call(
            "PUT",
            &def_path(WOODGROVE_GOV, "50000000-0000-0000-0000-0000000b0008"),
            Some(&wg),
            Some(definition(READER)),
        )
        .await;
    assert_eq!(r.code(), "InvalidRegistrationDefinitionCreateRequest");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("national cloud"),
        "{}",
        r.body
    );
    // a subscription with Databricks cannot be onboarded…
    let ts = e.token("admin@tailspin").await;
    let r = e
        .call(
            "PUT",
            &def_path(TAILSPIN_ANALYTICS, "50000000-0000-0000-0000-0000000b0009"),
            Some(&ts),
            Some(definition(READER)),
        )
        .await;
    assert_eq!(r.code(), "InvalidRegistrationDefinitionCreateRequest");
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Databricks"));
    // …and a delegated subscription cannot get a Databricks workspace
    let ws = format!("/subscriptions/{TAILSPIN_PROD}/resourceGroups/rg-apps/providers/Microsoft.Databricks/workspaces/dbx?api-version=2024-05-01");
    let r = e
        .call(
            "PUT",
            &ws,
            Some(&ts),
            Some(json!({"location": "westeurope", "sku": {"name": "premium"}})),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (409, "DatabricksNotSupportedOnDelegatedSubscription")
    );
    // a Contributor cannot onboard: Owner-level rights are needed
    let ci = e.token("fabrikam-ci").await;
    let r = e
        .call(
            "PUT",
            &def_path(FABRIKAM_DEV, "50000000-0000-0000-0000-0000000b0010"),
            Some(&ci),
            Some(definition(READER)),
        )
        .await;
    assert_eq!((r.status, r.code()), (403, "AuthorizationFailed"));
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Microsoft.Authorization/roleAssignments/write"));
    // bad input
    let r = e
        .call(
            "PUT",
            &def_path(FABRIKAM_DEV, "not-a-guid"),
            Some(&admin),
            Some(definition(READER)),
        )
        .await;
    assert_eq!(r.code(), "InvalidRegistrationDefinitionCreateRequest");
    let r = e
        .call(
            "PUT",
            &def_path(FABRIKAM_DEV, "50000000-0000-0000-0000-0000000b0011"),
            Some(&admin),
            Some(json!({"properties": {"managedByTenantId": CONTOSO}})),
        )
        .await;
    assert_eq!(r.code(), "InvalidRegistrationDefinitionCreateRequest");
    let r = e.call("GET", &format!("/subscriptions/{FABRIKAM_PROD}/providers/Microsoft.ManagedServices/registrationDefinitions?api-version=2017-01-01"), Some(&admin), None).await;
    assert_eq!(r.code(), "InvalidApiVersionParameter");
    // nothing was half-written
    let r = e.call("GET", &format!("/subscriptions/{FABRIKAM_DEV}/providers/Microsoft.ManagedServices/registrationDefinitions?api-version=2022-10-01"), Some(&admin), None).await;
    assert_eq!(r.body["value"].as_array().unwrap().len(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn revocation_by_the_customer_takes_effect_at_the_next_request() {
    let e = emu().await;
    let alice = e.token("alice").await;
    assert_eq!(
        e.call("GET", &rg(FABRIKAM_PROD, "rg-web"), Some(&alice), None)
            .await
            .status,
        200
    );
    let admin = e.token("admin@fabrikam").await;
    let a = format!("/subscriptions/{FABRIKAM_PROD}/providers/Microsoft.ManagedServices/registrationAssignments/60000000-0000-0000-0000-000000002001?api-version=2022-10-01");
    let r = e.call("DELETE", &a, Some(&admin), None).await;
    assert_eq!(r.status, 202);
    assert_eq!(
        e.call("GET", r.header("location"), Some(&admin), None)
            .await
            .status,
        200
    );
    assert_eq!(
        e.call("GET", &rg(FABRIKAM_PROD, "rg-web"), Some(&alice), None)
            .await
            .code(),
        "InvalidAuthenticationTokenTenant"
    );
    let msp = e.token("msp-automation").await;
    let r = e
        .call(
            "GET",
            "/subscriptions?api-version=2022-12-01",
            Some(&msp),
            None,
        )
        .await;
    assert!(
        !subs_of(&r).iter().any(|(_, t)| t == FABRIKAM),
        "Contoso MSP sees nothing of Fabrikam"
    );
    // the definition stays until deleted separately
    assert_eq!(
        e.call(
            "GET",
            &def_path(FABRIKAM_PROD, "50000000-0000-0000-0000-000000002001"),
            Some(&admin),
            None
        )
        .await
        .status,
        200
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn revocation_by_the_provider_needs_the_delete_role() {
    let e = emu().await;
    let a = format!("/subscriptions/{FABRIKAM_PROD}/providers/Microsoft.ManagedServices/registrationAssignments/60000000-0000-0000-0000-000000002001?api-version=2022-10-01");
    let alice = e.token("alice").await;
    let r = e.call("DELETE", &a, Some(&alice), None).await;
    assert_eq!(
        (r.status, r.code()),
        (403, "AuthorizationFailed"),
        "Contributor through delegation is not enough"
    );
    let ci = e.token("fabrikam-ci").await;
    assert_eq!(
        e.call("DELETE", &a, Some(&ci), None).await.code(),
        "AuthorizationFailed",
        "a customer Contributor is not enough"
    );
    let msp = e.token("msp-automation").await;
    assert_eq!(e.call("DELETE", &a, Some(&msp), None).await.status, 202);
    assert_eq!(
        e.call("GET", &rg(FABRIKAM_PROD, "rg-web"), Some(&alice), None)
            .await
            .code(),
        "InvalidAuthenticationTokenTenant"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn operations_and_marketplace_definitions() {
    let e = emu().await;
    let t = e.token("admin@fabrikam").await;
    let r = e
        .call(
            "GET",
            "/providers/Microsoft.ManagedServices/operations?api-version=2022-10-01",
            Some(&t),
            None,
        )
        .await;
    assert!(r.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .any(|o| o["name"] == "Microsoft.ManagedServices/registrationDefinitions/read"));
    let mut d = definition(CONTRIBUTOR);
    d["plan"] = json!({"name": "gold", "publisher": "contoso", "product": "managed-ops", "version": "1.0.0"});
    assert_eq!(
        e.call(
            "PUT",
            &def_path(FABRIKAM_DEV, "50000000-0000-0000-0000-00000000c001"),
            Some(&t),
            Some(d)
        )
        .await
        .status,
        201
    );
    let r = e.call("GET", &format!("/subscriptions/{FABRIKAM_DEV}/providers/Microsoft.ManagedServices/marketplaceRegistrationDefinitions?api-version=2022-10-01"), Some(&t), None).await;
    assert_eq!(r.body["value"][0]["name"], "contoso.managed-ops.gold.1.0.0");
    let r = e.call("GET", &format!("/subscriptions/{FABRIKAM_DEV}/providers/Microsoft.ManagedServices/marketplaceRegistrationDefinitions/contoso.managed-ops?api-version=2022-10-01"), Some(&t), None).await;
    assert_eq!(r.status, 200);
    let mut half = definition(READER);
    half["plan"] = json!({"name": "gold"});
    assert_eq!(
        e.call(
            "PUT",
            &def_path(FABRIKAM_DEV, "50000000-0000-0000-0000-00000000c002"),
            Some(&t),
            Some(half)
        )
        .await
        .code(),
        "InvalidRegistrationDefinitionCreateRequest"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn delegated_user_access_administrator_assigns_listed_roles_to_managed_identities_only() {
    let e = emu().await;
    let msp = e.token("msp-automation").await;
    let uai = format!("/subscriptions/{FABRIKAM_PROD}/resourceGroups/rg-web/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-remediation?api-version=2023-01-31");
    let r = e
        .call(
            "PUT",
            &uai,
            Some(&msp),
            Some(json!({"location": "westeurope"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let mi = r.body["properties"]["principalId"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(r.body["properties"]["tenantId"], FABRIKAM);
    let ra = |n: u32| {
        format!("/subscriptions/{FABRIKAM_PROD}/resourceGroups/rg-web/providers/Microsoft.Authorization/roleAssignments/cccccccc-0000-0000-0000-00000000000{n}?api-version=2022-04-01")
    };
    let body = |role: &str, principal: &str| {
        json!({"properties": {
        "roleDefinitionId": format!("/subscriptions/{FABRIKAM_PROD}/providers/Microsoft.Authorization/roleDefinitions/{role}"),
        "principalId": principal, "principalType": "ServicePrincipal",
        "delegatedManagedIdentityResourceId": uai.split('?').next().unwrap()}})
    };
    // Contributor is listed in delegatedRoleDefinitionIds: allowed for the managed identity
    let r = e
        .call("PUT", &ra(1), Some(&msp), Some(body(CONTRIBUTOR, &mi)))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    // Reader is not listed: the refusal says why in its message and its decision header, and
    // explain (given the body) agrees
    let r = e
        .call("PUT", &ra(2), Some(&msp), Some(body(READER, &mi)))
        .await;
    assert_eq!(r.code(), "AuthorizationFailed");
    let why = r.header("x-ms-emulator-decision").to_string();
    assert!(why.starts_with("denied;"), "{why}");
    assert!(
        why.contains(READER) && why.contains("is not listed"),
        "{why}"
    );
    let msg = r.body["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("is not listed") && msg.contains(CONTRIBUTOR),
        "{msg}"
    );
    let explained = e
        .call(
            "POST",
            "/_emulator/explain",
            None,
            Some(json!({"principal": "msp-automation", "method": "PUT",
                "url": format!("https://localhost{}", ra(2)), "body": body(READER, &mi)})),
        )
        .await;
    assert_eq!(explained.body["decision"], "denied", "{}", explained.body);
    assert!(explained.body["reasons"]
        .to_string()
        .contains("is not listed"));
    // a user of the customer is not a managed identity
    let r = e
        .call(
            "PUT",
            &ra(3),
            Some(&msp),
            Some(body(CONTRIBUTOR, "30000000-0000-0000-0000-000000002112")),
        )
        .await;
    assert_eq!(r.code(), "AuthorizationFailed");
    assert!(
        r.header("x-ms-emulator-decision")
            .contains("is a User, not a managed identity"),
        "{}",
        r.header("x-ms-emulator-decision")
    );
    // alice (Contributor through MSP Operators) cannot assign roles at all
    let alice = e.token("alice").await;
    assert_eq!(
        e.call("PUT", &ra(4), Some(&alice), Some(body(CONTRIBUTOR, &mi)))
            .await
            .code(),
        "AuthorizationFailed"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_resource_group_delegation_lists_what_it_covers_and_reads_subscription_metadata() {
    let e = emu().await;
    let alice = e.token("alice").await;
    let sub = format!("/subscriptions/{NORTHWIND_MAIN}");
    let names = |r: &crate::Resp| -> Vec<String> {
        r.body["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["name"].as_str().unwrap().to_string())
            .collect()
    };
    // rg-managed is delegated, rg-private is not: the subscription's lists show only rg-managed
    let r = e
        .call(
            "GET",
            &format!("{sub}/resourcegroups?api-version=2024-11-01"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(names(&r), ["rg-managed"]);
    assert!(r
        .header("x-ms-emulator-decision")
        .contains("only what the caller may read"));
    let r = e
        .call(
            "GET",
            &format!("{sub}/resources?api-version=2024-11-01"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(
        names(&r),
        ["vm-app-01"],
        "northwindprivate is in rg-private"
    );
    // a group outside the delegation is still refused, listed or read
    let r = e
        .call(
            "GET",
            &format!("{sub}/resourceGroups/rg-private/resources?api-version=2024-11-01"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(r.code(), "AuthorizationFailed");
    // the subscription's provider metadata, which `az resource` reads for api-versions
    let r = e
        .call(
            "GET",
            &format!("{sub}/providers/Microsoft.Compute?api-version=2021-04-01"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = e
        .call(
            "GET",
            &format!("{sub}/locations?api-version=2022-12-01"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    // but not registering a provider
    let r = e
        .call(
            "POST",
            &format!("{sub}/providers/Microsoft.Sql/register?api-version=2021-04-01"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(r.code(), "AuthorizationFailed");
    // a same-tenant principal without any role in the subscription still gets 403 on the lists
    let reader = e.token("reader@fabrikam").await;
    let r = e
        .call(
            "GET",
            &format!("/subscriptions/{FABRIKAM_DEV}/resourcegroups?api-version=2024-11-01"),
            Some(&reader),
            None,
        )
        .await;
    assert_eq!(r.code(), "AuthorizationFailed");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_delegated_user_access_administrator_grants_nothing_but_those_role_assignments() {
    // msp-automation holds Contributor (MSP Operators) and User Access Administrator with
    // delegatedRoleDefinitionIds on fabrikam-prod: no other permission of UAA applies (ARM-FACTS §7.2),
    // so locks, custom roles and the other Microsoft.Authorization writes Contributor excludes stay refused.
    let e = emu().await;
    let msp = e.token("msp-automation").await;
    let lock = format!("/subscriptions/{FABRIKAM_PROD}/resourceGroups/rg-web/providers/Microsoft.Authorization/locks/msp-lock?api-version=2020-05-01");
    let r = e
        .call(
            "PUT",
            &lock,
            Some(&msp),
            Some(json!({"properties": {"level": "CanNotDelete"}})),
        )
        .await;
    assert_eq!(r.code(), "AuthorizationFailed", "{}", r.body);
    let role = format!("/subscriptions/{FABRIKAM_PROD}/providers/Microsoft.Authorization/roleDefinitions/dddddddd-0000-0000-0000-000000000001?api-version=2022-04-01");
    let r = e
        .call(
            "PUT",
            &role,
            Some(&msp),
            Some(
                json!({"properties": {"roleName": "msp custom", "type": "CustomRole",
                "permissions": [{"actions": ["*/read"]}],
                "assignableScopes": [format!("/subscriptions/{FABRIKAM_PROD}")]}}),
            ),
        )
        .await;
    assert_eq!(r.code(), "AuthorizationFailed", "{}", r.body);
    // explain names the UAA authorization as one that does not cover the lock, and says why
    let x = e
        .call(
            "POST",
            "/_emulator/explain",
            None,
            Some(json!({"principal": "msp-automation", "action": "Microsoft.Authorization/locks/write",
                "scope": format!("/subscriptions/{FABRIKAM_PROD}/resourceGroups/rg-web")})),
        )
        .await;
    assert_eq!(x.body["decision"], "denied", "{}", x.body);
    let reasons = x.body["reasons"].to_string();
    assert!(
        reasons.contains("serves only to assign the roles its delegatedRoleDefinitionIds list"),
        "{reasons}"
    );
    // and the role assignment write itself is allowed by it, limited
    let x = e
        .call(
            "POST",
            "/_emulator/explain",
            None,
            Some(json!({"principal": "msp-automation", "action": "Microsoft.Authorization/roleAssignments/write",
                "scope": format!("/subscriptions/{FABRIKAM_PROD}")})),
        )
        .await;
    assert_eq!(x.body["decision"], "allowed", "{}", x.body);
    let granted = x.body["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["effect"] == "allows")
        .cloned()
        .unwrap_or_default();
    assert_eq!(granted["role"], "User Access Administrator", "{}", x.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn parent_resource_not_found_names_no_write_on_a_get() {
    // (a network child of a missing parent answers the Network provider's ResourceNotFound instead)
    let e = emu().await;
    let admin = e.token("admin@fabrikam").await;
    let r = e
        .call(
            "GET",
            &format!("/subscriptions/{FABRIKAM_PROD}/resourceGroups/rg-web/providers/Microsoft.Automation/automationAccounts/no-such-account/runbooks/r1?api-version=2023-11-01"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(r.code(), "ParentResourceNotFound");
    assert_eq!(
        r.body["error"]["message"],
        "Can not perform requested operation on nested resource. Parent resource 'no-such-account' not found."
    );
}
