//! The `lighthouse-emulator` binary: the only place that reads arguments and environment, sets up
//! logging and acts on the subcommand.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;
use lighthouse_emulator::cli::{
    default_state_dir, Cli, Command, EnvArgs, FixturesCommand, LogFormat, ServeArgs, Shell,
    StateArgs, TokenArgs,
};
use lighthouse_emulator::start::{self, Options};

/// malloc/free were about 12% of a request's CPU (perf, scripts/bench); mimalloc halves that.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        None => serve(cli.serve),
        Some(Command::Serve(args)) => serve(args),
        Some(Command::Token(args)) => token(&cli.serve.state, args),
        Some(Command::Env(args)) => env(&cli.serve.state, args),
        Some(Command::Fixtures {
            command: FixturesCommand::Check { file },
        }) => fixtures_check(&file),
        Some(Command::Snapshot { command }) => {
            lighthouse_emulator::admin_cli::run(&cli.serve.state, command)
        }
        Some(Command::Fixtures {
            command:
                FixturesCommand::Generate {
                    tenants,
                    subscriptions,
                    resources,
                    seed,
                    output,
                },
        }) => fixtures_generate(
            lighthouse_emulator::world_gen::Sizes {
                tenants,
                subscriptions,
                resources,
                seed,
            },
            output.as_deref(),
        ),
    }
}

fn state_dir(s: &StateArgs) -> std::path::PathBuf {
    s.state_dir.clone().unwrap_or_else(default_state_dir)
}

/// mimalloc's purge delay for the server: memory freed after a connection storm goes back to the OS at
/// once rather than waiting for a later free to trigger the purge, which an idle server never makes
/// (scripts/soak --only rss: 8 000 connections left 66–334 MB resident with the default 1 s delay,
/// 77–95 MB with 0; no measurable cost per request). mimalloc reads its options from the environment as
/// the process loads, before `main`, and setting them in code needs `unsafe`: so the server re-executes
/// itself once with the variable set, unless the user set it (their value wins).
const PURGE_DELAY: (&str, &str) = ("MIMALLOC_PURGE_DELAY", "0");

