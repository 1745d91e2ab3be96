//! Snapshots of a world (the main one or a sandbox's): `POST /_emulator/snapshots {"name"}` keeps an
//! in-memory copy of the store (SQLite's backup, milliseconds), `…/{name}/restore` puts it back (and
//! rebuilds the facts and policies derived from it), `GET …/{name}` exports it as a world file with a
//! `state` section that `--fixtures` loads without a replay; `diff` compares two world files. Never
//! touches the network; the `snapshot diff` subcommand fetches exports through `client`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use base64::Engine;
use serde_json::{json, Value};

use crate::app::App;
use crate::store::{SecretRow, Store, StoreError, Stored};
use crate::wire::{Reply, Req};
use crate::world::{Principal, Subscription, Tenant, World};
use crate::world_state::{
    StateBlob, StateContainer, StateLogRow, StateResource, StateSecret, WorldState,
};

/// One saved state: a copy of the store and the clock's offset when it was taken.
pub struct Saved {
    pub store: Store,
    pub clock_offset_seconds: i64,
    pub created: String,
}

/// The snapshots of one world, by name.
#[derive(Default)]
pub struct Snapshots {
    saved: Mutex<BTreeMap<String, Arc<Saved>>>,
}

impl Snapshots {
    pub fn get(&self, name: &str) -> Option<Arc<Saved>> {
        self.lock().get(name).cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Arc<Saved>>> {
        self.saved.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn clear(&self) {
        self.lock().clear();
    }
}

/// The name rule of a snapshot: 1–64 letters, digits, `-`, `_` and `.` (it goes in a URL path).
pub fn is_name(n: &str) -> bool {
    (1..=64).contains(&n.len())
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

/// Save `app`'s state under `name` (replacing a snapshot of that name).
pub fn save(app: &App, name: &str) -> Result<Arc<Saved>, StoreError> {
    let saved = Arc::new(Saved {
        store: app.store.copy()?,
        clock_offset_seconds: app.clock.offset_seconds(),
        created: crate::clock::arm_time(app.clock.now()),
    });
    app.snapshots.lock().insert(name.to_string(), saved.clone());
    Ok(saved)
}

/// Put a saved state back into `app`: the store's rows, the clock, and what is derived from them.
pub fn restore(app: &App, saved: &Saved) -> Result<(), StoreError> {
    restore_store(app, &saved.store, saved.clock_offset_seconds)
}

/// Put a copy of `from`'s rows into `app` with the clock at `offset_seconds` (a sandbox's reset too).
pub fn restore_store(app: &App, from: &Store, offset_seconds: i64) -> Result<(), StoreError> {
    app.store.restore_from(from)?;
    app.clock.reset();
    app.clock.advance(time::Duration::seconds(offset_seconds));
    app.graph_quota.clear();
    app.refresh_policies()?;
    app.refresh()
}

/// The state of `store` as a world file: the directory as `tenants`, `principals` and `subscriptions`
/// (sorted by id), no `requests`, and every row in `state` (sorted by key), pretty-printed with a final
/// newline — so that two exports diff line by line and export → load → export is byte-identical.
pub fn export(store: &Store) -> Result<String, StoreError> {
    let world = store.read(to_world)?;
    let mut text = serde_json::to_string_pretty(&world)?;
    text.push('\n');
    Ok(text)
}

fn parse_all<T: serde::de::DeserializeOwned>(v: Vec<Value>) -> Result<Vec<T>, StoreError> {
    v.into_iter()
        .map(|x| serde_json::from_value(x).map_err(StoreError::from))
        .collect()
}

fn to_world(tx: &crate::store::Tx) -> Result<World, StoreError> {
    let mut tenants: Vec<Tenant> = parse_all(tx.directory("tenant")?)?;
    tenants.sort_by_key(|t| t.id.to_lowercase());
    let mut principals: Vec<Principal> = parse_all(tx.directory("principal")?)?;
    principals.sort_by_key(|p| p.object_id.to_lowercase());
    let mut subscriptions: Vec<Subscription> = parse_all(tx.directory("subscription")?)?;
    subscriptions.sort_by_key(|s| s.subscription_id.to_lowercase());
    let resources = tx
        .all_resources()?
        .into_iter()
        .map(|(r, owner)| StateResource {
            id: r.key,
            rtype: r.rtype,
            subscription: r.sub,
            resource_group: r.rg,
            parent: r.parent,
            owner,
            body: r.body,
        })
        .collect();
    let meta = tx
        .all_meta()?
        .into_iter()
        .filter(|(k, _)| k != "world_loaded")
        .collect();
    let containers = tx
        .all_containers()?
        .into_iter()
        .map(|(account, name, body)| StateContainer {
            account,
            name,
            body,
        })
        .collect();
    let blobs = tx
        .all_blobs()?
        .into_iter()
        .map(|(account, container, b)| {
            let bytes = b.content.unwrap_or_default();
            let (content, base64) = match String::from_utf8(bytes) {
                Ok(s) => (s, false),
                Err(e) => (
                    base64::engine::general_purpose::STANDARD.encode(e.as_bytes()),
                    true,
                ),
            };
            StateBlob {
                account,
                container,
                name: b.name,
                content,
                base64,
                body: b.body,
            }
        })
        .collect();
    let secrets = tx
        .all_secrets()?
        .into_iter()
        .map(|(vault, s)| StateSecret {
            vault,
            name: s.name,
            version: s.version,
            body: s.body,
            deleted: s.deleted,
        })
        .collect();
    let log_rows = tx
        .all_log_rows()?
        .into_iter()
        .map(|(workspace, table, time_generated, body)| StateLogRow {
            workspace,
            table,
            time_generated,
            body,
        })
        .collect();
    Ok(World {
        comment: Some(
            "A lighthouse-emulator snapshot: the directory and the store's rows as they were. Load it with --fixtures; compare two with `lighthouse-emulator snapshot diff`.".into(),
        ),
        tenants,
        principals,
        subscriptions,
        requests: Vec::new(),
        data: Default::default(),
        state: Some(WorldState {
            resources,
            meta,
            containers,
            blobs,
            secrets,
            log_rows,
        }),
    })
}

/// Write a world file's `state` rows into the store as they are (one transaction), after its
/// directory, requests and data are loaded.
pub fn load_state(store: &Store, state: &WorldState) -> Result<(), StoreError> {
    store.write(|tx| -> Result<(), StoreError> {
        for r in &state.resources {
            tx.put(&Stored {
                key: r.id.clone(),
                rtype: r.rtype.clone(),
                sub: r.subscription.clone(),
                rg: r.resource_group.clone(),
                parent: r.parent.clone(),
                body: r.body.clone(),
            })?;
            if !r.owner.is_empty() {
                tx.set_owner(&r.id, &r.owner)?;
            }
        }
        for (k, v) in &state.meta {
            tx.set_meta(k, v)?;
        }
        for c in &state.containers {
            tx.put_container(&c.account, &c.name, &c.body)?;
        }
        for b in &state.blobs {
            let content = if b.base64 {
                base64::engine::general_purpose::STANDARD
                    .decode(&b.content)
                    .map_err(|e| StoreError(format!("blob '{}': base64: {e}", b.name)))?
            } else {
                b.content.clone().into_bytes()
            };
            tx.put_blob(&b.account, &b.container, &b.name, &content, &b.body)?;
        }
        for s in &state.secrets {
            tx.put_secret_raw(
                &s.vault,
                &SecretRow {
                    name: s.name.clone(),
                    version: s.version.clone(),
                    body: s.body.clone(),
                    deleted: s.deleted.clone(),
                },
            )?;
        }
        for l in &state.log_rows {
            tx.append_log_row(&l.workspace, &l.table, &l.time_generated, &l.body)?;
        }
        Ok(())
    })
}

// --- diff ---

/// What a resource row is, for the diff: grants, delegations and locks by their types.
fn kind_of(rtype: &str) -> &'static str {
    match rtype {
        "microsoft.authorization/roleassignments" => "grant",
        "microsoft.authorization/denyassignments" => "deny",
        "microsoft.managedservices/registrationdefinitions"
        | "microsoft.managedservices/registrationassignments" => "delegation",
        "microsoft.authorization/locks" => "lock",
        _ => "resource",
    }
}

/// The top-level JSON paths (two levels deep) where `a` and `b` differ.
fn changed_paths(a: &Value, b: &Value, prefix: &str, depth: usize, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) if depth < 2 => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                match (x.get(k), y.get(k)) {
                    (Some(p), Some(q)) => changed_paths(p, q, &path, depth + 1, out),
                    _ => out.push(path),
                }
            }
        }
        _ if a != b => out.push(if prefix.is_empty() {
            "(value)".into()
        } else {
            prefix.into()
        }),
        _ => {}
    }
}

