//! The root logger: `term` lines for people ([`term`]: fields in a fixed, documented
//! order), `json` objects for log shippers (numbers as JSON numbers), written off the
//! request path by slog-async.

mod settings;
pub mod term;

use slog::{Drain, Logger, o};
use slog_async::{AsyncGuard, OverflowStrategy};

pub use settings::{LogFormat, LoggingSettings};

/// Lines waiting to be written before new ones are dropped (and the drop is reported).
const LOG_BUFFER: usize = 16_384;

/// Builds the root logger. Keep the guard alive until exit: dropping it flushes the buffer.
pub fn build(settings: &LoggingSettings) -> (Logger, AsyncGuard) {
    let (drain, guard) = match settings.format {
        LogFormat::Term => async_drain(term::TermLines::new(std::io::stdout()).fuse()),
        LogFormat::Json => {
            let format = slog_json::Json::new(std::io::stdout())
                .add_default_keys()
                .build()
                .fuse();
            async_drain(format)
        }
    };
    let drain = drain.filter_level(settings.level).fuse();
    (Logger::root(drain, o!("service" => "job-rerunner")), guard)
}

fn async_drain<D>(drain: D) -> (slog::Fuse<slog_async::Async>, AsyncGuard)
where
    D: Drain<Err = slog::Never, Ok = ()> + Send + 'static,
{
    let (drain, guard) = slog_async::Async::new(drain)
        .chan_size(LOG_BUFFER)
        .overflow_strategy(OverflowStrategy::DropAndReport)
        .thread_name("log".into())
        .build_with_guard();
    (drain.fuse(), guard)
}
