//! Snapshots: save, restore and export (`/_emulator/snapshots`); the export is a world file that
//! loads again byte-identically (default world, and after delegation, guardrail, deployment and
//! data-plane activity); `snapshots::diff` names exactly what one PUT changed.

use crate::*;
use serde_json::{json, Value};

const READER: &str = "acdd72a7-3385-48ef-bd42-f606fba81ae7";
const MSP_OPERATORS: &str = "30000000-0000-0000-0000-000000001101";

async fn save(e: &Emu, name: &str) -> Resp {
    let r = e
        .call(
            "POST",
            "/_emulator/snapshots",
            None,
            Some(json!({"name": name})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r
}

async fn export(e: &Emu, name: &str) -> String {
    let r = e
        .client
        .get(format!("{}/_emulator/snapshots/{name}", e.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.text().await.unwrap()
}

/// Load `text` with `--fixtures`, snapshot the fresh world and export it again.
async fn reexport(text: &str, tag: &str) -> String {
    let path = state_dir().join(format!("snapshot-{tag}.json"));
    std::fs::write(&path, text).unwrap();
    let w =
        lighthouse_emulator::world::World::parse(text).expect("fixtures check accepts the export");
    assert!(w.requests.is_empty() && w.state.is_some());
    let e2 = emu_with(|o| o.fixtures = Some(path.clone())).await;
    save(&e2, "again").await;
    export(&e2, "again").await
}

fn rg(sub: &str, name: &str) -> String {
    format!("/subscriptions/{sub}/resourcegroups/{name}?api-version=2024-11-01")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_default_world_exports_loads_and_exports_identically() {
    let e = emu().await;
    save(&e, "default").await;
    let first = export(&e, "default").await;
    assert!(first.ends_with("}\n"));
    assert!(first.contains("\"q3.csv\""), "blobs are exported");
    assert!(first.contains("db-password"), "secrets are exported");
    let second = reexport(&first, "default").await;
    assert!(first == second, "export → load → export differs");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_world_after_delegation_guardrail_and_deployment_activity_round_trips() {
    let e = emu().await;
    let admin = e.token("admin@fabrikam").await;
    // delegation: a definition and an assignment onboard rg-dev to Contoso
    let def_id = "50000000-0000-0000-0000-00000000e001";
    let def = format!("/subscriptions/{FABRIKAM_DEV}/providers/Microsoft.ManagedServices/registrationDefinitions/{def_id}?api-version=2022-10-01");
    let body = json!({"properties": {"registrationDefinitionName": "snap offer", "managedByTenantId": CONTOSO,
        "authorizations": [{"principalId": MSP_OPERATORS, "roleDefinitionId": READER}]}});
    assert_eq!(
        e.call("PUT", &def, Some(&admin), Some(body)).await.status,
        201
    );
    let assign = format!("/subscriptions/{FABRIKAM_DEV}/resourceGroups/rg-dev/providers/Microsoft.ManagedServices/registrationAssignments/60000000-0000-0000-0000-00000000e001?api-version=2019-06-01");
    let body = json!({"properties": {"registrationDefinitionId": format!("/subscriptions/{FABRIKAM_DEV}/providers/Microsoft.ManagedServices/registrationDefinitions/{def_id}")}});
    assert_eq!(
        e.call("PUT", &assign, Some(&admin), Some(body))
            .await
            .status,
        201
    );
    // guardrail: a lock, and a delegated write it refuses to stop
    let lock = format!("/subscriptions/{FABRIKAM_DEV}/resourceGroups/rg-dev/providers/Microsoft.Authorization/locks/keep?api-version=2020-05-01");
    let r = e
        .call(
            "PUT",
            &lock,
            Some(&admin),
            Some(json!({"properties": {"level": "CanNotDelete"}})),
        )
        .await;
    assert!(r.status == 200 || r.status == 201, "{}", r.body);
    // deployment: a storage account by template
    let template = json!({"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0", "resources": [{"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-01-01",
        "name": "snapdeploy01", "location": "westeurope", "sku": {"name": "Standard_LRS"}, "kind": "StorageV2"}]});
    let dep = format!("/subscriptions/{FABRIKAM_DEV}/resourcegroups/rg-dev/providers/Microsoft.Resources/deployments/snap?api-version=2025-04-01");
    let r = e
        .call(
            "PUT",
            &dep,
            Some(&admin),
            Some(json!({"properties": {"mode": "Incremental", "template": template}})),
        )
        .await;
    assert!(r.status == 200 || r.status == 201, "{}", r.body);
    let got = e.call("GET", &dep, Some(&admin), None).await;
    assert_eq!(
        got.body["properties"]["provisioningState"], "Succeeded",
        "{}",
        got.body
    );
    // a grant and data-plane data: fabrikam-ci gets Storage Blob Data Contributor and writes bytes
    let account = format!("/subscriptions/{FABRIKAM_PROD}/resourceGroups/rg-data/providers/Microsoft.Storage/storageAccounts/fabrikamdata");
    let grant = format!("{account}/providers/Microsoft.Authorization/roleAssignments/70000000-0000-0000-0000-00000000e001?api-version=2022-04-01");
    let body = json!({"properties": {"principalId": "30000000-0000-0000-0000-000000002121",
        "roleDefinitionId": format!("/subscriptions/{FABRIKAM_PROD}/providers/Microsoft.Authorization/roleDefinitions/ba92f5b4-2d11-453d-a403-e96b0029c9fe")}});
    assert_eq!(
        e.call("PUT", &grant, Some(&admin), Some(body)).await.status,
        201
    );
    let ci = e
        .token_for("fabrikam-ci", "https://storage.azure.com/.default")
        .await;
    let r = e
        .client
        .put(format!("{}/fabrikamdata/reports/raw.bin", e.base))
        .bearer_auth(&ci)
        .header("x-ms-version", "2026-10-06")
        .header("x-ms-blob-type", "BlockBlob")
        .body(vec![0xffu8, 0x00, 0x80, 0x7f])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    save(&e, "busy").await;
    let first = export(&e, "busy").await;
    assert!(
        first.contains("\"base64\": true"),
        "bytes that are not text go as base64"
    );
    for needle in [
        "roleassignments/70000000-0000-0000-0000-00000000e001",
        "registrationassignments/60000000-0000-0000-0000-00000000e001",
        "locks/keep",
        "snapdeploy01",
        "deployments/snap",
    ] {
        assert!(first.contains(needle), "{needle} is exported");
    }
    let second = reexport(&first, "busy").await;
    assert!(first == second, "export → load → export differs");
    // the loaded world keeps the delegation working: msp-automation reads rg-dev
    let path = state_dir().join("snapshot-busy.json");
    let e2 = emu_with(|o| o.fixtures = Some(path)).await;
    let msp = e2.token("msp-automation").await;
    assert_eq!(
        e2.call("GET", &rg(FABRIKAM_DEV, "rg-dev"), Some(&msp), None)
            .await
            .status,
        200
    );
    // and the blob comes back byte for byte
    let ci = e2
        .token_for("fabrikam-ci", "https://storage.azure.com/.default")
        .await;
    let r = e2
        .client
        .get(format!("{}/fabrikamdata/reports/raw.bin", e2.base))
        .bearer_auth(&ci)
        .header("x-ms-version", "2026-10-06")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.bytes().await.unwrap().as_ref(),
        [0xffu8, 0x00, 0x80, 0x7f]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn one_put_is_one_changed_resource_and_restore_brings_the_state_back() {
    let e = emu().await;
    let admin = e.token("admin@fabrikam").await;
    save(&e, "before").await;
    let r = e
        .call(
            "PUT",
            &rg(FABRIKAM_PROD, "rg-snapshot"),
            Some(&admin),
            Some(json!({"location": "westeurope"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    save(&e, "after").await;
    let parse = |t: &str| lighthouse_emulator::world::World::parse(t).unwrap();
    let before = export(&e, "before").await;
    let after = export(&e, "after").await;
    let lines = lighthouse_emulator::snapshots::diff(&parse(&before), &parse(&after));
    assert_eq!(
        lines,
        [format!(
            "+ resource /subscriptions/{FABRIKAM_PROD}/resourcegroups/rg-snapshot"
        )]
    );
    // a change to an existing resource is one `~` line naming what changed
    let r = e
        .call(
            "PATCH",
            &rg(FABRIKAM_PROD, "rg-snapshot"),
            Some(&admin),
            Some(json!({"tags": {"env": "test"}})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    save(&e, "tagged").await;
    let tagged = export(&e, "tagged").await;
    let lines = lighthouse_emulator::snapshots::diff(&parse(&after), &parse(&tagged));
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with("~ resource ") && lines[0].contains("tags"),
        "{lines:?}"
    );
    // restore: the group is gone, the clock comes back, the facts follow (the world's delegation works)
    e.call(
        "POST",
        "/_emulator/clock",
        None,
        Some(json!({"advance": "PT1H"})),
    )
    .await;
    let r = e
        .call("POST", "/_emulator/snapshots/before/restore", None, None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let admin = e.token("admin@fabrikam").await;
    assert_eq!(
        e.call("GET", &rg(FABRIKAM_PROD, "rg-snapshot"), Some(&admin), None)
            .await
            .status,
        404
    );
    let clock = e.call("GET", "/_emulator/clock", None, None).await;
    assert_eq!(clock.body["offsetSeconds"], 0, "{}", clock.body);
    save(&e, "restored").await;
    assert!(export(&e, "restored").await == before, "restore is exact");
    let msp = e.token("msp-automation").await;
    assert_eq!(
        e.call(
            "GET",
            &format!("/subscriptions/{FABRIKAM_PROD}/resourcegroups?api-version=2024-11-01"),
            Some(&msp),
            None
        )
        .await
        .status,
        200
    );
    // list, delete, errors
    let list = e.call("GET", "/_emulator/snapshots", None, None).await;
    let names: Vec<&str> = list.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["after", "before", "restored", "tagged"]);
    assert_eq!(
        e.call("DELETE", "/_emulator/snapshots/after", None, None)
            .await
            .status,
        200
    );
    assert_eq!(
        e.call("GET", "/_emulator/snapshots/after", None, None)
            .await
            .code(),
        "SnapshotNotFound"
    );
    let bad = e
        .call(
            "POST",
            "/_emulator/snapshots",
            None,
            Some(json!({"name": "a/b"})),
        )
        .await;
    assert_eq!((bad.status, bad.code()), (400, "InvalidSnapshotName"));
    let bad = e
        .call("POST", "/_emulator/snapshots", None, Some(json!({})))
        .await;
    assert_eq!(bad.status, 400);
    let _: Value = list.body;
}
