//! Sandboxes: isolated worlds in one process (`/_emulator/sandboxes`). Each is an `App` forked from a
//! template — the loaded world, a snapshot or another world file, loaded once — with its own store,
//! facts, clock, activity log, data plane, snapshots and reset, served on a port of its own (every
//! client reaches ARM, the token service, metadata and the data plane at a host root). The listener
//! itself is opened by the edge that built the server (`Listen`); this module only keeps the books.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::app::App;
use crate::store::{Store, StoreError};
use crate::wire::{Reply, Req};

/// A sandbox's listener, opened by the server's edge: its port and how to close it.
pub struct Listening {
    pub port: u16,
    pub close: Box<dyn FnOnce() + Send>,
}

/// Opens a listener serving the given world on a free port.
pub type Listen = Box<dyn Fn(Arc<App>) -> Result<Listening, String> + Send + Sync>;

struct Sandbox {
    app: Arc<App>,
    port: u16,
    fixtures: String,
    created: String,
    ttl: Option<String>,
    expires: Option<Instant>,
    close: Option<Box<dyn FnOnce() + Send>>,
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.app
            .retired
            .store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(close) = self.close.take() {
            close();
        }
    }
}

/// The sandboxes of one emulator, at most `max` at once.
pub struct Sandboxes {
    listen: Listen,
    max: usize,
    /// `https://{host}` without the port, as clients name the server.
    host: String,
    live: Mutex<BTreeMap<String, Sandbox>>,
    /// Worlds sandboxes start from, by what `fixtures` named: forked, never served themselves.
    templates: Mutex<BTreeMap<String, Arc<App>>>,
}

/// The default of `--max-sandboxes`.
pub const DEFAULT_MAX: usize = 200;

impl Sandboxes {
    pub fn new(listen: Listen, max: usize, host: &str) -> Sandboxes {
        Sandboxes {
            listen,
            max,
            host: host.to_string(),
            live: Mutex::default(),
            templates: Mutex::default(),
        }
    }

    fn live(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Sandbox>> {
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Drop the sandboxes whose `ttl` has run out; how many went.
    pub fn expire(&self) -> usize {
        let now = Instant::now();
        let gone: Vec<Sandbox> = {
            let mut live = self.live();
            let ids: Vec<String> = live
                .iter()
                .filter(|(_, s)| s.expires.is_some_and(|e| e <= now))
                .map(|(id, _)| id.clone())
                .collect();
            ids.iter().filter_map(|id| live.remove(id)).collect()
        };
        for s in &gone {
            tracing::info!(port = s.port, "sandbox expired");
        }
        gone.len()
    }

    pub fn len(&self) -> usize {
        self.live().len()
    }

    pub fn is_empty(&self) -> bool {
        self.live().is_empty()
    }

    /// A sandbox's world by id (for `env --sandbox` and the tests).
    pub fn get(&self, id: &str) -> Option<(Arc<App>, u16)> {
        self.live().get(id).map(|s| (s.app.clone(), s.port))
    }

    /// The world of the sandbox listening on `port` (the main port's proxy tunnels to it).
    pub fn by_port(&self, port: u16) -> Option<Arc<App>> {
        self.live()
            .values()
            .find(|s| s.port == port)
            .map(|s| s.app.clone())
    }

    fn url(&self, port: u16) -> String {
        format!("{}:{port}", self.host)
    }

    fn describe(&self, id: &str, s: &Sandbox) -> Value {
        let mut v = json!({
            "id": id,
            "url": self.url(s.port),
            "port": s.port,
            "fixtures": s.fixtures,
            "created": s.created,
        });
        if let (Some(ttl), Some(e)) = (&s.ttl, s.expires) {
            v["ttl"] = json!(ttl);
            v["expiresInSeconds"] = json!(e
                .saturating_duration_since(Instant::now())
                .as_secs_f64()
                .round());
        }
        v
    }

    /// The world `fixtures` names, loaded once: none (or "default") is the emulator's own world as it
    /// was loaded; a name is one of `main`'s snapshots; anything else a world file.
    fn template(&self, main: &App, fixtures: &str) -> Result<Arc<App>, (u16, String, String)> {
        let saved = if fixtures == "default" {
            None
        } else {
            main.snapshots.get(fixtures)
        };
        // a snapshot saved again under the same name is another template
        let key = match &saved {
            Some(s) => format!("snapshot:{fixtures}@{}", s.created),
            None => fixtures.to_string(),
        };
        if let Some(t) = self
            .templates
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            return Ok(t.clone());
        }
        let failed = |e: StoreError| (500, "SandboxFailed".to_string(), e.0);
        let built = match saved {
            // a snapshot's copy already holds a loaded world: App::new derives the facts, no replay
            Some(s) => {
                let t = main
                    .sibling(s.store.copy().map_err(failed)?, main.world.directory_only())
                    .map_err(failed)?;
                // the snapshot's clock too: its sandboxes start (and reset) at that time
                t.clock
                    .advance(time::Duration::seconds(s.clock_offset_seconds));
                t
            }
            None => {
                let world = if fixtures == "default" {
                    main.world.clone()
                } else {
                    let text = std::fs::read_to_string(fixtures).map_err(|e| {
                        (
                            400,
                            "InvalidFixtures".to_string(),
                            format!("'{fixtures}' is neither a snapshot of this emulator nor a readable world file: {e}"),
                        )
                    })?;
                    crate::world::World::parse(&text).map_err(|errs| {
                        let m = errs
                            .iter()
                            .map(|e| format!("{fixtures}:{e}"))
                            .collect::<Vec<_>>()
                            .join("; ");
                        (400, "InvalidFixtures".to_string(), m)
                    })?
                };
                main.sibling(Store::open(None).map_err(failed)?, world)
                    .map_err(failed)?
            }
        };
        let t = Arc::new(built);
        self.templates
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, t.clone());
        Ok(t)
    }