/// Every entry of a world keyed by (kind, id) with its value, for the diff.
fn entries(w: &World) -> BTreeMap<(String, String), Value> {
    let mut m = BTreeMap::new();
    let mut add = |kind: &str, id: String, v: Value| {
        m.insert((kind.to_string(), id), v);
    };
    for t in &w.tenants {
        add("tenant", t.id.to_lowercase(), json!(t));
    }
    for p in &w.principals {
        add("principal", p.object_id.to_lowercase(), json!(p));
    }
    for s in &w.subscriptions {
        add("subscription", s.subscription_id.to_lowercase(), json!(s));
    }
    for r in &w.requests {
        add(
            "request",
            format!("{} {}", r.method.to_uppercase(), r.id.to_lowercase()),
            json!(r),
        );
    }
    for c in &w.data.containers {
        add("container", format!("{}/{}", c.account, c.name), json!(c));
    }
    for b in &w.data.blobs {
        add(
            "blob",
            format!("{}/{}/{}", b.account, b.container, b.name),
            json!(b),
        );
    }
    for s in &w.data.secrets {
        add("secret", format!("{}/{}", s.vault, s.name), json!(s));
    }
    if let Some(st) = &w.state {
        for r in &st.resources {
            add(kind_of(&r.rtype), r.id.clone(), json!(r));
        }
        for (k, v) in &st.meta {
            add("meta", k.clone(), json!(v));
        }
        for c in &st.containers {
            add("container", format!("{}/{}", c.account, c.name), json!(c));
        }
        for b in &st.blobs {
            add(
                "blob",
                format!("{}/{}/{}", b.account, b.container, b.name),
                json!(b),
            );
        }
        for s in &st.secrets {
            add(
                "secret",
                format!("{}/secrets/{}/{}", s.vault, s.name, s.version),
                json!(s),
            );
        }
        // log rows have no identity: counted per workspace and table
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        for l in &st.log_rows {
            *counts
                .entry(format!("{}/{}", l.workspace, l.table))
                .or_default() += 1;
        }
        for (k, n) in counts {
            add("log rows", k, json!(n));
        }
    }
    m
}

