//! Start-up: from options to a running server — state dir, TLS material, signing key, store, world,
//! listeners (main port on loopback v4+v6 or the bound address, plus the user-realm port) — returning
//! the chosen port. Used by `main` and by the in-process integration tests.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::app::{App, AuthzMode, Config};
use crate::auth::keys::{KeyChoice, SigningKey};
use crate::store::Store;
use crate::world::{World, DEFAULT_WORLD};

#[derive(Debug, Clone)]
pub struct Options {
    pub port: u16,
    /// `localhost` (both loopbacks) or an IP address.
    pub bind: String,
    pub state_dir: PathBuf,
    pub in_memory: bool,
    pub fixtures: Option<PathBuf>,
    pub token_lifetime: i64,
    pub authz: AuthzMode,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub sans: Vec<String>,
    pub admin_key: Option<String>,
    pub userrealm_port: u16,
    /// Where the web console answers (`console::Bind::parse`): `loopback` by default.
    pub console_bind: String,
    pub max_authorizations: usize,
    /// Resource Graph's per-user quota (15 queries per 5 s).
    pub graph_quota: bool,
    /// Connections served at once (over every listener); further clients wait in the kernel's backlog.
    pub max_connections: usize,
    /// Seconds a client has for a request's headers (the handshake gets at most 10 of them; idle
    /// connections are closed after four times it).
    pub client_timeout: u64,
    /// Sandboxes alive at once (`POST /_emulator/sandboxes`); 0 turns them off.
    pub max_sandboxes: usize,
    /// The signing key of a state dir without one (None: well-known on loopback, private beyond it).
    pub signing_key: Option<KeyChoice>,
    /// ARM's request throttling (`crate::throttle`).
    pub throttling: crate::throttle::Mode,
}

impl Options {
    /// Defaults for a throwaway in-memory server on a free port (tests).
    pub fn ephemeral(state_dir: PathBuf) -> Options {
        Options {
            port: 0,
            bind: "localhost".into(),
            state_dir,
            in_memory: true,
            fixtures: None,
            token_lifetime: 3600,
            authz: AuthzMode::Enforce,
            cert: None,
            key: None,
            sans: Vec::new(),
            admin_key: None,
            userrealm_port: 0,
            console_bind: "loopback".into(),
            max_authorizations: 20,
            graph_quota: true,
            max_connections: crate::server::DEFAULT_MAX_CONNECTIONS,
            client_timeout: crate::server::DEFAULT_CLIENT_TIMEOUT.as_secs(),
            max_sandboxes: crate::sandboxes::DEFAULT_MAX,
            signing_key: None,
            throttling: crate::throttle::Mode::Off,
        }
    }
}

pub struct Running {
    pub port: u16,
    /// The extra port answering MSAL Python's user-realm lookup (443), when it could be bound.
    pub userrealm_port: Option<u16>,
    pub app: Arc<App>,
    pub ca_path: PathBuf,
    pub ca_pem: String,
    /// Things the user should know (e.g. the user-realm port could not be bound).
    pub warnings: Vec<String>,
}

/// Read the world: the given file or the built-in default.
pub fn load_world(fixtures: Option<&PathBuf>) -> Result<World, String> {
    let (text, name) = match fixtures {
        Some(p) => (
            std::fs::read_to_string(p).map_err(|e| format!("reading {}: {e}", p.display()))?,
            p.display().to_string(),
        ),
        None => (DEFAULT_WORLD.to_string(), "the default world".to_string()),
    };
    World::parse(&text).map_err(|errs| {
        errs.iter()
            .map(|e| format!("{name}:{e}"))
            .collect::<Vec<_>>()
            .join("\n")
    })
}

fn is_loopback(bind: &str) -> bool {
    bind.eq_ignore_ascii_case("localhost")
        || bind
            .parse::<IpAddr>()
            .map(|a| a.is_loopback())
            .unwrap_or(false)
}

