//! Management groups: each tenant's root with its subscriptions, groups created (as the long-running
//! PUT Azure answers), read with `$expand`/`$recurse`, moved, deleted (refused while they hold
//! anything); subscriptions moved in and out; RBAC inherited from a group by the groups and
//! subscriptions below it, and lost when a subscription moves out; a delegation never reaching a
//! group; the tenant-level activity log.

use crate::*;
use serde_json::{json, Value};

const API: &str = "api-version=2023-04-01";
const READER: &str = "acdd72a7-3385-48ef-bd42-f606fba81ae7";
const READER_AT_FABRIKAM: &str = "30000000-0000-0000-0000-000000002112";

fn mg(name: &str) -> String {
    format!("/providers/Microsoft.Management/managementGroups/{name}")
}

async fn create(e: &Emu, t: &str, name: &str, parent: Option<&str>) -> Resp {
    let mut body = json!({"properties": {"displayName": format!("{name} display")}});
    if let Some(p) = parent {
        body["properties"]["details"] = json!({"parent": {"id": mg(p)}});
    }
    e.call("PUT", &format!("{}?{API}", mg(name)), Some(t), Some(body))
        .await
}

async fn move_in(e: &Emu, t: &str, group: &str, sub: &str) -> Resp {
    e.call(
        "PUT",
        &format!("{}/subscriptions/{sub}?{API}", mg(group)),
        Some(t),
        None,
    )
    .await
}

fn window(e: &Emu) -> String {
    let now = e.app.clock.now();
    let t = lighthouse_emulator::clock::arm_time;
    format!(
        "eventTimestamp ge '{}' and eventTimestamp le '{}'",
        t(now - time::Duration::hours(1)),
        t(now + time::Duration::hours(1))
    )
}

