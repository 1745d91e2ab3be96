//! Resource Graph's `AuthorizationResources`: the built-in role definitions as ARG shapes them, and
//! `authorizationScopeFilter` (AtScopeAndBelow, AtScopeAndAbove, AtScopeExact, AtScopeAboveAndBelow)
//! relative to the subscriptions a query names or the tenant; a value outside the enum is refused with
//! ARG's envelope; semantic errors come back as ARG's ParserFailure.

use crate::*;
use serde_json::{json, Value};

const ARG: &str = "/providers/Microsoft.ResourceGraph/resources?api-version=2022-10-01";
const READER: &str = "acdd72a7-3385-48ef-bd42-f606fba81ae7";
const RG_ASSIGNMENT: &str = "/subscriptions/20000000-0000-0000-0000-000000002001/resourceGroups/rg-web/providers/Microsoft.Authorization/roleAssignments/71000000-0000-0000-0000-000000002001";

async fn query(e: &Emu, who: &str, body: Value) -> Resp {
    let t = e.token(who).await;
    e.call("POST", ARG, Some(&t), Some(body)).await
}

/// (built-in role definitions, role assignment ids) of a query over `scope` with `filter`.
async fn rows(e: &Emu, scope: Option<&str>, filter: Option<&str>) -> (i64, Vec<String>) {
    let mut options = json!({});
    if let Some(f) = filter {
        options["authorizationScopeFilter"] = json!(f);
    }
    let mut body = json!({"options": options});
    if let Some(s) = scope {
        body["subscriptions"] = json!([s]);
    }
    body["query"] = json!("authorizationresources | where type =~ 'microsoft.authorization/roledefinitions' and properties.type == 'BuiltInRole' | count");
    let r = query(e, "admin@fabrikam", body.clone()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let builtins = r.body["data"][0]["Count"].as_i64().unwrap();
    body["query"] = json!("authorizationresources | where type =~ 'microsoft.authorization/roleassignments' | project id");
    let r = query(e, "admin@fabrikam", body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let mut ids: Vec<String> = r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap().to_ascii_lowercase())
        .collect();
    ids.sort();
    (builtins, ids)
}

#[tokio::test(flavor = "multi_thread")]
async fn built_in_role_definitions_are_rows_at_the_tenant_root() {
    let e = emu().await;
    let all = lighthouse_emulator::facts::builtin_roles().len() as i64;
    let (n, _) = rows(&e, None, None).await;
    assert_eq!(n, all);
    let q = json!({"query": format!("authorizationresources | where name == '{READER}'")});
    for (who, tenant) in [("admin@fabrikam", FABRIKAM), ("msp-automation", CONTOSO)] {
        let r = query(&e, who, q.clone()).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let row = &r.body["data"][0];
        assert_eq!(
            row["id"],
            format!("/providers/Microsoft.Authorization/roleDefinitions/{READER}")
        );
        assert_eq!(row["type"], "microsoft.authorization/roledefinitions");
        assert_eq!(row["tenantId"], tenant);
        assert_eq!(row["subscriptionId"], "");
        let p = &row["properties"];
        assert_eq!(p["roleName"], "Reader", "{p}");
        assert_eq!(p["type"], "BuiltInRole", "{p}");
        assert_eq!(p["assignableScopes"], json!(["/"]), "{p}");
        assert_eq!(p["permissions"][0]["actions"], json!(["*/read"]), "{p}");
        assert_eq!(p["permissions"][0]["dataActions"], json!([]), "{p}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_scope_filter_picks_rows_at_above_and_below_the_named_scopes() {
    let e = emu().await;
    let admin = e.token("admin@fabrikam").await;
    let r = e
        .call(
            "PUT",
            &format!("{RG_ASSIGNMENT}?api-version=2022-04-01"),
            Some(&admin),
            Some(json!({"properties": {
                "roleDefinitionId": format!("/subscriptions/{FABRIKAM_PROD}/providers/Microsoft.Authorization/roleDefinitions/{READER}"),
                "principalId": "30000000-0000-0000-0000-000000002112"}})),
        )
        .await;
    assert!(r.status == 201 || r.status == 200, "{}", r.body);
    let all = lighthouse_emulator::facts::builtin_roles().len() as i64;
    let at_sub = format!(
        "/subscriptions/{FABRIKAM_PROD}/providers/microsoft.authorization/roleassignments/70000000-0000-0000-0000-000000002001"
    );
    let in_rg = RG_ASSIGNMENT.to_ascii_lowercase();
    // (filter, built-ins expected, the group's assignment expected)
    for (filter, builtins, below) in [
        (None, 0, true),
        (Some("AtScopeAndBelow"), 0, true),
        (Some("AtScopeAndAbove"), all, false),
        (Some("atscopeexact"), 0, false),
        (Some("AtScopeAboveAndBelow"), all, true),
    ] {
        let (n, ids) = rows(&e, Some(FABRIKAM_PROD), filter).await;
        assert_eq!(n, builtins, "{filter:?}");
        assert!(ids.contains(&at_sub), "{filter:?}: {ids:?}");
        assert_eq!(ids.contains(&in_rg), below, "{filter:?}: {ids:?}");
        // never another subscription's
        assert!(
            ids.iter().all(|i| i.contains(FABRIKAM_PROD)),
            "{filter:?}: {ids:?}"
        );
    }
    // a tenant-level query names the root: below it is everything, at it only the built-ins
    let (n, ids) = rows(&e, None, None).await;
    assert_eq!(n, all);
    assert!(ids.contains(&in_rg) && ids.iter().any(|i| i.contains(FABRIKAM_DEV)));
    let (n, ids) = rows(&e, None, Some("AtScopeExact")).await;
    assert_eq!(n, all);
    assert!(ids.is_empty(), "{ids:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scope_filter_outside_the_enum_is_refused() {
    let e = emu().await;
    let body = json!({"query": "authorizationresources | count",
        "options": {"authorizationScopeFilter": "Everywhere"}});
    let r = query(&e, "admin@fabrikam", body.clone()).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.code(), "BadRequest");
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("Please provide below info when asking for support: timestamp = "));
    let d = &r.body["error"]["details"][0];
    assert_eq!(d["code"], "InvalidRequestContent", "{d}");
    assert!(d["message"].as_str().unwrap().contains("Everywhere"), "{d}");
    // versions before 2021-06-01-preview have no such option
    let t = e.token("admin@fabrikam").await;
    let r = e
        .call(
            "POST",
            "/providers/Microsoft.ResourceGraph/resources?api-version=2021-03-01",
            Some(&t),
            Some(body),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_column_is_a_parser_failure_as_arg_reports_it() {
    let e = emu().await;
    let r = query(
        &e,
        "admin@fabrikam",
        json!({"query": "Resources | where nope == 1"}),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    let details = &r.body["error"]["details"];
    assert_eq!(details[0]["code"], "InvalidQuery");
    assert_eq!(details[0]["message"], "Query is invalid. Please refer to the documentation for the Azure Resource Graph service and fix the error before retrying.");
    let d = &details[1];
    assert_eq!(d["code"], "ParserFailure", "{d}");
    assert_eq!(d["message"], "ParserFailure", "{d}");
    assert_eq!(d["line"], 1, "{d}");
    assert_eq!(d["characterPositionInLine"], 18, "{d}");
    assert_eq!(d["token"], "nope", "{d}");
}