/// Bind the main port: with `localhost`, 127.0.0.1 first (port 0 picks it) and ::1 on the same port.
async fn bind(bind: &str, port: u16) -> Result<Vec<TcpListener>, String> {
    if bind.eq_ignore_ascii_case("localhost") {
        let v4 = TcpListener::bind(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port))
            .await
            .map_err(|e| format!("binding 127.0.0.1:{port}: {e}"))?;
        let chosen = v4.local_addr().map_err(|e| e.to_string())?.port();
        let mut out = vec![v4];
        if let Ok(v6) =
            TcpListener::bind(SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), chosen)).await
        {
            out.push(v6);
        }
        return Ok(out);
    }
    let ip: IpAddr = bind
        .parse()
        .map_err(|_| format!("--bind '{bind}' is neither 'localhost' nor an IP address"))?;
    let l = TcpListener::bind(SocketAddr::new(ip, port))
        .await
        .map_err(|e| format!("binding {ip}:{port}: {e}"))?;
    Ok(vec![l])
}

/// The shortest admin key accepted: an empty or short key would let anyone who guesses it reset the
/// world of a class.
pub const MIN_ADMIN_KEY: usize = 16;

pub async fn start(opts: Options) -> Result<Running, String> {
    if let Some(k) = opts.admin_key.as_deref() {
        if k.chars().count() < MIN_ADMIN_KEY {
            return Err(format!(
                "--admin-key must be at least {MIN_ADMIN_KEY} characters (got {}): it guards reset, clock and world changes",
                k.chars().count()
            ));
        }
    }
    if !is_loopback(&opts.bind) && opts.admin_key.is_none() {
        return Err(format!(
            "--bind {} listens beyond loopback: give --admin-key so learners cannot reset or rewrite the world",
            opts.bind
        ));
    }
    let console_bind = crate::console::Bind::parse(&opts.console_bind)?;
    // `LIGHTHOUSE_EMULATOR_LOG=lighthouse_emulator::start=debug` shows where a start's time goes.
    let t0 = std::time::Instant::now();
    let phase = |what: &str| {
        let elapsed_us = t0.elapsed().as_micros() as u64;
        tracing::debug!(target: "lighthouse_emulator::start", what, elapsed_us, "start-up");
    };
    std::fs::create_dir_all(&opts.state_dir)
        .map_err(|e| format!("creating {}: {e}", opts.state_dir.display()))?;
    let own = match (&opts.cert, &opts.key) {
        (Some(c), Some(k)) => Some((c.as_path(), k.as_path())),
        _ => None,
    };
    // A fresh state dir on loopback starts with the well-known development key: generating an RSA key
    // took 120–460 ms of every first start (README "Cold start").
    let choice = opts.signing_key.unwrap_or(if is_loopback(&opts.bind) {
        KeyChoice::WellKnown
    } else {
        KeyChoice::Private
    });
    // The certificates and the signing key (their own files in the state dir) on one thread, the
    // world file and the store on this one.
    let (world, store, crypto) = std::thread::scope(|s| {
        let crypto = s.spawn(|| -> Result<_, String> {
            let tls = crate::tls::material(&opts.state_dir, &opts.sans, own)?;
            phase("tls material");
            let key = SigningKey::load_or_choose(&opts.state_dir, choice)
                .map_err(|e| format!("signing key: {e}"))?;
            phase("signing key");
            Ok((tls, key))
        });
        let world = load_world(opts.fixtures.as_ref());
        phase("world parsed");
        let store = if opts.in_memory {
            Store::open(None)
        } else {
            Store::open(Some(&opts.state_dir.join("state.db")))
        }
        .map_err(|e| format!("opening the store: {e}"));
        phase("store opened");
        let crypto = crypto.join().unwrap_or_else(|_| {
            Err("preparing the certificates and the signing key failed".into())
        });
        (world, store, crypto)
    });
    let (world, (tls, key), store) = (world?, crypto?, store?);
    let config = Config {
        token_lifetime: opts.token_lifetime,
        authz: opts.authz,
        admin_key: opts.admin_key.clone(),
        max_body: 4 * 1024 * 1024,
        max_authorizations: opts.max_authorizations,
        graph_quota: opts.graph_quota,
        ca_pem: tls.ca_pem.clone(),
    };
    let app = Arc::new(
        App::new(store, key, world, config, crate::dispatch::arm_as)
            .map_err(|e| format!("loading the world: {e}"))?,
    );
    phase("world loaded");
    app.ops.throttle.set_default(opts.throttling);
    app.console.set_bind(console_bind);
    let listeners = bind(&opts.bind, opts.port).await?;
    let limits = crate::server::Limits::new(
        opts.max_connections,
        std::time::Duration::from_secs(opts.client_timeout),
    );
    let port = listeners[0].local_addr().map_err(|e| e.to_string())?.port();
    phase("bound");
    let mut warnings = Vec::new();
    let mut userrealm_port = None;
    for l in listeners {
        tokio::spawn(crate::server::serve(
            app.clone(),
            l,
            tls.config.clone(),
            tls.tunnel.clone(),
            limits.clone(),
        ));
    }
    // fired alerts' e-mails, SMS and webhook calls, delivered off the request path
    tokio::spawn(crate::notify::run(app.clone()));
    if opts.userrealm_port != 0 && opts.userrealm_port != port {
        match bind(&opts.bind, opts.userrealm_port).await {
            Ok(ls) => {
                for l in ls {
                    tokio::spawn(crate::server::serve(
            app.clone(),
            l,
            tls.config.clone(),
            tls.tunnel.clone(),
            limits.clone(),
        ));
                }
                userrealm_port = Some(opts.userrealm_port);
            }
            Err(e) => warnings.push(format!(
                "warning: could not listen on port {} for MSAL's user-realm lookup ({e}); password sign-in from MSAL Python (UsernamePasswordCredential, az login -u) needs it: run as root, or `sudo setcap cap_net_bind_service=+ep $(which lighthouse-emulator)`",
                opts.userrealm_port
            )),
        }
    }
    if opts.max_sandboxes > 0 {
        let listen = sandbox_listener(
            &opts.bind,
            tls.config.clone(),
            tls.tunnel.clone(),
            limits.clone(),
        );
        let host = if opts.bind.eq_ignore_ascii_case("localhost") {
            "https://localhost".to_string()
        } else {
            format!("https://{}", opts.bind)
        };
        let boxes = Arc::new(crate::sandboxes::Sandboxes::new(
            listen,
            opts.max_sandboxes,
            &host,
        ));
        let _ = app.sandboxes.set(boxes.clone());
        // sandboxes past their ttl go within a second
        let weak = Arc::downgrade(&boxes);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
            loop {
                tick.tick().await;
                match weak.upgrade() {
                    Some(b) => {
                        b.expire();
                    }
                    None => return,
                }
            }
        });
    }
    Ok(Running {
        port,
        userrealm_port,
        app,
        ca_path: tls.ca_path,
        ca_pem: tls.ca_pem,
        warnings,
    })
}

