//! What kind of value a variable takes, with its typed default and, for a number, the
//! range it takes: the one place either is written. `Settings::from_vars` reads every
//! number and duration through it (`Env::count`, `Env::seconds`), and `--help` shows the
//! default it holds, so the two cannot disagree.

use std::time::Duration;

use super::MAX_DURATION;

/// The kind of value a variable takes, and what it is when unset.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    /// Must be set: start-up refuses to go without it.
    Required,
    /// May stay unset, and has no value then; `unset` says what that means, as `--help`
    /// shows it ("unset", "empty", "check_run with the App, else off").
    Optional {
        /// What leaving it unset means.
        unset: &'static str,
    },
    /// Text (a name, a list, a URL) that is `default` when unset, read as a set value is.
    Text {
        /// The value taken when unset.
        default: &'static str,
    },
    /// `true` or `false` (or 1/0, yes/no, on/off).
    Flag {
        /// The value taken when unset.
        default: bool,
    },
    /// A whole number.
    Count(Count),
    /// A duration, written in seconds.
    Seconds(Seconds),
}

/// A whole number's default and range.
#[derive(Clone, Copy, Debug)]
pub struct Count {
    /// The value taken when unset.
    pub default: CountDefault,
    /// The least value taken.
    pub min: u64,
    /// The largest value taken (at most what the setting's type holds: a test reads every
    /// bound).
    pub max: u64,
    /// Why the bounds are where they are, added to the message for a value outside them.
    pub why: Option<Bounds>,
}

/// Why a number's bounds are where they are, one reason a side: a message gives the one
/// that fits the value refused.
#[derive(Clone, Copy, Debug)]
pub struct Bounds {
    /// Said of a value below the least.
    pub below: &'static str,
    /// Said of a value above the largest.
    pub above: &'static str,
}

/// A whole number's default: a constant, or found on the machine at start-up.
#[derive(Clone, Copy, Debug)]
pub enum CountDefault {
    /// This number.
    Fixed(u64),
    /// What `value` finds; `shown` is how `--help` names it ("CPU cores").
    Machine {
        /// How `--help` and the documentation name it.
        shown: &'static str,
        /// Finds it.
        value: fn() -> u64,
    },
}

/// A duration's default and range: from 0 (or more than 0) up to `max`.
#[derive(Clone, Copy, Debug)]
pub struct Seconds {
    /// The value taken when unset.
    pub default: Duration,
    /// Whether 0 is refused ("must be more than 0").
    pub positive: bool,
    /// The longest value taken.
    pub max: Duration,
    /// Why it is the longest, as the message for a longer one says it.
    pub max_why: &'static str,
}

impl Count {
    /// A number from `min` to `max`, `default` when unset.
    pub const fn new(default: u64, min: u64, max: u64) -> Self {
        Self {
            default: CountDefault::Fixed(default),
            min,
            max,
            why: None,
        }
    }

    /// A number from `min` to `max` whose default `value` finds on the machine;
    /// `shown` names it in `--help`.
    pub const fn found(shown: &'static str, value: fn() -> u64, min: u64, max: u64) -> Self {
        Self {
            default: CountDefault::Machine { shown, value },
            min,
            max,
            why: None,
        }
    }

    /// The same, with why a value below `min` or above `max` is refused.
    pub const fn because(self, below: &'static str, above: &'static str) -> Self {
        Self {
            why: Some(Bounds { below, above }),
            ..self
        }
    }
}

impl CountDefault {
    /// The number taken when the variable is unset.
    pub fn value(&self) -> u64 {
        match self {
            CountDefault::Fixed(value) => *value,
            CountDefault::Machine { value, .. } => value(),
        }
    }
}

impl Seconds {
    /// A duration of `default` seconds when unset, from 0 to [`MAX_DURATION`].
    pub const fn new(default: u64) -> Self {
        Self {
            default: Duration::from_secs(default),
            positive: false,
            max: MAX_DURATION,
            max_why: "30 days",
        }
    }

    /// The same, with 0 refused.
    pub const fn positive(self) -> Self {
        Self {
            positive: true,
            ..self
        }
    }

    /// The same, at most `max` (shorter than [`MAX_DURATION`]) for the reason `why`.
    pub const fn at_most(self, max: Duration, why: &'static str) -> Self {
        Self {
            max,
            max_why: why,
            ..self
        }
    }
}

impl Kind {
    /// What the variable is when unset, as `--help` and the documentation show it.
    pub fn shown_default(&self) -> String {
        match self {
            Kind::Required => "required".into(),
            Kind::Optional { unset } => (*unset).into(),
            Kind::Text { default } => (*default).into(),
            Kind::Flag { default } => default.to_string(),
            Kind::Count(count) => match count.default {
                CountDefault::Fixed(value) => value.to_string(),
                CountDefault::Machine { shown, .. } => shown.into(),
            },
            Kind::Seconds(seconds) => seconds_text(seconds.default),
        }
    }
}

/// A duration as a number of seconds, the way it is written in the environment (`5`,
/// `0.25`).
pub fn seconds_text(duration: Duration) -> String {
    format!("{}", duration.as_secs_f64())
}
