//! Presentational pieces shared by pages. Invariant: components never fetch;
//! pages pass them data from `crate::api`.

pub mod refresh;
pub mod upcoming;