/// How a sandbox gets its port: a free one on the main bind address (both loopbacks for
/// `localhost`), served like the main port (TLS, HTTP/1.1 and 2, the CONNECT proxy); closing it
/// stops the accept loops.
fn sandbox_listener(
    bind: &str,
    tls: Arc<rustls::ServerConfig>,
    tunnel: Option<Arc<rustls::ServerConfig>>,
    limits: crate::server::Limits,
) -> crate::sandboxes::Listen {
    let bind = bind.to_string();
    let runtime = tokio::runtime::Handle::current();
    Box::new(move |app: Arc<App>| {
        let _entered = runtime.enter();
        let mut std_listeners = Vec::new();
        let first = if bind.eq_ignore_ascii_case("localhost") {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0)
        } else {
            let ip: IpAddr = bind.parse().map_err(|_| format!("bad --bind '{bind}'"))?;
            SocketAddr::new(ip, 0)
        };
        let l = std::net::TcpListener::bind(first).map_err(|e| format!("binding {first}: {e}"))?;
        let port = l.local_addr().map_err(|e| e.to_string())?.port();
        std_listeners.push(l);
        if bind.eq_ignore_ascii_case("localhost") {
            if let Ok(v6) =
                std::net::TcpListener::bind(SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), port))
            {
                std_listeners.push(v6);
            }
        }
        let mut tasks = Vec::new();
        for l in std_listeners {
            l.set_nonblocking(true).map_err(|e| e.to_string())?;
            let l = TcpListener::from_std(l).map_err(|e| e.to_string())?;
            tasks.push(runtime.spawn(crate::server::serve(
                app.clone(),
                l,
                tls.clone(),
                tunnel.clone(),
                limits.clone(),
            )));
        }
        Ok(crate::sandboxes::Listening {
            port,
            close: Box::new(move || {
                for t in tasks {
                    t.abort();
                }
            }),
        })
    })
}
