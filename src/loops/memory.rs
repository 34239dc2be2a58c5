//! The memory keeper: every second the registry and the allocator are asked to give
//! back what trackers that slept left (`crate::memory`).

use std::sync::Arc;
use std::time::Duration;

use crate::actors::Registry;

/// How often the registry and the allocator are asked to give back what trackers that
/// slept left (`src/memory.rs`), and the fall in trackers awake that is worth it.
const MEMORY_LOOK_EVERY: Duration = Duration::from_secs(1);

const MEMORY_LEAST_FALL: usize = 5_000;

/// Shrinks the registry and gives the allocator's free memory back once many trackers
/// slept (`src/memory.rs`); the trim runs on a blocking thread.
pub(crate) fn spawn_memory_keeper(registry: Arc<Registry>) {
    actix_web::rt::spawn(async move {
        let mut watch = crate::memory::TrimWatch::new(MEMORY_LEAST_FALL);
        loop {
            actix_web::rt::time::sleep(MEMORY_LOOK_EVERY).await;
            let shrunk = registry.shrink_if_sparse();
            if watch.observe(registry.len()) || shrunk {
                let _ = actix_web::rt::task::spawn_blocking(crate::memory::give_back).await;
            }
        }
    });
}
