//! In-process worlds for the model tests (`graph_model`, `policy_model`): an `App` over a world
//! built in memory, and requests through the real pipeline (`dispatch::handle`) without TLS or a
//! socket. Shared by `#[path]` includes; never used by the server tests (they go over TLS).

use std::sync::OnceLock;

use lighthouse_emulator::app::{App, AuthzMode, Config};
use lighthouse_emulator::dispatch;
use lighthouse_emulator::store::Store;
use lighthouse_emulator::wire::Req;
use lighthouse_emulator::world::World;
use serde_json::Value;

/// One state dir (the signing key) for every case of this test binary.
fn state_dir() -> std::path::PathBuf {
    static DIR: OnceLock<std::path::PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("lhe-model-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        lighthouse_emulator::auth::keys::SigningKey::load_or_create(&d).unwrap();
        d
    })
    .clone()
}

/// The world loaded into an in-memory store, enforcing RBAC as the server does.
pub fn app(world: World) -> Result<App, String> {
    let key = lighthouse_emulator::auth::keys::SigningKey::load_or_create(&state_dir())
        .map_err(|e| e.to_string())?;
    let store = Store::open(None).map_err(|e| e.to_string())?;
    let config = Config {
        token_lifetime: 3600,
        authz: AuthzMode::Enforce,
        admin_key: None,
        max_body: 4 * 1024 * 1024,
        max_authorizations: 20,
        ca_pem: String::new(),
        graph_quota: false,
    };
    App::new(store, key, world, config, dispatch::arm_as).map_err(|e| e.to_string())
}

/// One request through the pipeline: its status and JSON body (`Null` when not JSON).
pub fn call(
    app: &App,
    method: &str,
    path: &str,
    api: &str,
    token: Option<&str>,
    body: &Value,
) -> (u16, Value) {
    let mut headers = vec![("content-type".to_string(), "application/json".to_string())];
    if let Some(t) = token {
        headers.push(("authorization".into(), format!("Bearer {t}")));
    }
    let query = format!("api-version={api}");
    let req = Req {
        method: method.into(),
        path: path.into(),
        query: Req::parse_query(&query),
        raw_query: query,
        headers,
        body: if body.is_null() {
            vec![]
        } else {
            serde_json::to_vec(body).unwrap()
        },
        host: "localhost".into(),
        port: 443,
    };
    let reply = dispatch::handle(app, &req);
    (
        reply.status,
        serde_json::from_slice(&reply.body).unwrap_or(Value::Null),
    )
}

/// An access token for `principal` from the world's token service (`/_emulator/token`).
pub fn token(app: &App, principal: &str) -> Result<String, String> {
    let (status, tok) = call(
        app,
        "POST",
        "/_emulator/token",
        "",
        None,
        &serde_json::json!({ "principal": principal }),
    );
    match tok["accessToken"].as_str() {
        Some(t) if status == 200 => Ok(t.to_string()),
        _ => Err(format!("token for {principal}: {status} {tok}")),
    }
}
