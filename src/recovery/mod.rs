//! Missed deliveries recovered: GitHub never redelivers a webhook by itself, so with
//! App authentication the service asks it to, for the deliveries that never got a 2xx
//! (the service was down for a deploy, or answered too late). `plan` decides which
//! (pure), `deliveries` talks to GitHub, `sweep` runs it every `REDELIVER_EVERY` on one
//! instance at a time. A redelivered event takes the normal webhook path, where its
//! delivery id dedups it: nothing is re-run twice.

pub mod deliveries;
pub mod plan;
pub mod sweep;

pub use sweep::Sweeper;
