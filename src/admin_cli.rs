//! Subcommands that read a running emulator's admin endpoints: `snapshot diff A B` and `snapshot
//! export NAME` (a snapshot is a world file or the name of one saved on the emulator, fetched with
//! `GET /_emulator/snapshots/{name}`), and the port of a sandbox for `env --sandbox`. Through `client`,
//! trusting the state dir's CA. An edge: network and files, no behaviour of its own.

use std::process::ExitCode;

use crate::cli::{default_state_dir, SnapshotCommand, StateArgs};
use crate::world::World;

pub fn run(state: &StateArgs, command: SnapshotCommand) -> ExitCode {
    match command {
        SnapshotCommand::Diff { a, b, admin_key } => {
            let load = |which: &str| -> Result<World, String> {
                let text = fetch(state, which, admin_key.as_deref())?;
                World::parse(&text).map_err(|errs| {
                    errs.iter()
                        .map(|e| format!("{which}:{e}"))
                        .collect::<Vec<_>>()
                        .join("\n")
                })
            };
            let (wa, wb) = match (load(&a), load(&b)) {
                (Ok(x), Ok(y)) => (x, y),
                (Err(e), _) | (_, Err(e)) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            };
            let lines = crate::snapshots::diff(&wa, &wb);
            for l in &lines {
                println!("{l}");
            }
            if lines.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        SnapshotCommand::Export {
            name,
            output,
            admin_key,
        } => match remote(state, &name, admin_key.as_deref()) {
            Ok(text) => match output {
                None => {
                    print!("{text}");
                    ExitCode::SUCCESS
                }
                Some(p) => match std::fs::write(&p, text) {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(e) => {
                        eprintln!("error: writing {}: {e}", p.display());
                        ExitCode::FAILURE
                    }
                },
            },
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
    }
}

/// A world file's text: the file when `which` names one, else the running emulator's snapshot.
fn fetch(state: &StateArgs, which: &str, admin_key: Option<&str>) -> Result<String, String> {
    let path = std::path::Path::new(which);
    if path.is_file() {
        return std::fs::read_to_string(path).map_err(|e| format!("reading {which}: {e}"));
    }
    remote(state, which, admin_key)
        .map_err(|e| format!("'{which}' is neither a file nor a snapshot of the emulator: {e}"))
}

/// `GET /_emulator/snapshots/{name}` on the emulator at `--port`, trusting `--state-dir`'s CA.
fn remote(state: &StateArgs, name: &str, admin_key: Option<&str>) -> Result<String, String> {
    if !crate::snapshots::is_name(name) {
        return Err(format!("'{name}' is not a snapshot name"));
    }
    get(state, &format!("/_emulator/snapshots/{name}"), admin_key)
}

/// The port of sandbox `id` of the emulator at `--port` (`GET /_emulator/sandboxes/{id}`).
pub fn sandbox_port(state: &StateArgs, id: &str, admin_key: Option<&str>) -> Result<u16, String> {
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err(format!("'{id}' is not a sandbox id"));
    }
    let text = get(state, &format!("/_emulator/sandboxes/{id}"), admin_key)?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    v["port"]
        .as_u64()
        .and_then(|p| u16::try_from(p).ok())
        .ok_or_else(|| format!("the emulator's answer names no port: {text}"))
}

/// `GET path` on the emulator at `--port`; the body when the status is 200, else its error message.
fn get(state: &StateArgs, path: &str, admin_key: Option<&str>) -> Result<String, String> {
    let dir = state.state_dir.clone().unwrap_or_else(default_state_dir);
    let ca = std::fs::read(dir.join("ca.pem"))
        .map_err(|e| format!("reading {}: {e}", dir.join("ca.pem").display()))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let mut headers = Vec::new();
    if let Some(k) = admin_key {
        headers.push(("x-emulator-admin-key", k));
    }
    let (status, body) = rt
        .block_on(crate::client::request(
            "localhost",
            state.port,
            &ca,
            "GET",
            path,
            &headers,
            Vec::new(),
        ))
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&body).into_owned();
    if status != 200 {
        let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        return Err(v["error"]["message"]
            .as_str()
            .map(String::from)
            .unwrap_or_else(|| format!("status {status}")));
    }
    Ok(text)
}
