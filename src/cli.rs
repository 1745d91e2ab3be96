//! Command-line interface (clap): `serve` (default), `token`, `env`, `fixtures check`. Every flag has a
//! `LIGHTHOUSE_EMULATOR_*` variable. Parsing only; `main` acts on the result.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::app::AuthzMode;

#[derive(Debug, Parser)]
#[command(
    name = "lighthouse-emulator",
    version,
    about = "Local Azure Resource Manager + Entra ID emulator that enforces Azure Lighthouse delegation"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve ARM and Entra ID over HTTPS (the default).
    Serve(ServeArgs),
    /// Print a bearer token for a principal of the world (UPN, display name, object id or app id).
    Token(TokenArgs),
    /// Print shell lines that point the Python SDK, Node and the Azure CLI at this emulator.
    Env(EnvArgs),
    /// Work with world files.
    Fixtures {
        #[command(subcommand)]
        command: FixturesCommand,
    },
    /// Compare and export snapshots (`POST /_emulator/snapshots` saves one).
    Snapshot {
        #[command(subcommand)]
        command: SnapshotCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum SnapshotCommand {
    /// Print what changed from A to B (resources, grants, delegations, locks, data), each a world
    /// file or the name of a snapshot on the running emulator; exit status 1 when they differ.
    Diff {
        a: String,
        b: String,
        /// The running emulator's admin key, when it has one.
        #[arg(long, env = "LIGHTHOUSE_EMULATOR_ADMIN_KEY")]
        admin_key: Option<String>,
    },
    /// Write a snapshot of the running emulator as a world file (`--fixtures` loads it).
    Export {
        name: String,
        /// Where to write it (standard output when absent).
        #[arg(long, short)]
        output: Option<PathBuf>,
        #[arg(long, env = "LIGHTHOUSE_EMULATOR_ADMIN_KEY")]
        admin_key: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum FixturesCommand {
    /// Validate a world file; errors carry line and column.
    Check { file: PathBuf },
    /// Write a larger world: customer tenants with subscriptions (four in five delegated to Contoso
    /// MSP) and resources of common types, for benchmarks and big sandboxes (`--fixtures FILE` loads it).
    Generate {
        #[arg(long, default_value_t = 10)]
        tenants: usize,
        #[arg(long, default_value_t = 100)]
        subscriptions: usize,
        #[arg(long, default_value_t = 10_000)]
        resources: usize,
        /// Another seed gives other names, locations, tags and properties.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Where to write it (standard output when absent).
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct StateArgs {
    /// Where the CA, the signing key and the state database live.
    #[arg(long, env = "LIGHTHOUSE_EMULATOR_STATE_DIR", global = true)]
    pub state_dir: Option<PathBuf>,
    /// The port to listen on (0 picks a free one and prints it).
    #[arg(
        long,
        env = "LIGHTHOUSE_EMULATOR_PORT",
        default_value_t = 8443,
        global = true
    )]
    pub port: u16,
    /// A world file to serve instead of the built-in default world.
    #[arg(long, env = "LIGHTHOUSE_EMULATOR_FIXTURES", global = true)]
    pub fixtures: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub state: StateArgs,
    /// Address to bind: `localhost` (127.0.0.1 and ::1, the default) or an IP address.
    #[arg(long, env = "LIGHTHOUSE_EMULATOR_BIND", default_value = "localhost")]
    pub bind: String,
    /// Keep the state in memory only (throwaway runs); certificates and keys still use the state dir.
    #[arg(long, env = "LIGHTHOUSE_EMULATOR_IN_MEMORY")]
    pub in_memory: bool,
    /// Lifetime of issued access tokens, in seconds.
    #[arg(
        long,
        env = "LIGHTHOUSE_EMULATOR_TOKEN_LIFETIME",
        default_value_t = 3600
    )]
    pub token_lifetime: i64,
    #[arg(
        long,
        env = "LIGHTHOUSE_EMULATOR_LOG_FORMAT",
        value_enum,
        default_value = "text"
    )]
    pub log_format: LogFormat,
    /// enforce: refuse like Azure; log: allow but log refusals; off: no checks.
    #[arg(
        long,
        env = "LIGHTHOUSE_EMULATOR_AUTHZ",
        value_enum,
        default_value = "enforce"
    )]
    pub authz: AuthzMode,
    /// Your own server certificate (PEM) instead of the generated one.
    #[arg(long, env = "LIGHTHOUSE_EMULATOR_CERT", requires = "key")]
    pub cert: Option<PathBuf>,
    /// The private key (PEM) for --cert.
    #[arg(long, env = "LIGHTHOUSE_EMULATOR_KEY", requires = "cert")]
    pub key: Option<PathBuf>,
    /// Extra DNS names or IPs for the generated server certificate.
    #[arg(long = "san", env = "LIGHTHOUSE_EMULATOR_SAN", value_delimiter = ',')]
    pub sans: Vec<String>,
    /// Key for /_emulator/* (header x-emulator-admin-key); required when bound beyond loopback.
    #[arg(long, env = "LIGHTHOUSE_EMULATOR_ADMIN_KEY")]
    pub admin_key: Option<String>,
    /// Where the web console (`/`, `/console/`) answers: loopback (default: connections to a loopback
    /// address only), any, off, or an IP address of a listener besides loopback.
    #[arg(
        long,
        env = "LIGHTHOUSE_EMULATOR_CONSOLE_BIND",
        default_value = "loopback"
    )]
    pub console_bind: String,
    /// Port for the MSAL user-realm lookup that MSAL Python sends to 443 (0 disables).
    #[arg(
        long,
        env = "LIGHTHOUSE_EMULATOR_USERREALM_PORT",
        default_value_t = 443
    )]
    pub userrealm_port: u16,
    /// At most this many authorizations per registration definition (an emulator setting; Partner Center allows 20).
    #[arg(
        long,
        env = "LIGHTHOUSE_EMULATOR_MAX_AUTHORIZATIONS",
        default_value_t = 20
    )]
    pub max_authorizations: usize,
    /// Resource Graph's per-user quota, 15 queries per 5 seconds (`off` for load tests).
    #[arg(
        long,
        env = "LIGHTHOUSE_EMULATOR_GRAPH_QUOTA",
        value_enum,
        default_value = "on"
    )]
    pub graph_quota: Switch,
    /// Connections served at once; more clients wait in the kernel's accept queue until one closes.
    #[arg(
        long,
        env = "LIGHTHOUSE_EMULATOR_MAX_CONNECTIONS",
        default_value_t = crate::server::DEFAULT_MAX_CONNECTIONS
    )]
    pub max_connections: usize,
    /// Seconds a client has to send a request's headers; the TLS handshake gets at most 10 of them and a
    /// connection idle for four times it is closed.
    #[arg(
        long,
        env = "LIGHTHOUSE_EMULATOR_CLIENT_TIMEOUT",
        default_value_t = crate::server::DEFAULT_CLIENT_TIMEOUT.as_secs()
    )]
    pub client_timeout: u64,
    /// Sandboxes alive at once (`POST /_emulator/sandboxes`, each an isolated world on its own
    /// port); 0 turns sandboxes off.
    #[arg(
        long,
        env = "LIGHTHOUSE_EMULATOR_MAX_SANDBOXES",
        default_value_t = crate::sandboxes::DEFAULT_MAX
    )]
    pub max_sandboxes: usize,
    /// The token-signing key of a state dir that has none: `well-known` (the shipped development key,
    /// instant) or `private` (generated, and replacing a well-known one). Default: well-known on
    /// loopback, private with a --bind beyond it.
    #[arg(long, env = "LIGHTHOUSE_EMULATOR_SIGNING_KEY", value_enum)]
    pub signing_key: Option<crate::auth::keys::KeyChoice>,
    /// `arm`: ARM's request throttling (token buckets per subscription, tenant and principal; 429 with
    /// Retry-After). Also switched at run time with `POST /_emulator/throttling`.
    #[arg(
        long,
        env = "LIGHTHOUSE_EMULATOR_THROTTLING",
        value_enum,
        default_value = "off"
    )]
    pub throttling: crate::throttle::Mode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Switch {
    On,
    Off,
}

