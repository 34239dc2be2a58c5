//! The logging section of the settings: how lines are written, and the least severe
//! level written. `settings` reads it from the environment (`LOG_FORMAT`, `LOG_LEVEL`);
//! [`super::build`] only ever sees this.

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// Coloured, aligned lines for people.
    Term,
    /// One JSON object per line for log shippers.
    Json,
}

/// How the root logger writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoggingSettings {
    /// Log line format.
    pub format: LogFormat,
    /// Least severe level logged.
    pub level: slog::Level,
}
