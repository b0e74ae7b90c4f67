//! One module per client route; `crate::app` maps paths to them.

pub mod alerts;
pub mod deploys;
pub mod errors;
pub mod login;
pub mod logs;
pub mod metrics;
pub mod not_found;
pub mod overview;
pub mod settings;
