//! The `lighthouse-emulator` binary: the only place that reads arguments and environment.
#![forbid(unsafe_code)]

mod arm;
mod auth;
mod clock;
mod directory;
mod wire;
mod world;
mod authz;
mod facts;
mod store;

fn main() {}
