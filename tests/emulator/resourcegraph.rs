//! Azure Resource Graph across tenants: one query over every subscription the caller may read, each row
//! with its owner's tenantId; rows the caller may not read are never returned; ARG's paging, formats
//! and error envelope.

use crate::*;
use serde_json::{json, Value};

const ARG: &str = "/providers/Microsoft.ResourceGraph/resources?api-version=2022-10-01";

async fn query(e: &Emu, who: &str, body: Value) -> Resp {
    let t = e.token(who).await;
    e.call("POST", ARG, Some(&t), Some(body)).await
}

fn counts(r: &Resp) -> Vec<(String, i64)> {
    let mut v: Vec<(String, i64)> = r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            (
                row["tenantId"].as_str().unwrap().to_string(),
                row["count_"].as_i64().unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread")]
async fn a_provider_counts_resources_per_customer_tenant() {
    let e = emu().await;
    let q = json!({"query": "Resources | summarize count() by tenantId"});
    let r = query(&e, "msp-automation", q.clone()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let got = counts(&r);
    let tenants: Vec<&str> = got.iter().map(|(t, _)| t.as_str()).collect();
    // its own tenant, and the customers that delegate to it; never Woodgrove
    assert!(tenants.contains(&CONTOSO), "{got:?}");
    assert!(tenants.contains(&FABRIKAM), "{got:?}");
    assert!(
        !tenants.contains(&"10000000-0000-0000-0000-000000000005"),
        "{got:?}"
    );
    // the customer sees itself alone
    let r = query(&e, "admin@fabrikam", q).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let got = counts(&r);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].0, FABRIKAM);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_resource_group_delegation_shows_that_group_only() {
    let e = emu().await;
    let r = query(
        &e,
        "alice",
        json!({"query": "Resources | where subscriptionId == '20000000-0000-0000-0000-000000003001' | project name, resourceGroup"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let rgs: Vec<&str> = r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["resourceGroup"].as_str().unwrap())
        .collect();
    assert!(!rgs.is_empty());
    assert!(rgs.iter().all(|g| *g == "rg-managed"), "{rgs:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn table_format_paging_and_parse_errors() {
    let e = emu().await;
    let r = query(
        &e,
        "admin@fabrikam",
        json!({"query": "Resources | project name, type | order by name asc",
               "options": {"resultFormat": "table", "$top": 2}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["data"]["columns"][0],
        json!({"name": "name", "type": "string"})
    );
    assert_eq!(r.body["count"], 2);
    assert_eq!(r.body["resultTruncated"], "false");
    let total = r.body["totalRecords"].as_u64().unwrap();
    assert!(total > 2);
    let mut seen: Vec<Value> = r.body["data"]["rows"].as_array().unwrap().clone();
    let mut token = r.body["$skipToken"].as_str().map(String::from);
    while let Some(t) = token {
        let r = query(
            &e,
            "admin@fabrikam",
            json!({"query": "Resources | project name, type | order by name asc",
                   "options": {"resultFormat": "table", "$top": 2, "$skipToken": t}}),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.body);
        seen.extend(r.body["data"]["rows"].as_array().unwrap().iter().cloned());
        token = r.body["$skipToken"].as_str().map(String::from);
    }
    assert_eq!(seen.len() as u64, total);
    let r = query(
        &e,
        "admin@fabrikam",
        json!({"query": "Resources\n| wher name == 'x'"}),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.body["error"]["code"], "BadRequest");
    assert_eq!(r.body["error"]["details"][0]["code"], "InvalidQuery");
    let d = &r.body["error"]["details"][1];
    assert_eq!(d["code"], "ParserFailure", "{d}");
    assert_eq!(d["line"], 2, "{d}");
}

#[tokio::test(flavor = "multi_thread")]
async fn containers_and_delegations_from_both_sides() {
    let e = emu().await;
    let q = json!({"query": "ResourceContainers | where type == 'microsoft.resources/subscriptions' | project subscriptionId, tenantId, managedBy = properties.managedByTenants"});
    let r = query(&e, "msp-automation", q).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let subs: Vec<&str> = r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["subscriptionId"].as_str().unwrap())
        .collect();
    assert!(
        subs.contains(&FABRIKAM_PROD) && subs.contains(&MSP_TOOLS),
        "{subs:?}"
    );
    assert!(!subs.contains(&FABRIKAM_DEV), "{subs:?}");
    let q = json!({"query": "ManagedServicesResources | where type == 'microsoft.managedservices/registrationassignments' | project id, tenantId"});
    for who in ["msp-automation", "admin@fabrikam"] {
        let r = query(&e, who, q.clone()).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let ids = r.body["data"].to_string();
        assert!(
            ids.contains("60000000-0000-0000-0000-000000002001"),
            "{who}: {ids}"
        );
    }
    // a join of Resources with ResourceContainers on subscriptionId
    let q = json!({"query": "Resources | join kind=inner (ResourceContainers | where type == 'microsoft.resources/subscriptions' | project subscriptionId, subName = name) on subscriptionId | project name, subName | order by name asc"});
    let r = query(&e, "admin@fabrikam", q).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.body["data"].to_string().contains("fabrikam-prod"),
        "{}",
        r.body
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn each_user_has_fifteen_queries_per_five_seconds() {
    let e = emu().await;
    let t = e.token("reader@fabrikam").await;
    let body = json!({"query": "Resources | count"});
    for want in (0..15).rev() {
        let r = e.call("POST", ARG, Some(&t), Some(body.clone())).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.header("x-ms-user-quota-remaining"), want.to_string());
        assert!(r
            .header("x-ms-user-quota-resets-after")
            .starts_with("00:00:0"));
    }
    let r = e.call("POST", ARG, Some(&t), Some(body.clone())).await;
    assert_eq!(r.status, 429, "{}", r.body);
    assert_eq!(r.code(), "RateLimiting");
    assert_eq!(r.body["error"]["details"][0]["code"], "RateLimiting");
    assert_eq!(r.header("x-ms-user-quota-remaining"), "0");
    assert!(!r.header("retry-after").is_empty());
    // another user is counted apart
    let other = e.token("admin@fabrikam").await;
    let r = e.call("POST", ARG, Some(&other), Some(body.clone())).await;
    assert_eq!(r.status, 200, "{}", r.body);
    // the window passes on the emulator's clock
    let r = e
        .call(
            "POST",
            "/_emulator/clock",
            None,
            Some(json!({"advance": "PT6S"})),
        )
        .await;
    assert_eq!(r.status, 200);
    let t = e.token("reader@fabrikam").await;
    let r = e.call("POST", ARG, Some(&t), Some(body)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("x-ms-user-quota-remaining"), "14");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_quota_can_be_switched_off_for_load_tests() {
    let e = emu_with(|o| o.graph_quota = false).await;
    let t = e.token("reader@fabrikam").await;
    for _ in 0..20 {
        let r = e
            .call(
                "POST",
                ARG,
                Some(&t),
                Some(json!({"query": "Resources | count"})),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.header("x-ms-user-quota-remaining"), "");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn explain_says_why_a_row_is_hidden() {
    // ARG keeps a row exactly when a GET of it would be allowed: explaining that GET explains the row
    let e = emu().await;
    let r = query(
        &e,
        "alice",
        json!({"query": "Resources | where subscriptionId == '20000000-0000-0000-0000-000000003001' | project id"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let shown = r.body["data"].to_string().to_lowercase();
    let hidden = format!("/subscriptions/{NORTHWIND_MAIN}/resourceGroups/rg-private/providers/Microsoft.Storage/storageAccounts/northwindprivate");
    assert!(!shown.contains(&hidden.to_lowercase()), "{shown}");
    let x = e
        .call(
            "POST",
            "/_emulator/explain",
            None,
            Some(
                json!({"principal": "alice@contosomsp.onmicrosoft.com", "method": "GET",
                "url": format!("https://localhost{hidden}?api-version=2023-05-01")}),
            ),
        )
        .await;
    assert_eq!(x.body["decision"], "denied", "{}", x.body);
    let vm = format!("/subscriptions/{NORTHWIND_MAIN}/resourceGroups/rg-managed/providers/Microsoft.Compute/virtualMachines/vm-app-01");
    assert!(shown.contains(&vm.to_lowercase()), "{shown}");
    let x = e
        .call(
            "POST",
            "/_emulator/explain",
            None,
            Some(
                json!({"principal": "alice@contosomsp.onmicrosoft.com", "method": "GET",
                "url": format!("https://localhost{vm}?api-version=2024-03-01")}),
            ),
        )
        .await;
    assert_eq!(x.body["decision"], "allowed", "{}", x.body);
}

/// Management groups in `ResourceContainers`: the caller's tenant's groups it may read (every member
/// reads its root), with their parent and ancestors chain; subscriptions carry
/// `managementGroupAncestorsChain`; a provider never sees a customer's groups.
#[tokio::test(flavor = "multi_thread")]
async fn management_groups_are_containers() {
    let e = emu().await;
    let admin = e.token("admin@fabrikam").await;
    let mg =
        "/providers/Microsoft.Management/managementGroups/fabrikam-platform?api-version=2023-04-01";
    let r = e
        .call(
            "PUT",
            mg,
            Some(&admin),
            Some(json!({"properties": {"displayName": "Fabrikam platform"}})),
        )
        .await;
    assert!(r.status < 300, "{:?}", r.body);
    let sub = format!("/providers/Microsoft.Management/managementGroups/fabrikam-platform/subscriptions/{FABRIKAM_PROD}?api-version=2023-04-01");
    let r = e.call("PUT", &sub, Some(&admin), None).await;
    assert!(r.status < 300, "{:?}", r.body);

    let q = json!({"query": "ResourceContainers | where type in~ ('microsoft.management/managementgroups', 'microsoft.resources/subscriptions') | project id, name, type, tenantId, properties | order by id asc"});
    let r = query(&e, "admin@fabrikam", q.clone()).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let rows = r.body["data"].as_array().unwrap();
    let names: Vec<&str> = rows.iter().map(|x| x["name"].as_str().unwrap()).collect();
    assert!(
        names.contains(&"fabrikam-platform") && names.contains(&FABRIKAM),
        "{names:?}"
    );
    let platform = rows
        .iter()
        .find(|x| x["name"] == "fabrikam-platform")
        .unwrap();
    assert_eq!(platform["type"], "microsoft.management/managementgroups");
    assert_eq!(platform["tenantId"], FABRIKAM);
    assert_eq!(
        platform["properties"]["details"]["parent"]["name"],
        FABRIKAM
    );
    let prod = rows
        .iter()
        .find(|x| x["id"] == format!("/subscriptions/{FABRIKAM_PROD}"))
        .unwrap();
    let chain: Vec<&str> = prod["properties"]["managementGroupAncestorsChain"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(chain, vec!["fabrikam-platform", FABRIKAM]);

    // the provider sees Fabrikam's subscription through the delegation, never its groups
    let r = query(&e, "msp-automation", q.clone()).await;
    let rows = r.body["data"].as_array().unwrap();
    assert!(
        rows.iter()
            .all(|x| x["tenantId"] != FABRIKAM
                || x["type"] != "microsoft.management/managementgroups"),
        "{rows:?}"
    );
    assert!(rows
        .iter()
        .any(|x| x["id"] == format!("/subscriptions/{FABRIKAM_PROD}")));
    // reader@fabrikam reads the root (every member does) but has no role on the new group
    let r = query(&e, "reader@fabrikam", q).await;
    let names: Vec<&str> = r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&FABRIKAM) && !names.contains(&"fabrikam-platform"),
        "{names:?}"
    );
    e.call("POST", "/_emulator/reset", None, None).await;
}