fn names(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .map(|x| x["name"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tenant_root_holds_every_subscription_and_groups_are_made_moved_and_deleted() {
    let e = emu().await;
    let admin = e.token("admin@fabrikam").await;
    // the root: named after the tenant, "Tenant Root Group", both subscriptions under it
    let r = e
        .call(
            "GET",
            &format!("{}?{API}&$expand=children", mg(FABRIKAM)),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["properties"]["displayName"], "Tenant Root Group");
    assert_eq!(r.body["properties"]["tenantId"], FABRIKAM);
    assert_eq!(
        names(&r.body["properties"]["children"]),
        [FABRIKAM_PROD, FABRIKAM_DEV]
    );
    // create: 202 with the async operation and the group's URL, as Azure answers
    let r = create(&e, &admin, "Platform", None).await;
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(r.body["status"], "NotStarted");
    let op = r.header("azure-asyncoperation").to_string();
    assert!(r
        .header("location")
        .ends_with(&format!("{}?{API}", mg("Platform"))));
    let r = e.call("GET", &op, Some(&admin), None).await;
    assert_eq!(r.body["status"], "Succeeded", "{}", r.body);
    assert_eq!(
        create(&e, &admin, "Prod", Some("Platform")).await.status,
        202
    );
    assert_eq!(move_in(&e, &admin, "Prod", FABRIKAM_PROD).await.status, 200);

    let r = e
        .call(
            "GET",
            &format!("{}?{API}&$expand=children&$recurse=true", mg(FABRIKAM)),
            Some(&admin),
            None,
        )
        .await;
    let kids = &r.body["properties"]["children"];
    assert_eq!(names(kids), ["Platform", FABRIKAM_DEV], "{}", r.body);
    assert_eq!(names(&kids[0]["children"][0]["children"]), [FABRIKAM_PROD]);
    // $filter leaves subscriptions out
    let r = e
        .call(
            "GET",
            &format!(
                "{}?{API}&$expand=children&$filter=children.childType ne Subscription",
                mg(FABRIKAM)
            ),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(names(&r.body["properties"]["children"]), ["Platform"]);
    // path and ancestors
    let r = e
        .call(
            "GET",
            &format!("{}?{API}&$expand=path", mg("prod")),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(
        r.body["name"], "Prod",
        "canonical casing of the stored name"
    );
    assert_eq!(
        names(&r.body["properties"]["details"]["path"]),
        [FABRIKAM, "Platform"]
    );
    let r = e
        .call(
            "GET",
            &format!("{}?{API}&$expand=ancestors", mg("Prod")),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(
        names(&r.body["properties"]["details"]["managementGroupAncestorsChain"]),
        ["Platform", FABRIKAM]
    );
    assert_eq!(
        r.body["properties"]["details"]["parent"]["name"],
        "Platform"
    );
    // descendants
    let r = e
        .call(
            "GET",
            &format!("{}/descendants?{API}", mg("Platform")),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(
        names(&r.body["value"]),
        ["Prod", FABRIKAM_PROD],
        "{}",
        r.body
    );
    // list: the tenant's groups only
    let r = e
        .call(
            "GET",
            &format!("/providers/Microsoft.Management/managementGroups?{API}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(names(&r.body["value"]), [FABRIKAM, "Platform", "Prod"]);
    // a group that holds anything is not deleted
    let r = e
        .call(
            "DELETE",
            &format!("{}?{API}", mg("Platform")),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    let r = e
        .call(
            "DELETE",
            &format!("{}?{API}", mg(FABRIKAM)),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(r.status, 400, "the root is never deleted: {}", r.body);
    // subscriptions under a group; out again to the root
    let r = e
        .call(
            "GET",
            &format!("{}/subscriptions?{API}", mg("Prod")),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(names(&r.body["value"]), [FABRIKAM_PROD]);
    let r = e
        .call(
            "DELETE",
            &format!("{}/subscriptions/{FABRIKAM_PROD}?{API}", mg("Prod")),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    // PATCH renames and moves
    let r = e
        .call(
            "PATCH",
            &format!("{}?{API}", mg("Prod")),
            Some(&admin),
            Some(json!({"displayName": "Production", "parentGroupId": mg(FABRIKAM)})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["properties"]["displayName"], "Production");
    assert_eq!(r.body["properties"]["details"]["parent"]["name"], FABRIKAM);
    // a group cannot go under its own descendant
    assert_eq!(
        create(&e, &admin, "Leaf", Some("Platform")).await.status,
        202
    );
    let r = e
        .call(
            "PATCH",
            &format!("{}?{API}", mg("Platform")),
            Some(&admin),
            Some(json!({"parentGroupId": mg("Leaf")})),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    // delete an empty group: 202, then it is gone
    for g in ["Leaf", "Platform", "Prod"] {
        let r = e
            .call("DELETE", &format!("{}?{API}", mg(g)), Some(&admin), None)
            .await;
        assert_eq!(r.status, 202, "{g}: {}", r.body);
    }
    let r = e
        .call("GET", &format!("{}?{API}", mg("Prod")), Some(&admin), None)
        .await;
    assert_eq!(r.status, 404);
    // name checks
    let r = e
        .call(
            "POST",
            &format!("/providers/Microsoft.Management/checkNameAvailability?{API}"),
            Some(&admin),
            Some(json!({"name": FABRIKAM, "type": "Microsoft.Management/managementGroups"})),
        )
        .await;
    assert_eq!(r.body["reason"], "AlreadyExists");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_role_at_a_group_reaches_everything_below_it_until_the_subscription_moves_out() {
    let e = emu().await;
    let admin = e.token("admin@fabrikam").await;
    let ci = e.token("fabrikam-ci").await;
    let reader = e.token("reader@fabrikam").await;
    // fabrikam-ci (Contributor on both subscriptions, nothing at the root) may still make a group
    // under the root (no hierarchy settings yet) and so owns it
    assert_eq!(create(&e, &ci, "Apps", None).await.status, 202);
    let r = e
        .call("GET", &format!("{}?{API}", mg("Apps")), Some(&ci), None)
        .await;
    assert_eq!(r.status, 200, "the creator owns its group: {}", r.body);
    // reader@fabrikam sees the root (the whole tenant may) but not Apps
    let r = e
        .call(
            "GET",
            &format!("{}?{API}", mg(FABRIKAM)),
            Some(&reader),
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    let r = e
        .call("GET", &format!("{}?{API}", mg("Apps")), Some(&reader), None)
        .await;
    assert_eq!((r.status, r.code()), (403, "AuthorizationFailed"));
    // admin moves fabrikam-dev into Apps and makes reader a Reader on Apps
    assert_eq!(move_in(&e, &admin, "Apps", FABRIKAM_DEV).await.status, 200);
    let dev_group =
        format!("/subscriptions/{FABRIKAM_DEV}/resourceGroups/rg-dev?api-version=2024-11-01");
    assert_eq!(
        e.call("GET", &dev_group, Some(&reader), None).await.status,
        403
    );
    let ra = format!("{}/providers/Microsoft.Authorization/roleAssignments/7a1c0000-0000-4000-8000-000000000001?api-version=2022-04-01", mg("Apps"));
    let r = e
        .call("PUT", &ra, Some(&admin), Some(json!({"properties": {
            "roleDefinitionId": format!("/providers/Microsoft.Authorization/roleDefinitions/{READER}"),
            "principalId": READER_AT_FABRIKAM}})))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = e.call("GET", &dev_group, Some(&reader), None).await;
    assert_eq!(r.status, 200, "inherited from Apps: {}", r.body);
    // listed at the subscription as inherited, with the root's Owner assignment
    let listed = e
        .call("GET", &format!("/subscriptions/{FABRIKAM_DEV}/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01&$filter=atScope()"), Some(&admin), None)
        .await;
    let got = names(&listed.body["value"]);
    assert!(
        got.contains(&"7a1c0000-0000-4000-8000-000000000001".to_string()),
        "{got:?}"
    );
    assert!(
        got.contains(&"70000000-0000-0000-0000-000000002900".to_string()),
        "{got:?}"
    );
    // and at the group, what is below it
    let listed = e
        .call(
            "GET",
            &format!(
                "{}/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01",
                mg("Apps")
            ),
            Some(&admin),
            None,
        )
        .await;
    assert!(
        names(&listed.body["value"]).contains(&"70000000-0000-0000-0000-000000002002".to_string()),
        "fabrikam-dev's own: {}",
        listed.body
    );
    assert!(r
        .header("x-ms-emulator-decision")
        .contains("7a1c0000-0000-4000-8000-000000000001"));
    let r = e
        .call("GET", &format!("{}?{API}", mg("Apps")), Some(&reader), None)
        .await;
    assert_eq!(r.status, 200);
    // a group made below Apps inherits too
    assert_eq!(
        create(&e, &admin, "AppsChild", Some("Apps")).await.status,
        202
    );
    let r = e
        .call(
            "GET",
            &format!("{}?{API}", mg("AppsChild")),
            Some(&reader),
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    // reader may not move the subscription (Reader is no Owner)
    let r = e
        .call(
            "DELETE",
            &format!("{}/subscriptions/{FABRIKAM_DEV}?{API}", mg("Apps")),
            Some(&reader),
            None,
        )
        .await;
    assert_eq!((r.status, r.code()), (403, "AuthorizationFailed"));
    // out again: the grant no longer reaches it
    let r = e
        .call(
            "DELETE",
            &format!("{}/subscriptions/{FABRIKAM_DEV}?{API}", mg("Apps")),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        e.call("GET", &dev_group, Some(&reader), None).await.status,
        403
    );
    // with hierarchy settings requiring authorization, fabrikam-ci may no longer create under the root
    let r = e
        .call(
            "PUT",
            &format!("{}/settings/default?{API}", mg(FABRIKAM)),
            Some(&admin),
            Some(json!({"properties": {"requireAuthorizationForGroupCreation": true}})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = create(&e, &ci, "Another", None).await;
    assert_eq!(
        (r.status, r.code()),
        (403, "AuthorizationFailed"),
        "{}",
        r.body
    );
    // but may create below the group it owns
    assert_eq!(create(&e, &ci, "AppsTeam", Some("Apps")).await.status, 202);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_delegation_never_reaches_a_management_group() {
    let e = emu().await;
    let alice = e.token("alice").await;
    let admin = e.token("admin@fabrikam").await;
    // the provider's principals never see a customer's groups
    let r = e
        .call(
            "GET",
            &format!("{}?{API}", mg(FABRIKAM)),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
    let r = e
        .call(
            "GET",
            &format!("/providers/Microsoft.Management/managementGroups?{API}"),
            Some(&alice),
            None,
        )
        .await;
    assert!(
        !names(&r.body["value"]).contains(&FABRIKAM.to_string()),
        "{}",
        r.body
    );
    let r = e
        .call(
            "GET",
            &format!(
                "{}/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01",
                mg(FABRIKAM)
            ),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!((r.status, r.code()), (403, "AuthorizationFailed"));
    // a registration assignment at a group is refused, whoever asks
    let r = e
        .call("PUT", &format!("{}/providers/Microsoft.ManagedServices/registrationAssignments/0c0c0000-0000-4000-8000-000000000001?api-version=2022-10-01", mg(FABRIKAM)),
            Some(&admin),
            Some(json!({"properties": {"registrationDefinitionId": format!("/subscriptions/{FABRIKAM_PROD}/providers/Microsoft.ManagedServices/registrationDefinitions/50000000-0000-0000-0000-000000002001")}})))
        .await;
    assert_eq!(
        (r.status, r.code()),
        (400, "InvalidResourceType"),
        "{}",
        r.body
    );
    // alice can still work in the delegated subscription, wherever it sits in the customer's tree
    assert_eq!(create(&e, &admin, "Delegated", None).await.status, 202);
    assert_eq!(
        move_in(&e, &admin, "Delegated", FABRIKAM_PROD).await.status,
        200
    );
    let r = e
        .call(
            "GET",
            &format!("/subscriptions/{FABRIKAM_PROD}/resourceGroups?api-version=2024-11-01"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(r.status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn group_writes_land_in_the_tenant_level_activity_log() {
    let e = emu().await;
    let admin = e.token("admin@fabrikam").await;
    assert_eq!(create(&e, &admin, "Logged", None).await.status, 202);
    let r = e
        .call("GET", &format!("/providers/Microsoft.Insights/eventtypes/management/values?api-version=2015-04-01&$filter={}", window(&e)), Some(&admin), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let ops: Vec<&str> = r.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v["operationName"]["value"].as_str())
        .collect();
    assert!(
        ops.contains(&"Microsoft.Management/managementGroups/write"),
        "{ops:?}"
    );
    let ev = r.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["operationName"]["value"] == "Microsoft.Management/managementGroups/write")
        .unwrap();
    assert_eq!(ev["subscriptionId"], "", "{ev}");
    assert_eq!(ev["tenantId"], FABRIKAM);
    assert_eq!(ev["resourceId"], mg("Logged"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_management_group_deployment_assigns_roles_below_the_group_and_deploys_into_its_subscriptions(
) {
    let e = emu().await;
    let admin = e.token("admin@fabrikam").await;
    let reader = e.token("reader@fabrikam").await;
    assert_eq!(create(&e, &admin, "Apps", None).await.status, 202);
    assert_eq!(move_in(&e, &admin, "Apps", FABRIKAM_DEV).await.status, 200);
    let template = json!({
        "$schema": "https://schema.management.azure.com/schemas/2019-08-01/managementGroupDeploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "parameters": {"targetSubscription": {"type": "string"}},
        "resources": [
            {"type": "Microsoft.Authorization/roleAssignments", "apiVersion": "2022-04-01",
             "name": "[guid(managementGroup().id, 'reader')]",
             "properties": {"roleDefinitionId": format!("[tenantResourceId('Microsoft.Authorization/roleDefinitions', '{READER}')]"),
                            "principalId": READER_AT_FABRIKAM, "principalType": "User"}},
            {"type": "Microsoft.Resources/deployments", "apiVersion": "2021-04-01", "name": "into-dev",
             "subscriptionId": "[parameters('targetSubscription')]", "location": "westeurope",
             "properties": {"mode": "Incremental", "template": {
                "$schema": "https://schema.management.azure.com/schemas/2018-05-01/subscriptionDeploymentTemplate.json#",
                "contentVersion": "1.0.0.0",
                "resources": [{"type": "Microsoft.Resources/resourceGroups", "apiVersion": "2022-09-01",
                               "name": "rg-from-mg", "location": "westeurope"}]}}}
        ],
        "outputs": {
            "group": {"type": "string", "value": "[managementGroup().name]"},
            "assignment": {"type": "string", "value": "[managementGroupResourceId('Microsoft.Authorization/roleAssignments', guid(managementGroup().id, 'reader'))]"}
        }
    });
    let body = json!({"location": "westeurope", "properties": {"mode": "Incremental", "template": template,
        "parameters": {"targetSubscription": {"value": FABRIKAM_DEV}}}});
    let dep = format!(
        "{}/providers/Microsoft.Resources/deployments/mg-dep",
        mg("Apps")
    );
    // validate and what-if first: nothing is written
    let r = e
        .call(
            "POST",
            &format!("{dep}/validate?api-version=2025-04-01"),
            Some(&admin),
            Some(body.clone()),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let ids: Vec<&str> = r.body["properties"]["validatedResources"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v["id"].as_str())
        .collect();
    assert!(
        ids.iter().any(|i| i.starts_with(&format!(
            "{}/providers/Microsoft.Authorization/roleAssignments/",
            mg("Apps")
        ))),
        "{ids:?}"
    );
    assert!(
        ids.contains(
            &format!(
                "/subscriptions/{FABRIKAM_DEV}/providers/Microsoft.Resources/deployments/into-dev"
            )
            .as_str()
        ),
        "{ids:?}"
    );
    let r = e
        .call(
            "POST",
            &format!("{dep}/whatIf?api-version=2025-04-01"),
            Some(&admin),
            Some(body.clone()),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // the provider's principals may not deploy at a customer's group
    let alice = e.token("alice").await;
    let r = e
        .call(
            "PUT",
            &format!("{dep}?api-version=2025-04-01"),
            Some(&alice),
            Some(body.clone()),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (403, "AuthorizationFailed"),
        "{}",
        r.body
    );
    // deploy
    let r = e
        .call(
            "PUT",
            &format!("{dep}?api-version=2025-04-01"),
            Some(&admin),
            Some(body),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let poll = r.header("azure-asyncoperation").to_string();
    let s = e.call("GET", &poll, Some(&admin), None).await;
    assert_eq!(s.body["status"], "Succeeded", "{}", s.body);
    let got = e
        .call(
            "GET",
            &format!("{dep}?api-version=2025-04-01"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(
        got.body["properties"]["provisioningState"], "Succeeded",
        "{}",
        got.body
    );
    assert_eq!(got.body["properties"]["outputs"]["group"]["value"], "Apps");
    assert!(got.body["properties"]["outputs"]["assignment"]["value"]
        .as_str()
        .unwrap()
        .starts_with(&mg("Apps")));
    // the listing at the group has it; operations name both resources
    let list = e
        .call(
            "GET",
            &format!(
                "{}/providers/Microsoft.Resources/deployments?api-version=2025-04-01",
                mg("Apps")
            ),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(names(&list.body["value"]), ["mg-dep"]);
    let root_list = e
        .call(
            "GET",
            &format!(
                "{}/providers/Microsoft.Resources/deployments?api-version=2025-04-01",
                mg(FABRIKAM)
            ),
            Some(&admin),
            None,
        )
        .await;
    assert!(
        names(&root_list.body["value"]).is_empty(),
        "{}",
        root_list.body
    );
    let ops = e
        .call(
            "GET",
            &format!("{dep}/operations?api-version=2025-04-01"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(
        ops.body["value"].as_array().unwrap().len(),
        3,
        "{}",
        ops.body
    );
    // its effect: the resource group exists, and reader@fabrikam reads it through the group's role
    let rg =
        format!("/subscriptions/{FABRIKAM_DEV}/resourceGroups/rg-from-mg?api-version=2024-11-01");
    let r = e.call("GET", &rg, Some(&reader), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
}
