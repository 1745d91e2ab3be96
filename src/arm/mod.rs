//! ARM's pure vocabulary: resource ids, routes, api-versions and the error envelope.
//! Nothing here does I/O, reads the clock or makes ids.

pub mod alerts_route;
pub mod api_version;
pub mod error;
pub mod policy_route;
pub mod policyinsights_route;
pub mod resource_id;
pub mod route;
pub mod tags;
