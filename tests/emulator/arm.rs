//! ARM operations end to end: subscriptions, tenants, resource groups, generic resources, role
//! definitions and assignments, permissions, providers, metadata and the admin endpoints.

use crate::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn subscriptions_and_tenants_per_principal() {
    let e = emu().await;
    let ci = e.token("fabrikam-ci").await;
    let r = e
        .call(
            "GET",
            "/subscriptions?api-version=2022-12-01",
            Some(&ci),
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    let ids: Vec<&str> = r.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["subscriptionId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [FABRIKAM_PROD, FABRIKAM_DEV]);
    assert_eq!(r.body["value"][0]["tenantId"], FABRIKAM);
    let reader = e.token("reader@fabrikam").await;
    let r = e
        .call(
            "GET",
            "/subscriptions?api-version=2016-06-01",
            Some(&reader),
            None,
        )
        .await;
    assert_eq!(
        r.body["value"].as_array().unwrap().len(),
        1,
        "reader only sees fabrikam-prod"
    );
    let r = e
        .call(
            "GET",
            &format!("/subscriptions/{FABRIKAM_PROD}?api-version=2022-12-01"),
            Some(&reader),
            None,
        )
        .await;
    assert_eq!(
        (r.status, r.body["displayName"].as_str()),
        (200, Some("fabrikam-prod"))
    );
    let r = e
        .call(
            "GET",
            &format!("/subscriptions/{FABRIKAM_DEV}?api-version=2022-12-01"),
            Some(&reader),
            None,
        )
        .await;
    assert_eq!((r.status, r.code()), (403, "AuthorizationFailed"));
    let r = e
        .call("GET", "/tenants?api-version=2022-12-01", Some(&ci), None)
        .await;
    assert_eq!(r.body["value"][0]["tenantId"], FABRIKAM);
    assert_eq!(r.body["value"][0]["tenantCategory"], "Home");
    assert_eq!(
        r.body["value"][0]["defaultDomain"],
        "fabrikam.onmicrosoft.com"
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
    assert!(r.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["subscriptionId"] == MSP_TOOLS));
}

#[tokio::test(flavor = "multi_thread")]
async fn resource_group_lifecycle() {
    let e = emu().await;
    let t = e.token("admin@fabrikam").await;
    let p = format!("/subscriptions/{FABRIKAM_PROD}/resourcegroups/RG-Life?api-version=2025-04-01");
    let r = e
        .call(
            "PUT",
            &p,
            Some(&t),
            Some(json!({"location": "westeurope", "tags": {"env": "test"}})),
        )
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(
        r.body["id"],
        format!("/subscriptions/{FABRIKAM_PROD}/resourceGroups/RG-Life")
    );
    assert_eq!(r.body["properties"]["provisioningState"], "Succeeded");
    assert!(
        !r.header("x-ms-request-id").is_empty()
            && !r.header("x-ms-correlation-request-id").is_empty()
    );
    // same group under other casing: 200, casing kept
    let lower =
        format!("/subscriptions/{FABRIKAM_PROD}/resourceGroups/rg-life?api-version=2025-04-01");
    let r = e
        .call(
            "PUT",
            &lower,
            Some(&t),
            Some(json!({"location": "westeurope"})),
        )
        .await;
    assert_eq!((r.status, r.body["name"].as_str()), (200, Some("RG-Life")));
    let r = e
        .call("PUT", &lower, Some(&t), Some(json!({"location": "eastus"})))
        .await;
    assert_eq!((r.status, r.code()), (409, "InvalidResourceGroupLocation"));
    assert_eq!(e.call("HEAD", &lower, Some(&t), None).await.status, 204);
    let r = e
        .call(
            "PATCH",
            &lower,
            Some(&t),
            Some(json!({"tags": {"owner": "me"}})),
        )
        .await;
    assert_eq!(r.body["tags"], json!({"owner": "me"}));
    let list = format!("/subscriptions/{FABRIKAM_PROD}/resourcegroups?api-version=2025-04-01&$filter=tagName eq 'owner' and tagValue eq 'me'");
    let r = e.call("GET", &list, Some(&t), None).await;
    assert_eq!(r.body["value"].as_array().unwrap().len(), 1);
    // a resource inside, then delete the group as a long-running operation
    let vnet = format!("/subscriptions/{FABRIKAM_PROD}/resourceGroups/rg-life/providers/Microsoft.Network/virtualNetworks/v1?api-version=2023-09-01");
    assert_eq!(
        e.call(
            "PUT",
            &vnet,
            Some(&t),
            Some(json!({"location": "westeurope"}))
        )
        .await
        .status,
        201
    );
    let r = e.call("DELETE", &lower, Some(&t), None).await;
    assert_eq!(r.status, 202);
    let loc = r.header("location").to_string();
    assert!(loc.starts_with(&e.base), "{loc}");
    assert!(!r.header("retry-after").is_empty());
    assert_eq!(e.call("GET", &loc, Some(&t), None).await.status, 200);
    assert_eq!(e.call("HEAD", &lower, Some(&t), None).await.status, 404);
    assert_eq!(
        e.call("GET", &vnet, Some(&t), None).await.code(),
        "ResourceGroupNotFound"
    );
    assert_eq!(
        e.call("DELETE", &lower, Some(&t), None).await.code(),
        "ResourceGroupNotFound"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn generic_resources_of_any_provider() {
    let e = emu().await;
    let t = e.token("fabrikam-ci").await;
    let base = format!(
        "/subscriptions/{FABRIKAM_PROD}/resourceGroups/rg-web/providers/Contoso.Widgets/widgets/w1"
    );
    let r = e
        .call(
            "PUT",
            &format!("{base}?api-version=2024-01-01"),
            Some(&t),
            Some(json!({"location": "westeurope", "properties": {"size": 3}, "tags": {"a": "1"}})),
        )
        .await;
    // a type no generated client knows answers its create with 200 (README "Create statuses")
    assert_eq!(r.status, 200);
    assert_eq!(r.body["type"], "Contoso.Widgets/widgets");
    assert_eq!(r.body["properties"]["size"], 3);
    assert_eq!(
        r.body["systemData"]["createdBy"],
        "40000000-0000-0000-0000-000000002121"
    );
    assert_eq!(r.body["systemData"]["createdByType"], "Application");
    let op = r.header("azure-asyncoperation").to_string();
    let s = e.call("GET", &op, Some(&t), None).await;
    assert_eq!(s.body["status"], "Succeeded");
    // nested child, PATCH, lists
    let child = format!("{base}/gears/g1?api-version=2024-01-01");
    assert_eq!(
        e.call("PUT", &child, Some(&t), Some(json!({})))
            .await
            .status,
        200
    );
    let r = e
        .call(
            "GET",
            &format!("{base}/gears?api-version=2024-01-01"),
            Some(&t),
            None,
        )
        .await;
    assert_eq!(r.body["value"].as_array().unwrap().len(), 1);
    let orphan = format!("/subscriptions/{FABRIKAM_PROD}/resourceGroups/rg-web/providers/Contoso.Widgets/widgets/none/gears/g1?api-version=2024-01-01");
    assert_eq!(
        e.call("PUT", &orphan, Some(&t), Some(json!({})))
            .await
            .code(),
        "ParentResourceNotFound"
    );
    let r = e
        .call(
            "PATCH",
            &format!("{base}?api-version=2024-01-01"),
            Some(&t),
            Some(json!({"properties": {"color": "red"}, "tags": {"b": "2"}})),
        )
        .await;
    assert_eq!(r.body["properties"]["size"], 3);
    assert_eq!(r.body["properties"]["color"], "red");
    assert_eq!(r.body["tags"], json!({"b": "2"}));
    let r = e.call("GET", &format!("/subscriptions/{FABRIKAM_PROD}/resourceGroups/rg-web/resources?api-version=2025-04-01"), Some(&t), None).await;
    let names: Vec<&str> = r.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"w1") && names.contains(&"vm-web-01") && !names.contains(&"g1"),
        "{names:?}"
    );
    let r = e.call("GET", &format!("/subscriptions/{FABRIKAM_PROD}/resources?api-version=2025-04-01&$filter=resourceType eq 'Microsoft.Network/virtualNetworks'"), Some(&t), None).await;
    assert_eq!(r.body["value"].as_array().unwrap().len(), 1);
    let r = e.call("GET", &format!("/subscriptions/{FABRIKAM_PROD}/providers/Contoso.Widgets/widgets?api-version=2024-01-01"), Some(&t), None).await;
    assert_eq!(r.body["value"].as_array().unwrap().len(), 1);
    let r = e.call("POST", &format!("/subscriptions/{FABRIKAM_PROD}/resourceGroups/rg-data/providers/Microsoft.Storage/storageAccounts/fabrikamdata/listKeys?api-version=2023-05-01"), Some(&t), None).await;
    assert_eq!(r.status, 200);
    assert!(r.body["keys"].is_array());
    assert_eq!(
        e.call(
            "DELETE",
            &format!("{base}?api-version=2024-01-01"),
            Some(&t),
            None
        )
        .await
        .status,
        200
    );
    assert_eq!(
        e.call(
            "DELETE",
            &format!("{base}?api-version=2024-01-01"),
            Some(&t),
            None
        )
        .await
        .status,
        204
    );
    assert_eq!(e.call("GET", &child, Some(&t), None).await.status, 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn role_assignments_and_definitions() {
    let e = emu().await;
    let admin = e.token("admin@fabrikam").await;
    let reader_oid = "30000000-0000-0000-0000-000000002112";
    let rg = format!("/subscriptions/{FABRIKAM_PROD}/resourcegroups/rg-ra?api-version=2024-11-01");
    assert_eq!(
        e.call(
            "PUT",
            &rg,
            Some(&admin),
            Some(json!({"location": "westeurope"}))
        )
        .await
        .status,
        201
    );
    let scope = format!("/subscriptions/{FABRIKAM_PROD}/resourceGroups/rg-ra");
    let contributor = format!("/subscriptions/{FABRIKAM_PROD}/providers/Microsoft.Authorization/roleDefinitions/b24988ac-6180-42a0-ab88-20f7382dd24c");
    let ra = format!("{scope}/providers/Microsoft.Authorization/roleAssignments/aaaaaaaa-0000-0000-0000-000000000001?api-version=2022-04-01");
    let body = json!({"properties": {"roleDefinitionId": contributor, "principalId": reader_oid}});
    let r = e.call("PUT", &ra, Some(&admin), Some(body.clone())).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["properties"]["scope"], scope);
    assert_eq!(r.body["properties"]["principalType"], "User");
    assert_eq!(
        e.call("PUT", &ra, Some(&admin), Some(body.clone()))
            .await
            .status,
        201,
        "idempotent"
    );
    let dup = ra.replace(
        "aaaaaaaa-0000-0000-0000-000000000001",
        "aaaaaaaa-0000-0000-0000-000000000002",
    );
    assert_eq!(
        e.call("PUT", &dup, Some(&admin), Some(body.clone()))
            .await
            .code(),
        "RoleAssignmentExists"
    );
    let ghost = json!({"properties": {"roleDefinitionId": contributor, "principalId": "30000000-0000-0000-0000-0000000099ff"}});
    assert_eq!(
        e.call("PUT", &dup, Some(&admin), Some(ghost)).await.code(),
        "PrincipalNotFound"
    );
    let foreign = json!({"properties": {"roleDefinitionId": contributor, "principalId": "30000000-0000-0000-0000-000000001111"}});
    assert_eq!(
        e.call("PUT", &dup, Some(&admin), Some(foreign))
            .await
            .code(),
        "PrincipalNotFound",
        "alice is not in Fabrikam's directory"
    );
    let bad = json!({"properties": {"roleDefinitionId": contributor.replace("b24988ac", "b24988ff"), "principalId": reader_oid}});
    assert_eq!(
        e.call("PUT", &dup, Some(&admin), Some(bad)).await.code(),
        "RoleDefinitionDoesNotExist"
    );
    // the grant works at once: reader@fabrikam can now write in rg-ra
    let reader = e.token("reader@fabrikam").await;
    let v = format!("{scope}/providers/Microsoft.Network/virtualNetworks/v?api-version=2023-09-01");
    assert_eq!(
        e.call(
            "PUT",
            &v,
            Some(&reader),
            Some(json!({"location": "westeurope"}))
        )
        .await
        .status,
        201
    );
    // lists and filters
    let list = |f: &str| {
        format!(
            "{scope}/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01{f}"
        )
    };
    let r = e
        .call("GET", &list("&$filter=atScope()"), Some(&admin), None)
        .await;
    let n_at = r.body["value"].as_array().unwrap().len();
    assert!(
        n_at >= 4,
        "sub-level assignments are above the group: {n_at}"
    );
    let r = e
        .call(
            "GET",
            &list(&format!("&$filter=principalId eq '{reader_oid}'")),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(r.body["value"].as_array().unwrap().len(), 3, "{}", r.body);
    assert_eq!(
        e.call("GET", &list("&$filter=bogus()"), Some(&admin), None)
            .await
            .code(),
        "InvalidFilter"
    );
    // delegated authorizations never show up as role assignments
    let all = e.call("GET", &format!("/subscriptions/{FABRIKAM_PROD}/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01"), Some(&admin), None).await;
    assert!(all.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .all(|a| !a["properties"]["principalId"]
            .as_str()
            .unwrap()
            .starts_with("30000000-0000-0000-0000-0000000011")));
    // delete, then the grant is gone
    assert_eq!(e.call("DELETE", &ra, Some(&admin), None).await.status, 200);
    assert_eq!(e.call("DELETE", &ra, Some(&admin), None).await.status, 204);
    assert_eq!(
        e.call("GET", &ra, Some(&admin), None).await.code(),
        "RoleAssignmentNotFound"
    );
    let v2 = v.replace("/v?", "/v2?");
    assert_eq!(
        e.call(
            "PUT",
            &v2,
            Some(&reader),
            Some(json!({"location": "westeurope"}))
        )
        .await
        .code(),
        "AuthorizationFailed"
    );
    // role definitions
    let r = e.call("GET", &format!("/subscriptions/{FABRIKAM_PROD}/providers/Microsoft.Authorization/roleDefinitions?api-version=2022-04-01&$filter=roleName eq 'Reader'"), Some(&admin), None).await;
    assert_eq!(
        r.body["value"][0]["name"],
        "acdd72a7-3385-48ef-bd42-f606fba81ae7"
    );
    let r = e
        .call(
            "GET",
            "/providers/Microsoft.Authorization/roleDefinitions?api-version=2022-04-01",
            Some(&reader),
            None,
        )
        .await;
    assert_eq!(r.body["value"].as_array().unwrap().len(), 928);
    let r = e.call("GET", &format!("/subscriptions/{FABRIKAM_PROD}/providers/Microsoft.Authorization/roleDefinitions/8e3af657-a8ff-443c-a75c-2fe8c4bcb635?api-version=2015-07-01"), Some(&admin), None).await;
    assert_eq!(r.body["properties"]["roleName"], "Owner");
    assert!(
        r.body["properties"]["permissions"][0]
            .get("dataActions")
            .is_none(),
        "2015-07-01 has no dataActions"
    );
    // permissions: one entry per applicable grant
    let r = e.call("GET", &format!("/subscriptions/{FABRIKAM_PROD}/resourceGroups/rg-web/providers/Microsoft.Authorization/permissions?api-version=2022-04-01"), Some(&reader), None).await;
    assert_eq!(
        r.body["value"].as_array().unwrap().len(),
        2,
        "Reader and Storage Blob Data Reader: {}",
        r.body
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn providers_metadata_and_admin() {
    let e = emu().await;
    let t = e.token("admin@fabrikam").await;
    // fabrikam-prod is onboarded, so the RP is registered there; fabrikam-dev is not
    let r = e.call("GET", &format!("/subscriptions/{FABRIKAM_PROD}/providers/Microsoft.ManagedServices?api-version=2021-04-01"), Some(&t), None).await;
    assert_eq!(r.body["registrationState"], "Registered");
    let r = e.call("GET", &format!("/subscriptions/{FABRIKAM_DEV}/providers/Microsoft.ManagedServices?api-version=2021-04-01"), Some(&t), None).await;
    assert_eq!(r.body["registrationState"], "NotRegistered");
    let r = e.call("POST", &format!("/subscriptions/{FABRIKAM_DEV}/providers/Microsoft.ManagedServices/register?api-version=2021-04-01"), Some(&t), None).await;
    assert_eq!(r.body["registrationState"], "Registered");
    let reader = e.token("reader@fabrikam").await;
    let r = e.call("POST", &format!("/subscriptions/{FABRIKAM_PROD}/providers/Microsoft.Compute/register?api-version=2021-04-01"), Some(&reader), None).await;
    assert_eq!(r.code(), "AuthorizationFailed");
    let m = e
        .call(
            "GET",
            "/metadata/endpoints?api-version=2022-09-01",
            None,
            None,
        )
        .await;
    assert_eq!(m.body["resourceManager"], format!("{}/", e.base));
    assert_eq!(m.body["authentication"]["loginEndpoint"], e.base);
    let m = e
        .call(
            "GET",
            "/metadata/endpoints?api-version=2019-05-01",
            None,
            None,
        )
        .await;
    assert!(m.body.is_array());
    assert_eq!(
        e.call("GET", "/_emulator/health", None, None).await.body["status"],
        "healthy"
    );
    let ca = e
        .client
        .get(format!("{}/_emulator/ca.pem", e.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"));
    // reset brings back the world and the real clock
    let rg = format!("/subscriptions/{FABRIKAM_PROD}/resourcegroups/rg-web?api-version=2024-11-01");
    assert_eq!(e.call("DELETE", &rg, Some(&t), None).await.status, 202);
    let r = e
        .call(
            "POST",
            "/_emulator/clock",
            None,
            Some(json!({"advance": "PT30M"})),
        )
        .await;
    assert_eq!(r.body["offsetSeconds"], 1800);
    assert_eq!(
        e.call(
            "POST",
            "/_emulator/clock",
            None,
            Some(json!({"advance": "soon"}))
        )
        .await
        .status,
        400
    );
    let r = e.call("POST", "/_emulator/reset", None, None).await;
    assert_eq!(r.status, 200);
    assert_eq!(e.call("GET", &rg, Some(&t), None).await.status, 200);
    assert_eq!(
        e.call("GET", "/_emulator/clock", None, None).await.body["offsetSeconds"],
        0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_endpoints_need_the_key_beyond_loopback() {
    let e = emu_with(|o| o.admin_key = Some("s3cret-class-key-2026".into())).await;
    assert_eq!(
        e.call("POST", "/_emulator/reset", None, None).await.status,
        401
    );
    let r = e
        .raw(
            "POST",
            "/_emulator/reset",
            &[("x-emulator-admin-key", "s3cret-class-key-2026")],
            vec![],
        )
        .await;
    assert_eq!(r.status, 200);
    let err = match lighthouse_emulator::start::start(lighthouse_emulator::start::Options {
        bind: "0.0.0.0".into(),
        ..lighthouse_emulator::start::Options::ephemeral(std::env::temp_dir())
    })
    .await
    {
        Ok(_) => panic!("must refuse"),
        Err(e) => e,
    };
    assert!(err.contains("--admin-key"));
}

#[tokio::test(flavor = "multi_thread")]
async fn authz_log_and_off_let_refused_requests_through() {
    for mode in [
        lighthouse_emulator::app::AuthzMode::Log,
        lighthouse_emulator::app::AuthzMode::Off,
    ] {
        let e = emu_with(|o| o.authz = mode).await;
        let reader = e.token("reader@fabrikam").await;
        let r = e
            .call(
                "PUT",
                &format!(
                    "/subscriptions/{FABRIKAM_PROD}/resourcegroups/rg-log?api-version=2024-11-01"
                ),
                Some(&reader),
                Some(json!({"location": "westeurope"})),
            )
            .await;
        assert_eq!(r.status, 201, "{mode:?}: {}", r.body);
        // lists are not filtered either: a resource-group delegation sees every group
        let alice = e.token("alice").await;
        let r = e
            .call(
                "GET",
                &format!("/subscriptions/{NORTHWIND_MAIN}/resourcegroups?api-version=2024-11-01"),
                Some(&alice),
                None,
            )
            .await;
        assert_eq!(
            r.body["value"].as_array().map(Vec::len),
            Some(2),
            "{mode:?}: {}",
            r.body
        );
        // authentication is still enforced
        assert_eq!(
            e.call(
                "GET",
                &format!("/subscriptions/{FABRIKAM_PROD}?api-version=2022-12-01"),
                None,
                None
            )
            .await
            .status,
            401
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_backed_store_survives_a_restart() {
    // shares the test CA and key so start-up is fast
    let dir = crate::cold_start::new_dir("persist");
    let path =
        format!("/subscriptions/{FABRIKAM_PROD}/resourcegroups/rg-persist?api-version=2024-11-01");
    {
        let e = emu_with(|o| {
            o.state_dir = dir.clone();
            o.in_memory = false;
        })
        .await;
        let t = e.token("admin@fabrikam").await;
        assert_eq!(
            e.call(
                "PUT",
                &path,
                Some(&t),
                Some(json!({"location": "westeurope"}))
            )
            .await
            .status,
            201
        );
    }
    let e = emu_with(|o| {
        o.state_dir = dir.clone();
        o.in_memory = false;
    })
    .await;
    let t = e.token("admin@fabrikam").await;
    assert_eq!(
        e.call("GET", &path, Some(&t), None).await.status,
        200,
        "the group is still there"
    );
    assert_eq!(
        e.call("POST", "/_emulator/reset", None, None).await.status,
        200
    );
    assert_eq!(
        e.call("GET", &path, Some(&t), None).await.status,
        404,
        "reset goes back to the world"
    );
    assert!(dir.join("state.db").exists());
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test(flavor = "multi_thread")]
async fn provider_catalogue_name_checks_tags_and_group_export() {
    let e = emu().await;
    let t = e.token("fabrikam-ci").await;
    let dev = format!("/subscriptions/{FABRIKAM_DEV}");
    // resource types and api-versions, newest first, as `az resource` reads them
    let r = e
        .call(
            "GET",
            &format!("{dev}/providers/microsoft.network?api-version=2021-04-01"),
            Some(&t),
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["namespace"], "Microsoft.Network");
    let vnets = r.body["resourceTypes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["resourceType"] == "virtualNetworks")
        .expect("virtualNetworks");
    assert_eq!(vnets["apiVersions"][0], "2024-05-01");
    assert!(!vnets["locations"].as_array().unwrap().is_empty());
    let r = e
        .call(
            "GET",
            &format!("{dev}/providers/Microsoft.Sql?api-version=2021-04-01"),
            Some(&t),
            None,
        )
        .await;
    assert_eq!(r.body["registrationState"], "NotRegistered");
    let r = e
        .call(
            "GET",
            &format!("{dev}/providers/Contoso.Nothing?api-version=2021-04-01"),
            Some(&t),
            None,
        )
        .await;
    assert_eq!((r.status, r.code()), (404, "InvalidResourceNamespace"));
    let r = e
        .call(
            "GET",
            &format!("{dev}/providers?api-version=2021-04-01"),
            Some(&t),
            None,
        )
        .await;
    assert!(r.body["value"].as_array().unwrap().len() > 100);

    // storage names: global, checked before a create; the create answers 200 (Storage's spec has no 201)
    let check = |name: &str| json!({"name": name, "type": "Microsoft.Storage/storageAccounts"});
    let url =
        format!("{dev}/providers/Microsoft.Storage/checkNameAvailability?api-version=2023-05-01");
    let r = e.call("POST", &url, Some(&t), Some(check("stnew1"))).await;
    assert_eq!((r.status, &r.body["nameAvailable"]), (200, &json!(true)));
    let r = e.call("POST", &url, Some(&t), Some(check("St-Bad"))).await;
    assert_eq!(r.body["reason"], "AccountNameInvalid");
    let rg = format!("{dev}/resourceGroups/rg-dev");
    let r = e
        .call(
            "PUT",
            &format!("{rg}/providers/Microsoft.Storage/storageAccounts/stnew1?api-version=2023-05-01"),
            Some(&t),
            Some(json!({"location": "westeurope", "kind": "StorageV2", "sku": {"name": "Standard_LRS"}, "tags": {"team": "data"}})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = e.call("POST", &url, Some(&t), Some(check("stnew1"))).await;
    assert_eq!(
        (&r.body["nameAvailable"], &r.body["reason"]),
        (&json!(false), &json!("AlreadyExists"))
    );
    // a second create of the same name through another subscription's check: still taken
    let admin = e.token("admin@fabrikam").await;
    let other = format!("/subscriptions/{FABRIKAM_PROD}/providers/Microsoft.Storage/checkNameAvailability?api-version=2023-05-01");
    let r = e
        .call("POST", &other, Some(&admin), Some(check("stnew1")))
        .await;
    assert_eq!(r.body["nameAvailable"], false);

    // $expand adds the times and state az shows with --expand
    let r = e
        .call(
            "GET",
            &format!("{rg}/resources?api-version=2021-04-01&$expand=createdTime,changedTime,provisioningState"),
            Some(&t),
            None,
        )
        .await;
    let st = r.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "stnew1")
        .expect("stnew1 listed");
    assert!(
        st["createdTime"].is_string() && st["changedTime"].is_string(),
        "{st}"
    );
    let r = e
        .call(
            "GET",
            &format!("{rg}/resources?api-version=2021-04-01"),
            Some(&t),
            None,
        )
        .await;
    assert!(r.body["value"][0].get("createdTime").is_none());

    // tag names with counts, from groups and resources
    let r = e
        .call(
            "GET",
            &format!("{dev}/tagNames?api-version=2021-04-01"),
            Some(&t),
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    let team = r.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["tagName"] == "team")
        .expect("the team tag");
    assert_eq!(team["count"]["value"], 1);
    assert_eq!(team["values"][0]["tagValue"], "data");

    // export: the group's resources as a template, names as parameters
    let r = e
        .call(
            "POST",
            &format!("{rg}/exportTemplate?api-version=2021-04-01"),
            Some(&t),
            Some(json!({"resources": ["*"]})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let tpl = &r.body["template"];
    assert_eq!(tpl["contentVersion"], "1.0.0.0");
    let st = tpl["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["type"] == "Microsoft.Storage/storageAccounts")
        .expect("the storage account");
    assert_eq!(st["name"], "[parameters('storageAccounts_stnew1_name')]");
    assert_eq!(
        tpl["parameters"]["storageAccounts_stnew1_name"]["defaultValue"],
        "stnew1"
    );
    assert!(st.get("id").is_none() && st["properties"].get("provisioningState").is_none());
    let r = e
        .call(
            "POST",
            &format!("{rg}/exportTemplate?api-version=2021-04-01"),
            Some(&t),
            Some(json!({"resources": ["*"], "options": "SkipResourceNameParameterization"})),
        )
        .await;
    assert!(r.body["template"]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["name"] == "stnew1"));
    // a Reader may not export
    let reader = e.token("reader@fabrikam").await;
    let r = e
        .call(
            "POST",
            &format!("/subscriptions/{FABRIKAM_PROD}/resourceGroups/rg-web/exportTemplate?api-version=2021-04-01"),
            Some(&reader),
            Some(json!({"resources": ["*"]})),
        )
        .await;
    assert_eq!(r.code(), "AuthorizationFailed");
}

#[tokio::test(flavor = "multi_thread")]
async fn tags_at_scope_change_the_scope_itself() {
    let e = emu().await;
    let t = e.token("fabrikam-ci").await;
    let vnet = format!("/subscriptions/{FABRIKAM_DEV}/resourceGroups/rg-dev/providers/Microsoft.Network/virtualNetworks/vnet-dev");
    let tags = format!("{vnet}/providers/Microsoft.Resources/tags/default?api-version=2021-04-01");
    let r = e
        .call(
            "PUT",
            &tags,
            Some(&t),
            Some(json!({"properties": {"tags": {"a": "1", "b": "2"}}})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["type"], "Microsoft.Resources/tags");
    assert_eq!(
        r.body["id"],
        format!("{vnet}/providers/Microsoft.Resources/tags/default")
    );
    let got = e
        .call(
            "GET",
            &format!("{vnet}?api-version=2023-04-01"),
            Some(&t),
            None,
        )
        .await;
    assert_eq!(
        got.body["tags"],
        json!({"a": "1", "b": "2"}),
        "the resource carries them"
    );
    for (op, given, want) in [
        (
            "Merge",
            json!({"c": "3"}),
            json!({"a": "1", "b": "2", "c": "3"}),
        ),
        (
            "Delete",
            json!({"a": "1", "b": "other"}),
            json!({"b": "2", "c": "3"}),
        ),
        ("Replace", json!({"z": "9"}), json!({"z": "9"})),
    ] {
        let r = e
            .call(
                "PATCH",
                &tags,
                Some(&t),
                Some(json!({"operation": op, "properties": {"tags": given}})),
            )
            .await;
        assert_eq!(r.body["properties"]["tags"], want, "{op}");
    }
    let r = e
        .call(
            "PATCH",
            &tags,
            Some(&t),
            Some(json!({"operation": "Sort", "properties": {"tags": {}}})),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "InvalidRequestContent"));
    assert_eq!(e.call("DELETE", &tags, Some(&t), None).await.status, 200);
    let r = e.call("GET", &tags, Some(&t), None).await;
    assert_eq!(r.body["properties"]["tags"], json!({}));
    // a missing scope, and a Reader, are refused
    let missing = format!("/subscriptions/{FABRIKAM_DEV}/resourceGroups/rg-dev/providers/Microsoft.Network/virtualNetworks/nope/providers/Microsoft.Resources/tags/default?api-version=2021-04-01");
    assert_eq!(
        e.call("GET", &missing, Some(&t), None).await.code(),
        "ResourceNotFound"
    );
    let reader = e.token("reader@fabrikam").await;
    let web = format!("/subscriptions/{FABRIKAM_PROD}/resourceGroups/rg-web/providers/Microsoft.Resources/tags/default?api-version=2021-04-01");
    assert_eq!(e.call("GET", &web, Some(&reader), None).await.status, 200);
    let r = e
        .call(
            "PUT",
            &web,
            Some(&reader),
            Some(json!({"properties": {"tags": {"x": "y"}}})),
        )
        .await;
    assert_eq!(r.code(), "AuthorizationFailed");
}
