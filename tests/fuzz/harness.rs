//! The fuzz targets' bodies, shared by the libFuzzer targets (tests/fuzz/fuzz_targets/*.rs, under
//! `cargo +nightly fuzz`) and the regression test (tests/fuzz_regressions.rs, plain `cargo test`), so a
//! crash found by fuzzing is replayed through exactly the code that found it. Each entry takes raw
//! bytes and must return without panicking; the invariants they assert are the parsers' contracts.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::OnceLock;

use lighthouse_emulator::arm::resource_id::ResourceId;
use lighthouse_emulator::arm::route::Route;
use lighthouse_emulator::auth::keys::SigningKey;
use lighthouse_emulator::auth::token;
use lighthouse_emulator::kql;
use lighthouse_emulator::policy;
use lighthouse_emulator::template::eval::{eval_str, Context, Env, Scope, Vars};
use serde_json::{json, Value};

/// A target's body: raw bytes in, no panic out.
pub type Target = fn(&[u8]);

/// Every target, by the name of its corpus and regression directories.
pub const TARGETS: &[(&str, Target)] = &[
    ("resource_id", resource_id),
    ("route", route),
    ("token", token),
    ("body", body),
    ("template_expr", template_expr),
    ("world", world),
    ("kql", kql),
    ("policy", policy),
];

fn text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}

/// `ResourceId::parse`, and the canonical form is a fixed point: parsing it again gives the same
/// canonical text and the same comparison key.
pub fn resource_id(data: &[u8]) {
    let Some(path) = text(data) else { return };
    let Ok(id) = ResourceId::parse(path) else {
        return;
    };
    let canonical = id.canonical();
    let again = ResourceId::parse(&canonical).expect("a canonical id parses");
    assert_eq!(
        again.canonical(),
        canonical,
        "canonical({path:?}) is stable"
    );
    assert_eq!(again.key(), id.key(), "canonical({path:?}) keeps the key");
    let _ = (
        id.full_type(),
        id.name(),
        id.parent(),
        id.management_group(),
    );
    for m in ["GET", "PUT", "PATCH", "DELETE", "POST", "HEAD"] {
        let _ = id.action(m);
    }
}

/// `Route::parse` for every method, and what the pipeline asks a route next.
pub fn route(data: &[u8]) {
    let Some(path) = text(data) else { return };
    let Ok(id) = ResourceId::parse(path) else {
        return;
    };
    for m in ["GET", "PUT", "PATCH", "DELETE", "POST", "HEAD", "OPTIONS"] {
        if let Ok(r) = Route::parse(m, &id) {
            let _ = (r.family(&id), r.action(m, &id), r.is_write());
        }
    }
}

fn key() -> &'static SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| {
        SigningKey::from_pem(include_str!("fuzz-key.pem")).expect("the fuzz key loads")
    })
}

/// Token verification with a fixed key. First byte even: the rest is a token as a client sends it.
/// Odd: the rest is a claims document, signed with the key, so the checks after the signature run.
pub fn token(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let Some(s) = text(rest) else { return };
    let now = 1_800_000_000;
    let signed;
    let tok = if mode % 2 == 0 {
        s
    } else {
        let Ok(claims) = serde_json::from_str::<Value>(s) else {
            return;
        };
        signed = token::sign(key(), &claims);
        &signed
    };
    let _ = token::verify_access_token(key(), tok, now);
    let _ = token::verify_id_token(key(), tok, now);
    let _ = token::verify_refresh_token(key(), tok, now);
    let _ = token::decode_unverified::<Value>(tok);
    let _ = token::audience_from_scope(s);
}

/// A request body through the reader dispatch uses (JSON, then the bounded lenient reader).
pub fn body(data: &[u8]) {
    if let Ok(v) = lighthouse_emulator::wire::read_json_body(data) {
        let _ = lighthouse_emulator::arm::tags::check(&v);
        let _ = serde_json::to_vec(&v);
    }
}

struct FixedEnv;

impl Env for FixedEnv {
    fn reference(&self, id: &str, _: Option<&str>, _: bool) -> Result<Value, String> {
        Ok(json!({"id": id, "properties": {"a": 1}}))
    }
    fn new_guid(&self) -> String {
        "00000000-0000-0000-0000-00000000abcd".into()
    }
}

