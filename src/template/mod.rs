//! The ARM template language: expressions (`expr`), their evaluation and functions (`eval`), the
//! template as a deployment plan (`plan`: parameters, variables, copy loops, conditions, `dependsOn`
//! order, nested deployments, outputs), ARM's hashes (`hash`), error locations in the request text
//! (`locate`) and templates written out as Bicep (`bicep`). PURE: no store, no I/O, no clock — the
//! deployment's context comes in as a `Context` and other resources' state through an `Env`.

pub mod bicep;
pub mod eval;
pub mod expr;
pub mod hash;
pub mod locate;
pub mod plan;

pub use eval::{Context, Env};
pub use plan::{prepare, Instance, Plan, TemplateError};
