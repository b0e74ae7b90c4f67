//! Domain records and `/api/v1` types shared by the server and the web app.
//!
//! # Layout
//! - [`api`]: request and response bodies of the `/api/v1` HTTP API, used as-is
//!   by the backend handlers and by the frontend's fetches.
//! - [`errors`]: the errors part of `/api/v1`: projects, issues and events.
//! - [`access`]: signing in, users and API tokens.
//!
//! Invariant: this crate depends on serde only, so it builds for wasm32.

pub mod access;
pub mod api;
pub mod errors;