#[cfg(unix)]
fn with_allocator_options() {
    use std::os::unix::process::CommandExt;
    let (name, value) = PURGE_DELAY;
    if std::env::var_os(name).is_some() {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let mut args = std::env::args_os();
    let arg0 = args.next().unwrap_or_else(|| exe.clone().into_os_string());
    // exec returns only when it failed (the binary replaced on disk, say): serve with the defaults
    let _ = std::process::Command::new(exe)
        .arg0(arg0)
        .args(args)
        .env(name, value)
        .exec();
}

#[cfg(not(unix))]
fn with_allocator_options() {}

fn serve(args: ServeArgs) -> ExitCode {
    with_allocator_options();
    let filter = tracing_subscriber::EnvFilter::try_from_env("LIGHTHOUSE_EMULATOR_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // The request log is buffered and written by a background thread every few milliseconds (see
    // logsink); the guard writes what is left at exit.
    let (writer, _log_guard) = lighthouse_emulator::logsink::LogSink::new(std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    match args.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder
            .event_format(lighthouse_emulator::logsink::LineFormat)
            .init(),
    }
    let opts = Options {
        port: args.state.port,
        bind: args.bind.clone(),
        state_dir: state_dir(&args.state),
        in_memory: args.in_memory,
        fixtures: args.state.fixtures.clone(),
        token_lifetime: args.token_lifetime,
        authz: args.authz,
        cert: args.cert.clone(),
        key: args.key.clone(),
        sans: args.sans.clone(),
        admin_key: args.admin_key.clone(),
        userrealm_port: args.userrealm_port,
        console_bind: args.console_bind.clone(),
        max_authorizations: args.max_authorizations,
        graph_quota: args.graph_quota == lighthouse_emulator::cli::Switch::On,
        max_connections: args.max_connections,
        client_timeout: args.client_timeout,
        max_sandboxes: args.max_sandboxes,
        signing_key: args.signing_key,
        throttling: args.throttling,
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    rt.block_on(async move {
        let running = match start::start(opts.clone()).await {
            Ok(r) => r,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        };
        let host = if opts.bind.eq_ignore_ascii_case("localhost") { "localhost".to_string() } else { opts.bind.clone() };
        println!("lighthouse-emulator listening on https://{host}:{}", running.port);
        println!("CA certificate: {}", running.ca_path.display());
        if let Some(p) = running.userrealm_port {
            println!("Also listening on port {p} for MSAL's user-realm lookup (az login -u, UsernamePasswordCredential); --userrealm-port 0 turns that off");
        }
        let state = opts.state_dir.display();
        println!("Point clients at it: eval \"$(lighthouse-emulator env --port {} --state-dir {state})\"", running.port);
        if !opts.console_bind.eq_ignore_ascii_case("off") {
            println!("Web console: https://localhost:{}/ (in a browser that trusts the CA above)", running.port);
        }
        for w in &running.warnings {
            eprintln!("{w}");
        }
        use std::io::Write;
        let _ = std::io::stdout().flush();
        shutdown_signal().await;
        ExitCode::SUCCESS
    })
}

/// Ctrl-C, or SIGTERM as CI harnesses and containers send it: either ends the process cleanly, so
/// the request log's last lines are written.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// A token from the running emulator (its key, its clock); without one, from the signing key already
/// in the state dir — never from a new key, which no server would accept.
fn token(s: &StateArgs, args: TokenArgs) -> ExitCode {
    let dir = state_dir(s);
    let ca = std::fs::read(dir.join("ca.pem"));
    let asked = match &ca {
        Ok(ca) => ask_server(s.port, ca, &args),
        Err(_) => Err(lighthouse_emulator::client::ClientError::Unreachable(
            String::new(),
        )),
    };
    use lighthouse_emulator::client::ClientError;
    match asked {
        Ok(t) => {
            println!("{t}");
            return ExitCode::SUCCESS;
        }
        Err(ClientError::UntrustedCertificate(_)) => {
            eprintln!(
                "error: the emulator on https://localhost:{} was not started with --state-dir {} (its certificate is not signed by {}): pass the server's --state-dir (or LIGHTHOUSE_EMULATOR_STATE_DIR; `lighthouse-emulator env` exports it)",
                s.port,
                dir.display(),
                dir.join("ca.pem").display()
            );
            return ExitCode::FAILURE;
        }
        Err(ClientError::Other(m)) => {
            eprintln!(
                "error: asking the emulator on https://localhost:{} for a token: {m}",
                s.port
            );
            return ExitCode::FAILURE;
        }
        Err(ClientError::Unreachable(_)) => {}
    }
    // No server answers: mint with the key a server of this state dir uses, if there is one.
    let key = match lighthouse_emulator::auth::keys::SigningKey::load(&dir) {
        Ok(Some(k)) => k,
        Ok(None) => {
            eprintln!(
                "error: no emulator answers on https://localhost:{} and {} holds no signing key: start the emulator first, or pass its --port and --state-dir",
                s.port,
                dir.display()
            );
            return ExitCode::FAILURE;
        }
        Err(e) => {
            eprintln!("error: signing key: {e}");
            return ExitCode::FAILURE;
        }
    };
    let world = match start::load_world(s.fixtures.as_ref()) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let dir_index = lighthouse_emulator::directory::Directory::new(
        world.tenants,
        world.principals,
        world.subscriptions,
    );
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let base = format!("https://localhost:{}", s.port);
    match lighthouse_emulator::auth::endpoints::issue_for(
        &dir_index,
        &key,
        &args.principal,
        &args.audience,
        now,
        args.lifetime,
        &base,
    ) {
        Ok(t) => {
            eprintln!(
                "note: no emulator answers on {base}; this token is signed with the key in {} and dated by this machine's clock",
                dir.display()
            );
            println!("{t}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `POST /_emulator/token` on the local emulator, trusting only the state dir's CA.
fn ask_server(
    port: u16,
    ca: &[u8],
    args: &TokenArgs,
) -> Result<String, lighthouse_emulator::client::ClientError> {
    use lighthouse_emulator::client::{request, ClientError};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| ClientError::Other(e.to_string()))?;
    let body =
        serde_json::json!({"principal": args.principal, "audience": args.audience}).to_string();
    let mut headers = Vec::new();
    if let Some(k) = args.admin_key.as_deref() {
        headers.push(("x-emulator-admin-key", k));
    }
    let (status, bytes) = rt.block_on(request(
        "localhost",
        port,
        ca,
        "POST",
        "/_emulator/token",
        &headers,
        body.into_bytes(),
    ))?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    match v["accessToken"].as_str() {
        Some(t) if status == 200 => Ok(t.to_string()),
        _ => Err(ClientError::Other(
            v["error"]["message"]
                .as_str()
                .map(String::from)
                .unwrap_or_else(|| format!("status {status}")),
        )),
    }
}

fn env(s: &StateArgs, args: EnvArgs) -> ExitCode {
    let dir = state_dir(s);
    let ca = dir.join("ca.pem");
    let mut config_dir = dir.join("azure-cli");
    // a sandbox is another port of the same server: same CA, its own az config dir
    let mut sandboxed = s.clone();
    if let Some(id) = &args.sandbox {
        match lighthouse_emulator::admin_cli::sandbox_port(s, id, args.admin_key.as_deref()) {
            Ok(p) => sandboxed.port = p,
            Err(e) => {
                eprintln!("error: sandbox '{id}': {e}");
                return ExitCode::FAILURE;
            }
        }
        config_dir = config_dir.join(format!("sandbox-{id}"));
    }
    let s = &sandboxed;
    let url = format!("https://localhost:{}", s.port);
    let mut login = None;
    if let Some(who) = &args.as_principal {
        match sign_in_command(s, who) {
            Ok((slug, command)) => {
                config_dir = config_dir.join(slug);
                login = Some(command);
            }
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    let vars = [
        ("LIGHTHOUSE_EMULATOR_URL", url.clone()),
        // what `lighthouse-emulator token` needs to find this server
        ("LIGHTHOUSE_EMULATOR_STATE_DIR", dir.display().to_string()),
        ("LIGHTHOUSE_EMULATOR_PORT", s.port.to_string()),
        ("REQUESTS_CA_BUNDLE", ca.display().to_string()),
        ("CURL_CA_BUNDLE", ca.display().to_string()),
        ("SSL_CERT_FILE", ca.display().to_string()),
        ("NODE_EXTRA_CA_CERTS", ca.display().to_string()),
        ("AZURE_AUTHORITY_HOST", url.clone()),
        ("AZURE_CORE_INSTANCE_DISCOVERY", "false".to_string()),
        ("AZURE_CORE_COLLECT_TELEMETRY", "false".to_string()),
        // host-style data plane ({account}.blob.core.windows.net, {vault}.vault.azure.net): the
        // emulator's port is also an HTTPS (CONNECT) proxy for those names. Its own port goes
        // direct; MSAL Python's user-realm lookup on localhost:443 goes through the tunnel too.
        ("HTTPS_PROXY", format!("http://localhost:{}", s.port)),
        ("NO_PROXY", format!("localhost:{0},127.0.0.1:{0}", s.port)),
        ("AZURE_CONFIG_DIR", config_dir.display().to_string()),
    ];
    for (k, v) in vars {
        match args.shell {
            Shell::Sh => println!("export {k}='{v}'"),
            Shell::Fish => println!("set -gx {k} '{v}'"),
            Shell::Powershell => println!("$env:{k} = '{v}'"),
        }
    }
    let register = format!(
        "az cloud register -n LighthouseEmulator --endpoint-resource-manager {url} -o none"
    );
    match (login, args.shell) {
        // sign in once per principal: its own config dir keeps the session for the next `env --as`
        (Some(login), Shell::Sh) => println!(
            "az account show >/dev/null 2>&1 || {{ {{ {register} 2>/dev/null; az cloud set -n LighthouseEmulator -o none; }} && {login} >/dev/null; }}"
        ),
        (Some(login), _) => {
            println!("# once, in this shell: {register}; az cloud set -n LighthouseEmulator; {login}")
        }
        (None, Shell::Sh) => {
            println!("# then: {register} && az cloud set -n LighthouseEmulator");
            println!("# Python: ClientSecretCredential(tenant, client_id, secret, authority='{url}', disable_instance_discovery=True)");
        }
        (None, _) => {}
    }
    ExitCode::SUCCESS
}

/// For `env --as`: a directory name for the principal and the `az login` that signs it in.
fn sign_in_command(s: &StateArgs, who: &str) -> Result<(String, String), String> {
    use lighthouse_emulator::world::PrincipalKind;
    let world = start::load_world(s.fixtures.as_ref())?;
    let p = world
        .principals
        .iter()
        .find(|p| {
            [
                Some(p.object_id.as_str()),
                p.user_principal_name.as_deref(),
                p.app_id.as_deref(),
                Some(p.display_name.as_str()),
            ]
            .into_iter()
            .flatten()
            .any(|n| n.eq_ignore_ascii_case(who))
        })
        .ok_or_else(|| format!("no user or service principal '{who}' in the world"))?;
    let slug: String = p
        .client_name()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "@.-_".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let quote = |v: &str| format!("'{}'", v.replace('\'', "'\\''"));
    let command = match (p.kind, &p.user_principal_name, &p.password, &p.app_id, &p.secret) {
        (PrincipalKind::User, Some(upn), Some(pw), _, _) => format!(
            "az login -u {} -p {} --tenant {} --allow-no-subscriptions -o none",
            quote(upn),
            quote(pw),
            p.tenant_id
        ),
        (PrincipalKind::ServicePrincipal, _, _, Some(app), Some(secret)) => format!(
            "az login --service-principal -u {app} -p {} --tenant {} --allow-no-subscriptions -o none",
            quote(secret),
            p.tenant_id
        ),
        _ => return Err(format!("'{who}' has no password or secret in the world: it cannot sign in")),
    };
    Ok((slug, command))
}

fn fixtures_generate(
    sizes: lighthouse_emulator::world_gen::Sizes,
    output: Option<&std::path::Path>,
) -> ExitCode {
    let world = match lighthouse_emulator::world_gen::generate(sizes) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let text = serde_json::to_string_pretty(&world).unwrap_or_default() + "\n";
    match output {
        None => print!("{text}"),
        Some(p) => {
            if let Err(e) = std::fs::write(p, text) {
                eprintln!("error: writing {}: {e}", p.display());
                return ExitCode::FAILURE;
            }
            eprintln!(
                "{}: {} tenants, {} subscriptions, {} resources (load it with --fixtures {})",
                p.display(),
                sizes.tenants + 1,
                sizes.subscriptions,
                sizes.resources,
                p.display()
            );
        }
    }
    ExitCode::SUCCESS
}

fn fixtures_check(file: &std::path::Path) -> ExitCode {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: reading {}: {e}", file.display());
            return ExitCode::FAILURE;
        }
    };
    match lighthouse_emulator::world::World::parse(&text) {
        Ok(w) => {
            println!(
                "{}: ok ({} tenants, {} principals, {} subscriptions, {} requests)",
                file.display(),
                w.tenants.len(),
                w.principals.len(),
                w.subscriptions.len(),
                w.requests.len()
            );
            ExitCode::SUCCESS
        }
        Err(errs) => {
            for e in errs {
                eprintln!("{}:{}:{}: {}", file.display(), e.line, e.column, e.message);
            }
            ExitCode::FAILURE
        }
    }
}
