//! lighthouse-emulator: a local Azure Resource Manager and Entra ID token service that enforces the
//! rules of Azure Lighthouse. The crate is a library so tests can start the server in-process; the
//! binary (`main.rs`) only reads arguments. See the README's Architecture section for the code map.
#![forbid(unsafe_code)]

pub mod activity;
pub mod admin;
pub mod admin_cli;
pub mod alerting;
pub mod app;
pub mod arm;
pub mod auth;
pub mod authn;
pub mod authz;
pub mod cli;
pub mod client;
pub mod clock;
pub mod console;
pub mod dataplane;
pub mod directory;
pub mod dispatch;
pub mod explain;
pub mod facts;
pub mod faults;
pub mod graph;
pub mod hierarchy;
pub mod hosts;
pub mod kql;
pub mod lighthouse;
pub mod log_alerts;
pub mod logs;
pub mod logsink;
pub mod metrics;
pub mod monitor;
pub mod notify;
pub mod ops;
pub mod policy;
pub mod policy_gate;
pub mod policy_tokens;
pub mod providers;
pub mod proxy;
pub mod quota;
pub mod sandboxes;
pub mod server;
pub mod snapshots;
pub mod start;
pub mod store;
pub mod template;
pub mod throttle;
pub mod tls;
pub mod wire;
pub mod world;
pub mod world_gen;
pub mod world_state;
