//! The service's background loops, each a task on the main thread that `startup`
//! starts once: the outbox poller, the purger, the quiet-run sweep, the memory keeper,
//! the policy reloader on `SIGHUP`, the mailbox summary and the redelivery sweep. None
//! decides anything: each asks the store, the registry or the policy on a timer.

mod memory;
mod outbox;
mod policy_reload;
mod purger;
mod quiet;
mod redelivery;
mod summary;

pub(crate) use memory::spawn_memory_keeper;
pub(crate) use outbox::spawn_outbox_poller;
pub(crate) use policy_reload::spawn_policy_reloader;
pub(crate) use purger::spawn_purger;
pub(crate) use quiet::spawn_quiet_sweeper;
pub(crate) use redelivery::spawn_redelivery_sweep;
pub(crate) use summary::{Summary, pending_reruns, spawn_summary};