/// A template expression string (`[concat(...)]` or plain text), parsed and evaluated on a fixed scope.
pub fn template_expr(data: &[u8]) {
    let Some(s) = text(data) else { return };
    let ctx = Context {
        subscription: Some(
            json!({"id": "/subscriptions/s1", "subscriptionId": "s1", "tenantId": "t1"}),
        ),
        resource_group: Some(
            json!({"id": "/subscriptions/s1/resourceGroups/rg1", "name": "rg1", "location": "westeurope"}),
        ),
        deployment: json!({"name": "d1"}),
        tenant: json!({"tenantId": "t1"}),
        subscription_id: Some("s1".into()),
        resource_group_name: Some("rg1".into()),
        utc_now: time::macros::datetime!(2025-01-02 03:04:05 UTC),
        management_group: None,
    };
    let params = json!({"name": "Relecloud", "rgs": [{"rgName": "a"}, {"rgName": "b"}], "n": 3})
        .as_object()
        .cloned()
        .unwrap_or_default();
    let vars = Vars::new(
        json!({"v1": "[concat(variables('v2'), '!')]", "v2": "[parameters('name')]"})
            .as_object()
            .expect("an object"),
    );
    let sc = Scope {
        ctx: &ctx,
        env: &FixedEnv,
        params: &params,
        vars: Some(&vars),
        copies: vec![("loop".into(), 1)],
        in_default: false,
        allow_reference: true,
    };
    if s.len() >= 2 && s.starts_with('[') && s.ends_with(']') {
        let _ = lighthouse_emulator::template::expr::parse(s);
    }
    let _ = eval_str(s, &sc);
}

/// A world file.
pub fn world(data: &[u8]) {
    let Some(s) = text(data) else { return };
    let _ = lighthouse_emulator::world::World::parse(s);
}

struct FixedTables(HashMap<String, kql::Table>);

impl kql::Tables for FixedTables {
    fn table(&self, name: &str) -> Option<kql::Table> {
        self.0.get(&name.to_ascii_lowercase()).cloned()
    }
}

fn tables() -> &'static FixedTables {
    static T: OnceLock<FixedTables> = OnceLock::new();
    T.get_or_init(|| {
        use kql::{Type, Value as K};
        let t = kql::Table::new(
            &[
                ("name", Type::String),
                ("n", Type::Long),
                ("r", Type::Real),
                ("d", Type::Dynamic),
                ("type", Type::String),
            ],
            vec![
                vec![
                    K::str("vm1"),
                    K::Long(1),
                    K::Real(1.5),
                    K::dynamic(json!({"a": {"b": 1}, "tags": {"env": "prod"}, "arr": [1, 2]})),
                    K::str("microsoft.compute/virtualmachines"),
                ],
                vec![
                    K::str("vm2"),
                    K::Null,
                    K::Null,
                    K::dynamic(json!({"arr": []})),
                    K::str("microsoft.network/virtualnetworks"),
                ],
                vec![
                    K::str("Vm3"),
                    K::Long(-7),
                    K::Real(f64::NAN),
                    K::Null,
                    K::Null,
                ],
            ],
        );
        let mut m = HashMap::new();
        m.insert("resources".to_string(), t.clone());
        m.insert("t".to_string(), t);
        FixedTables(m)
    })
}

/// A KQL query, parsed and run over a small table (`Resources`, also `T`).
pub fn kql(data: &[u8]) {
    let Some(s) = text(data) else { return };
    let Ok(q) = kql::parse(s) else { return };
    let ctx = kql::Ctx {
        now: time::macros::datetime!(2025-01-02 03:04:05 UTC),
        default_table: Some("Resources".into()),
        seed: 7,
    };
    let _ = kql::run(&q, tables(), &ctx);
}

/// A policy definition's `properties`, parsed, its parameters defaulted, and evaluated on a fixed
/// resource.
pub fn policy(data: &[u8]) {
    let Some(s) = text(data) else { return };
    let Ok(props) = serde_json::from_str::<Value>(s) else {
        return;
    };
    let Ok(def) = policy::Definition::parse("fuzz", &props) else {
        return;
    };
    let Ok(params) = def.resolve_parameters("a1", None) else {
        return;
    };
    let mut ctx = policy::EvalContext::new(
        time::OffsetDateTime::from_unix_timestamp(1_800_000_000).expect("a time"),
    );
    ctx.subscription = Some(
        json!({"id": "/subscriptions/20000000-0000-0000-0000-000000002001",
        "subscriptionId": "20000000-0000-0000-0000-000000002001", "tenantId": "10000000-0000-0000-0000-000000000002"}),
    );
    ctx.request = json!({"apiVersion": "2023-01-01", "method": "PUT"});
    let resource = json!({
        "id": "/subscriptions/20000000-0000-0000-0000-000000002001/resourceGroups/rg1/providers/Microsoft.Storage/storageAccounts/sa1",
        "name": "sa1", "type": "Microsoft.Storage/storageAccounts", "location": "westeurope",
        "kind": "StorageV2", "sku": {"name": "Standard_LRS"}, "tags": {"env": "prod", "Cost Center": "12"},
        "properties": {"supportsHttpsTrafficOnly": false, "minimumTlsVersion": "TLS1_0",
            "networkAcls": {"defaultAction": "Allow", "ipRules": [{"value": "1.2.3.4"}]},
            "encryption": {"services": {"blob": {"enabled": true}}}}
    });
    let _ = policy::evaluate(&def, &params, &resource, &ctx);
}
