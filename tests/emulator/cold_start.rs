//! Cold start on disk: a fresh state dir gets the whole world (replayed in memory, copied into
//! state.db in one transaction), and a state dir whose first load was cut short — a partial world
//! without the `world_loaded` marker, or a process killed at any moment of its first start — is
//! loaded again by the next start.

use crate::*;
use lighthouse_emulator::store::{Store, Stored};
use serde_json::json;
use std::path::{Path, PathBuf};

/// A new state dir with the tests' CA and signing key (so start-up skips generating them).
pub(crate) fn new_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lhe-cold-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for f in [
        "ca.pem",
        "ca-key.pem",
        "server.pem",
        "server-key.pem",
        "server-names.txt",
        "signing-key.pem",
    ] {
        let _ = std::fs::copy(crate::state_dir().join(f), dir.join(f));
    }
    dir
}

async fn on_disk(dir: &Path) -> Emu {
    let dir = dir.to_path_buf();
    emu_with(|o| {
        o.state_dir = dir;
        o.in_memory = false;
    })
    .await
}

async fn resources(e: &Emu) -> i64 {
    let r = e.call("GET", "/_emulator/health", None, None).await;
    assert_eq!(r.status, 200);
    r.body["resources"].as_i64().unwrap()
}

/// What a first start must answer: a token, the group `rg-web`, and the world's resource count.
async fn serves_the_world(e: &Emu, expected: i64) {
    let t = e.token("fabrikam-ci").await;
    let rg = format!("/subscriptions/{FABRIKAM_PROD}/resourceGroups/rg-web?api-version=2024-11-01");
    assert_eq!(e.call("GET", &rg, Some(&t), None).await.status, 200);
    assert_eq!(
        resources(e).await,
        expected,
        "the whole world, nothing else"
    );
    let marker = e.app.store.read(|tx| tx.meta("world_loaded")).unwrap();
    assert_eq!(marker.as_deref(), Some("1"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fresh_state_dir_on_disk_holds_the_same_world_as_memory() {
    let expected = resources(&emu().await).await;
    let dir = new_dir("fresh");
    {
        let e = on_disk(&dir).await;
        serves_the_world(&e, expected).await;
        // a write after the load lands in the file and survives the restart below
        let t = e.token("admin@fabrikam").await;
        let path = format!(
            "/subscriptions/{FABRIKAM_PROD}/resourcegroups/rg-after?api-version=2024-11-01"
        );
        let r = e
            .call(
                "PUT",
                &path,
                Some(&t),
                Some(json!({"location": "westeurope"})),
            )
            .await;
        assert_eq!(r.status, 201);
    }
    let e = on_disk(&dir).await;
    assert_eq!(resources(&e).await, expected + 1, "loaded once, then kept");
    // the facts copied with the rows: a delegated caller is authorized as in memory
    let t = e.token("alice").await;
    let vm = format!("/subscriptions/{FABRIKAM_PROD}/resourceGroups/rg-web/providers/Microsoft.Compute/virtualMachines/vm-web-01?api-version=2024-07-01");
    assert_eq!(e.call("GET", &vm, Some(&t), None).await.status, 200);
    // reset on disk goes through memory too
    assert_eq!(
        e.call("POST", "/_emulator/reset", None, None).await.status,
        200
    );
    serves_the_world(&e, expected).await;
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_partial_world_without_the_marker_is_loaded_again() {
    let expected = resources(&emu().await).await;
    let dir = new_dir("partial");
    {
        // what a first load cut short leaves: the schema, some directory rows and resources, and a
        // stray row the world does not have — but no `world_loaded` marker
        let store = Store::open(Some(&dir.join("state.db"))).unwrap();
        store
            .write(|tx| {
                tx.put_directory(
                    "tenant",
                    "10000000-0000-0000-0000-000000000002",
                    &json!({"id": "10000000-0000-0000-0000-000000000002", "displayName": "partial"}),
                )?;
                let key = format!("/subscriptions/{FABRIKAM_PROD}/resourcegroups/rg-half-loaded");
                tx.put(&Stored {
                    key: key.clone(),
                    rtype: "microsoft.resources/resourcegroups".into(),
                    sub: FABRIKAM_PROD.into(),
                    rg: "rg-half-loaded".into(),
                    parent: format!("/subscriptions/{FABRIKAM_PROD}"),
                    body: json!({"id": key, "name": "rg-half-loaded", "location": "westeurope"}),
                })
            })
            .unwrap();
        assert_eq!(store.read(|tx| tx.meta("world_loaded")).unwrap(), None);
    }
    let e = on_disk(&dir).await;
    serves_the_world(&e, expected).await;
    let t = e.token("admin@fabrikam").await;
    let stray = format!(
        "/subscriptions/{FABRIKAM_PROD}/resourceGroups/rg-half-loaded?api-version=2024-11-01"
    );
    assert_eq!(e.call("GET", &stray, Some(&t), None).await.status, 404);
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test(flavor = "multi_thread")]
async fn an_empty_state_db_file_is_loaded() {
    let expected = resources(&emu().await).await;
    let dir = new_dir("empty-file");
    std::fs::write(dir.join("state.db"), b"").unwrap();
    let e = on_disk(&dir).await;
    serves_the_world(&e, expected).await;
    std::fs::remove_dir_all(&dir).ok();
}

/// The real thing: the binary killed (SIGKILL) at several moments of its first start on a fresh
/// state dir — before, during and after the load — and each dir then started again in-process. Where
/// the kill lands varies from run to run; whatever it was, the next start serves the whole world.
#[tokio::test(flavor = "multi_thread")]
async fn a_first_start_killed_at_any_moment_is_loaded_again() {
    let expected = resources(&emu().await).await;
    let bin = env!("CARGO_BIN_EXE_lighthouse-emulator");
    for (i, delay_ms) in [0u64, 5, 20, 60, 150, 400].into_iter().enumerate() {
        let dir = new_dir(&format!("killed-{i}"));
        let mut child = std::process::Command::new(bin)
            .args([
                "serve",
                "--port",
                "0",
                "--userrealm-port",
                "0",
                "--state-dir",
            ])
            .arg(&dir)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(delay_ms)).await;
        child.kill().unwrap();
        child.wait().unwrap();
        let e = on_disk(&dir).await;
        serves_the_world(&e, expected).await;
        std::fs::remove_dir_all(&dir).ok();
    }
}