#[derive(Debug, Clone, Args)]
pub struct TokenArgs {
    /// UPN, display name, object id or application id of a principal of the world.
    pub principal: String,
    /// The audience (resource) of the token.
    #[arg(long, default_value = "https://management.azure.com/")]
    pub audience: String,
    /// Lifetime when no emulator answers and the token is minted here (a running emulator uses its own).
    #[arg(
        long,
        env = "LIGHTHOUSE_EMULATOR_TOKEN_LIFETIME",
        default_value_t = 3600
    )]
    pub lifetime: i64,
    /// The running emulator's admin key, when it has one.
    #[arg(long, env = "LIGHTHOUSE_EMULATOR_ADMIN_KEY")]
    pub admin_key: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct EnvArgs {
    /// Print for this shell syntax.
    #[arg(long, value_enum, default_value = "sh")]
    pub shell: Shell,
    /// Give this principal (UPN, display name, object id or app id) its own AZURE_CONFIG_DIR, signed in
    /// once: switch identities by evaluating `env --as` again, without logging out.
    #[arg(long = "as", value_name = "PRINCIPAL")]
    pub as_principal: Option<String>,
    /// Point the clients at this sandbox of the running emulator (its own port and az config dir).
    #[arg(long, value_name = "ID")]
    pub sandbox: Option<String>,
    /// The running emulator's admin key, when it has one (for `--sandbox`).
    #[arg(long, env = "LIGHTHOUSE_EMULATOR_ADMIN_KEY")]
    pub admin_key: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Sh,
    Fish,
    Powershell,
}

/// The default state dir: `$HOME/.lighthouse-emulator` (or `./.lighthouse-emulator` without a home).
pub fn default_state_dir() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
        .join(".lighthouse-emulator")
}
