//! Tidy: every source file starts with a `//!` header, and the layering of the README's
//! Architecture section holds (no `use` of a forbidden module from a lower layer).

use std::fs;
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            // build output (tests/fuzz/target when cargo-fuzz runs without --target-dir) is not source
            if p.file_name().is_some_and(|n| n != "target") {
                rust_files(&p, out);
            }
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

fn rel(p: &Path) -> String {
    p.strip_prefix(env!("CARGO_MANIFEST_DIR"))
        .unwrap()
        .to_string_lossy()
        .replace('\\', "/")
}

#[test]
fn every_source_file_has_a_header() {
    let mut files = Vec::new();
    rust_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    rust_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests"),
        &mut files,
    );
    let missing: Vec<String> = files
        .iter()
        .filter(|f| !fs::read_to_string(f).unwrap().starts_with("//!"))
        .map(|f| rel(f))
        .collect();
    assert!(
        missing.is_empty(),
        "files without a //! header: {missing:?}"
    );
}

/// (files the rule covers, what they must never mention)
const RULES: &[(&[&str], &[&str])] = &[
    // pure vocabulary: no state, no HTTP stack, no clock, no random ids
    (
        &[
            "src/arm/",
            "src/authz.rs",
            "src/auth/token.rs",
            "src/wire.rs",
            "src/directory.rs",
            "src/hierarchy.rs",
            "src/hosts.rs",
            "src/world.rs",
            "src/world_gen.rs",
            "src/template/",
            "src/kql/",
            "src/policy/",
            "src/alerting.rs",
            "src/log_alerts.rs",
        ],
        &[
            "crate::store",
            "rusqlite",
            "hyper",
            "tokio",
            "crate::clock",
            "new_v4",
            "now_utc",
            "SystemTime",
            "crate::dispatch",
            "crate::providers",
        ],
    ),
    // state knows nothing of HTTP, ARM errors, routes or providers
    (
        &["src/store.rs"],
        &[
            "hyper",
            "crate::arm",
            "crate::providers",
            "crate::dispatch",
            "crate::wire",
        ],
    ),
    // behaviour returns plain values: no hyper, no tasks, no edges
    (
        &[
            "src/providers/",
            "src/dataplane/",
            "src/graph/",
            "src/auth/",
            "src/admin.rs",
            "src/facts.rs",
            "src/app.rs",
            "src/authn.rs",
            "src/explain.rs",
            "src/policy_gate.rs",
            "src/policy_tokens.rs",
            "src/monitor.rs",
        ],
        &[
            "hyper",
            "tokio::spawn",
            "crate::server",
            "crate::start",
            "crate::tls",
            "crate::client",
        ],
    ),
];

/// The edges of the README's Architecture table: the only modules that may use the pipeline
/// (`dispatch`). Everything else — state, behaviour, pure vocabulary — is below them and never does, so
/// there is no cycle between the pipeline and what it calls (a hook is handed in instead: `App`'s
/// `Replay`, `Cx.subrequest`, `RunAs`).
const EDGES: &[&str] = &[
    "src/dispatch.rs",
    "src/server.rs",
    "src/proxy.rs",
    "src/tls.rs",
    "src/start.rs",
    "src/cli.rs",
    "src/client.rs",
    "src/logsink.rs",
    "src/notify.rs",
    "src/ops.rs",
    "src/console/",
    "src/main.rs",
];

/// `word` in `line` as a name of its own: not the start of a longer identifier (Compute's
/// `hyperVGeneration` is not the `hyper` crate).
fn mentions(line: &str, word: &str) -> bool {
    line.match_indices(word).any(|(i, _)| {
        !line[i + word.len()..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
    })
}

#[test]
fn layering_holds() {
    let mut files = Vec::new();
    rust_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    let mut broken = Vec::new();
    for f in &files {
        let r = rel(f);
        let text = fs::read_to_string(f).unwrap();
        // tests inside a file may use anything
        let code = text.split("#[cfg(test)]").next().unwrap_or("");
        for (scope, forbidden) in RULES {
            if !scope.iter().any(|s| r.starts_with(s)) {
                continue;
            }
            for word in *forbidden {
                for (n, line) in code.lines().enumerate() {
                    let l = line.trim_start();
                    if l.starts_with("//") {
                        continue;
                    }
                    if mentions(l, word) {
                        broken.push(format!("{r}:{}: mentions `{word}`", n + 1));
                    }
                }
            }
        }
    }
    // nothing below the edges uses the pipeline
    for f in &files {
        let r = rel(f);
        if EDGES
            .iter()
            .any(|e| r == *e || (e.ends_with('/') && r.starts_with(e)))
        {
            continue;
        }
        let text = fs::read_to_string(f).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap_or("");
        for (n, line) in code.lines().enumerate() {
            let l = line.trim_start();
            if l.starts_with("//") {
                continue;
            }
            let grouped = l.starts_with("use crate::{") && mentions(l, "dispatch");
            if l.contains("dispatch::") || mentions(l, "crate::dispatch") || grouped {
                broken.push(format!(
                    "{r}:{}: below the edges but uses `dispatch`",
                    n + 1
                ));
            }
        }
    }
    // providers share through the store, never through each other (mod.rs holds shared helpers)
    for f in &files {
        let r = rel(f);
        if r.starts_with("src/providers/") && !r.ends_with("mod.rs") {
            let code = fs::read_to_string(f).unwrap();
            for (n, line) in code.lines().enumerate() {
                if line.contains("providers::")
                    || (line.contains("super::")
                        && line.contains("::")
                        && [
                            "resources::",
                            "subscriptions::",
                            "authorization::",
                            "metadata::",
                            "managedservices::",
                        ]
                        .iter()
                        .any(|m| line.contains(&format!("super::{m}"))))
                {
                    broken.push(format!("{r}:{}: a provider uses another provider", n + 1));
                }
            }
        }
    }
    assert!(
        broken.is_empty(),
        "layering violations:\n{}",
        broken.join("\n")
    );
}
