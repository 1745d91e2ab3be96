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
    }
}

fn state_dir(s: &StateArgs) -> std::path::PathBuf {
    s.state_dir.clone().unwrap_or_else(default_state_dir)
}

fn serve(args: ServeArgs) -> ExitCode {
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
        max_authorizations: args.max_authorizations,
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
        let state = opts.state_dir.display();
        println!("Point clients at it: eval \"$(lighthouse-emulator env --port {} --state-dir {state})\"", running.port);
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

fn token(s: &StateArgs, args: TokenArgs) -> ExitCode {
    let world = match start::load_world(s.fixtures.as_ref()) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let key = match lighthouse_emulator::auth::keys::SigningKey::load_or_create(&state_dir(s)) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("error: signing key: {e}");
            return ExitCode::FAILURE;
        }
    };
    let dir = lighthouse_emulator::directory::Directory::new(
        world.tenants,
        world.principals,
        world.subscriptions,
    );
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let base = format!("https://localhost:{}", s.port);
    match lighthouse_emulator::auth::endpoints::issue_for(
        &dir,
        &key,
        &args.principal,
        &args.audience,
        now,
        args.lifetime,
        &base,
    ) {
        Ok(t) => {
            println!("{t}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn env(s: &StateArgs, args: EnvArgs) -> ExitCode {
    let dir = state_dir(s);
    let ca = dir.join("ca.pem");
    let url = format!("https://localhost:{}", s.port);
    let vars = [
        ("LIGHTHOUSE_EMULATOR_URL", url.clone()),
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
        (
            "AZURE_CONFIG_DIR",
            dir.join("azure-cli").display().to_string(),
        ),
    ];
    for (k, v) in vars {
        match args.shell {
            Shell::Sh => println!("export {k}='{v}'"),
            Shell::Fish => println!("set -gx {k} '{v}'"),
            Shell::Powershell => println!("$env:{k} = '{v}'"),
        }
    }
    if args.shell == Shell::Sh {
        println!("# then: az cloud register -n LighthouseEmulator --endpoint-resource-manager {url} && az cloud set -n LighthouseEmulator");
        println!("# Python: ClientSecretCredential(tenant, client_id, secret, authority='{url}', disable_instance_discovery=True)");
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
