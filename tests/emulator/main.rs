//! Integration tests: the real server started in-process on 127.0.0.1:0 over TLS with an in-memory
//! store, driven over HTTPS as named principals of the default world. One binary, linked once.

mod activity;
mod alerts;
mod alerts_history;
mod alerts_semantics;
mod arm;
mod cold_start;
mod console;
mod dataplane;
mod delegation;
mod deployments;
mod examples;
mod faults;
mod graph;
mod guardrails;
mod hoststyle;
mod identity;
mod lifecycle;
mod loganalytics;
mod loganalytics_ingestion;
mod loganalytics_kept;
mod managementgroups;
mod metrics;
mod pim;
mod policy_aliases;
mod policy_compliance;
mod policy_effects;
mod policy_events;
mod policy_overrides;
mod policy_resources;
mod policy_states_cache;
mod policy_states_paging;
mod policy_tokens;
mod refusals;
mod resource_rules;
mod resourcegraph;
mod resourcegraph_scope;
mod sandboxes;
mod snapshots;
mod spec_fixes;
mod spec_plans;
mod spec_plans_alerts;
mod spec_plans_datacollection;
mod spec_plans_monitor;
mod spec_plans_policy;
mod spec_plans_policyinsights;
mod spec_replay;
mod throttling;
mod vm;

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use lighthouse_emulator::app::App;
use lighthouse_emulator::start::{start, Options};
use reqwest::header::HeaderMap;
use reqwest::Method;
use serde_json::Value;

pub const FABRIKAM: &str = "10000000-0000-0000-0000-000000000002";
pub const CONTOSO: &str = "10000000-0000-0000-0000-000000000001";
pub const FABRIKAM_PROD: &str = "20000000-0000-0000-0000-000000002001";
pub const FABRIKAM_DEV: &str = "20000000-0000-0000-0000-000000002002";
pub const NORTHWIND_MAIN: &str = "20000000-0000-0000-0000-000000003001";
pub const MSP_TOOLS: &str = "20000000-0000-0000-0000-000000001001";

/// One state dir (CA and signing key) shared by every test, created once.
pub fn state_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("lhe-tests-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        lighthouse_emulator::auth::keys::SigningKey::load_or_create(&d).unwrap();
        lighthouse_emulator::tls::local_ca(&d, &[]).unwrap();
        d
    })
    .clone()
}

pub struct Emu {
    pub base: String,
    pub client: reqwest::Client,
    pub app: Arc<App>,
}

pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Resp {
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

/// Credentials of the default world (../shared/default-world.md).
pub fn credentials(who: &str) -> (&'static str, &'static str, &'static str) {
    // (tenant, client id or username, secret or password)
    match who {
        "msp-automation" => (
            CONTOSO,
            "40000000-0000-0000-0000-000000001121",
            "msp-automation-secret",
        ),
        "msp-reporting" => (
            CONTOSO,
            "40000000-0000-0000-0000-000000001122",
            "msp-reporting-secret",
        ),
        "fabrikam-ci" => (
            FABRIKAM,
            "40000000-0000-0000-0000-000000002121",
            "fabrikam-ci-secret",
        ),
        "northwind-ci" => (
            "10000000-0000-0000-0000-000000000003",
            "40000000-0000-0000-0000-000000003121",
            "northwind-ci-secret",
        ),
        "alice" => (CONTOSO, "alice@contosomsp.onmicrosoft.com", "Alice-Pa55!"),
        "bob" => (CONTOSO, "bob@contosomsp.onmicrosoft.com", "Bob-Pa55!"),
        "admin@fabrikam" => (FABRIKAM, "admin@fabrikam.onmicrosoft.com", "Fabrikam-Pa55!"),
        "reader@fabrikam" => (FABRIKAM, "reader@fabrikam.onmicrosoft.com", "Reader-Pa55!"),
        "admin@northwind" => (
            "10000000-0000-0000-0000-000000000003",
            "admin@northwind.onmicrosoft.com",
            "Northwind-Pa55!",
        ),
        "admin@tailspin" => (
            "10000000-0000-0000-0000-000000000004",
            "admin@tailspin.onmicrosoft.com",
            "Tailspin-Pa55!",
        ),
        other => panic!("no credentials for {other}"),
    }
}

pub async fn emu() -> Emu {
    emu_with(|_| {}).await
}

pub async fn emu_with(f: impl FnOnce(&mut Options)) -> Emu {
    let dir = state_dir();
    let mut opts = Options::ephemeral(dir.clone());
    f(&mut opts);
    let running = start(opts).await.expect("server starts");
    let ca = reqwest::Certificate::from_pem(running.ca_pem.as_bytes()).unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(ca)
        .tls_built_in_root_certs(false)
        .use_rustls_tls()
        .build()
        .unwrap();
    Emu {
        base: format!("https://localhost:{}", running.port),
        client,
        app: running.app,
    }
}

impl Emu {
    /// A token as a real client gets it: client credentials for service principals, the password
    /// grant for users.
    pub async fn token_for(&self, who: &str, scope: &str) -> String {
        let (tenant, id, secret) = credentials(who);
        let form: Vec<(&str, &str)> = if id.contains('@') {
            vec![
                ("grant_type", "password"),
                ("client_id", "04b07795-8ddb-461a-bbee-02f9e1bf7b46"),
                ("username", id),
                ("password", secret),
                ("scope", scope),
            ]
        } else {
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", id),
                ("client_secret", secret),
                ("scope", scope),
            ]
        };
        let r = self
            .client
            .post(format!("{}/{tenant}/oauth2/v2.0/token", self.base))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "token for {who}");
        let v: Value = r.json().await.unwrap();
        v["access_token"].as_str().unwrap().to_string()
    }

    /// A user token by the password grant, for users not in `credentials`.
    pub async fn token_for_user(&self, upn: &str, password: &str, tenant: &str) -> String {
        let form = [
            ("grant_type", "password"),
            ("client_id", "04b07795-8ddb-461a-bbee-02f9e1bf7b46"),
            ("username", upn),
            ("password", password),
            ("scope", "https://management.azure.com/.default"),
        ];
        let r = self
            .client
            .post(format!("{}/{tenant}/oauth2/v2.0/token", self.base))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "token for {upn}");
        r.json::<Value>().await.unwrap()["access_token"]
            .as_str()
            .unwrap()
            .to_string()
    }

    pub async fn token(&self, who: &str) -> String {
        self.token_for(who, "https://management.azure.com/.default")
            .await
    }

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        let url = if path.starts_with("https://") {
            path.to_string()
        } else {
            format!("{}{path}", self.base)
        };
        let mut rb = self
            .client
            .request(Method::from_bytes(method.as_bytes()).unwrap(), url);
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let r = rb.send().await.unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let bytes = r.bytes().await.unwrap();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Resp {
            status,
            headers,
            body,
        }
    }

    pub async fn raw(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Resp {
        let mut rb = self.client.request(
            Method::from_bytes(method.as_bytes()).unwrap(),
            format!("{}{path}", self.base),
        );
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        let r = rb.body(body).send().await.unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let bytes = r.bytes().await.unwrap();
        Resp {
            status,
            headers,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }
}