/// What changed from `a` to `b`, one line per entry: `+ kind id` (added), `- kind id` (removed),
/// `~ kind id (paths)` (changed), in kind and id order. Empty when they hold the same.
pub fn diff(a: &World, b: &World) -> Vec<String> {
    let (x, y) = (entries(a), entries(b));
    let mut out = Vec::new();
    let keys: std::collections::BTreeSet<&(String, String)> = x.keys().chain(y.keys()).collect();
    for k in keys {
        let (kind, id) = k;
        match (x.get(k), y.get(k)) {
            (None, Some(_)) => out.push(format!("+ {kind} {id}")),
            (Some(_), None) => out.push(format!("- {kind} {id}")),
            (Some(p), Some(q)) if p != q => {
                let mut paths = Vec::new();
                let (p, q) = match (p.get("body"), q.get("body")) {
                    (Some(pb), Some(qb)) if p.get("id").is_some() => (pb, qb),
                    _ => (p, q),
                };
                changed_paths(p, q, "", 0, &mut paths);
                out.push(format!("~ {kind} {id} ({})", paths.join(", ")));
            }
            _ => {}
        }
    }
    out
}

// --- the admin endpoint ---

fn error(status: u16, code: &str, message: &str) -> Reply {
    Reply::json(
        status,
        &json!({"error": {"code": code, "message": message}}),
    )
}

fn describe(name: &str, s: &Saved) -> Value {
    json!({"name": name, "created": s.created, "sizeBytes": s.store.size_bytes().unwrap_or(-1)})
}

/// `/_emulator/snapshots[/{name}[/restore]]`: list, save, export, restore, delete.
pub fn handle(app: &App, req: &Req) -> Reply {
    let path = req.path.trim_end_matches('/');
    let rest: Vec<&str> = path
        .split('/')
        .skip(3) // "", "_emulator", "snapshots"
        .collect();
    match (req.method.as_str(), rest.as_slice()) {
        ("GET", []) => {
            let list: Vec<Value> = app
                .snapshots
                .lock()
                .iter()
                .map(|(n, s)| describe(n, s))
                .collect();
            Reply::json(200, &json!({"value": list}))
        }
        ("POST", []) => {
            let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
            let Some(name) = body["name"].as_str() else {
                return error(
                    400,
                    "InvalidRequestContent",
                    "Send {\"name\": \"before-test\"}.",
                );
            };
            if !is_name(name) {
                return error(
                    400,
                    "InvalidSnapshotName",
                    &format!("'{name}' is not a snapshot name: 1 to 64 letters, digits, '-', '_' or '.'."),
                );
            }
            let started = std::time::Instant::now();
            match save(app, name) {
                Ok(s) => {
                    let mut v = describe(name, &s);
                    v["elapsedMs"] = json!(started.elapsed().as_secs_f64() * 1000.0);
                    Reply::json(201, &v)
                }
                Err(e) => error(500, "SnapshotFailed", &e.0),
            }
        }
        (method, [name, tail @ ..]) => {
            let Some(saved) = app.snapshots.get(name) else {
                return error(
                    404,
                    "SnapshotNotFound",
                    &format!("There is no snapshot named '{name}'."),
                );
            };
            match (method, tail) {
                ("GET", []) => match export(&saved.store) {
                    Ok(text) => Reply::text(200, "application/json", text),
                    Err(e) => error(500, "ExportFailed", &e.0),
                },
                ("DELETE", []) => {
                    app.snapshots.lock().remove(*name);
                    Reply::json(200, &describe(name, &saved))
                }
                ("POST", ["restore"]) => {
                    let started = std::time::Instant::now();
                    match restore(app, &saved) {
                        Ok(()) => Reply::json(
                            200,
                            &json!({"name": name, "status": "restored", "elapsedMs": started.elapsed().as_secs_f64() * 1000.0}),
                        ),
                        Err(e) => error(500, "RestoreFailed", &e.0),
                    }
                }
                _ => error(
                    404,
                    "NotFound",
                    &format!("No emulator endpoint {} {}.", req.method, req.path),
                ),
            }
        }
        _ => error(
            404,
            "NotFound",
            &format!("No emulator endpoint {} {}.", req.method, req.path),
        ),
    }
}