    /// Create a sandbox from `fixtures` (see `template`), expiring after `ttl` when given.
    pub fn create(
        &self,
        main: &App,
        fixtures: Option<&str>,
        ttl: Option<&str>,
    ) -> Result<Value, (u16, String, String)> {
        self.expire();
        if self.len() >= self.max {
            return Err(too_many(self.max));
        }
        let expires_in = match ttl {
            None => None,
            Some(t) => match crate::clock::parse_duration(t) {
                Some(d) if d.is_positive() => {
                    Some(Duration::from_millis(d.whole_milliseconds() as u64))
                }
                _ => {
                    return Err((
                        400,
                        "InvalidDuration".into(),
                        format!("'{t}' is not an ISO 8601 duration such as PT1H."),
                    ))
                }
            },
        };
        let fixtures = fixtures.unwrap_or("default");
        let template = self.template(main, fixtures)?;
        let app = Arc::new(
            template
                .fork()
                .map_err(|e| (500, "SandboxFailed".to_string(), e.0))?,
        );
        let _ = app.origin.set(template);
        let listening =
            (self.listen)(app.clone()).map_err(|e| (500, "SandboxFailed".to_string(), e))?;
        let sandbox = Sandbox {
            app,
            port: listening.port,
            fixtures: fixtures.to_string(),
            created: crate::clock::arm_time(main.clock.now()),
            ttl: ttl.map(str::to_string),
            expires: expires_in.map(|d| Instant::now() + d),
            close: Some(listening.close),
        };
        let mut live = self.live();
        // checked again where it counts: creates running side by side never pass the limit together
        if live.len() >= self.max {
            drop(live);
            drop(sandbox);
            return Err(too_many(self.max));
        }
        let id = loop {
            let id = format!("sb-{:08x}", rand::random::<u32>());
            if !live.contains_key(&id) {
                break id;
            }
        };
        // the main world's fault rules that name this sandbox reach its requests
        let _ = sandbox
            .app
            .ops
            .upstream
            .set((id.clone(), main.ops.faults.clone()));
        let v = self.describe(&id, &sandbox);
        let port = sandbox.port;
        live.insert(id.clone(), sandbox);
        tracing::info!(sandbox = %id, port, fixtures, "sandbox created");
        Ok(v)
    }

    /// Drop a sandbox: its listener closes, its world goes when its last connection does.
    pub fn delete(&self, id: &str) -> Option<Value> {
        let gone = self.live().remove(id)?;
        Some(self.describe(id, &gone))
    }

    pub fn list(&self) -> Vec<Value> {
        self.expire();
        self.live()
            .iter()
            .map(|(id, s)| self.describe(id, s))
            .collect()
    }
}

fn too_many(max: usize) -> (u16, String, String) {
    (
        409,
        "TooManySandboxes".into(),
        format!(
            "This emulator already runs {max} sandboxes, the most --max-sandboxes allows; delete one (DELETE /_emulator/sandboxes/{{id}}) or raise the limit."
        ),
    )
}

/// What a deleted sandbox's open connections get: 404, and the connection closed (HTTP/1.1).
pub fn retired_reply() -> Reply {
    error(
        404,
        "SandboxNotFound",
        "This sandbox was deleted or has expired.",
    )
    .header("connection", "close")
}

fn error(status: u16, code: &str, message: &str) -> Reply {
    Reply::json(
        status,
        &json!({"error": {"code": code, "message": message}}),
    )
}

/// `/_emulator/sandboxes[/{id}]`: create (POST `{"fixtures"?, "ttl"?}`), list, get, delete.
pub fn handle(app: &App, req: &Req) -> Reply {
    let Some(boxes) = app.sandboxes.get() else {
        return error(
            404,
            "NotFound",
            "Sandboxes are created on the main emulator, not inside a sandbox.",
        );
    };
    let path = req.path.trim_end_matches('/');
    let rest: Vec<&str> = path.split('/').skip(3).collect();
    match (req.method.as_str(), rest.as_slice()) {
        ("GET", []) => Reply::json(200, &json!({"value": boxes.list()})),
        ("POST", []) => {
            let body: Value = if req.body.iter().all(u8::is_ascii_whitespace) {
                json!({})
            } else {
                match serde_json::from_slice(&req.body) {
                    Ok(v) => v,
                    Err(e) => {
                        return error(
                            400,
                            "InvalidRequestContent",
                            &format!("The body is not JSON: {e}"),
                        )
                    }
                }
            };
            let started = Instant::now();
            match boxes.create(app, body["fixtures"].as_str(), body["ttl"].as_str()) {
                Ok(mut v) => {
                    v["elapsedMs"] = json!(started.elapsed().as_secs_f64() * 1000.0);
                    Reply::json(201, &v)
                }
                Err((status, code, message)) => error(status, &code, &message),
            }
        }
        ("GET", [id]) => {
            boxes.expire();
            match boxes.live().get(*id) {
                Some(s) => Reply::json(200, &boxes.describe(id, s)),
                None => not_found(id),
            }
        }
        ("DELETE", [id]) => match boxes.delete(id) {
            Some(v) => Reply::json(200, &v),
            None => not_found(id),
        },
        _ => error(
            404,
            "NotFound",
            &format!("No emulator endpoint {} {}.", req.method, req.path),
        ),
    }
}

fn not_found(id: &str) -> Reply {
    error(
        404,
        "SandboxNotFound",
        &format!("There is no sandbox '{id}' (it may have expired)."),
    )
}
