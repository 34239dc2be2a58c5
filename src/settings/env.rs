//! The variables being read, and how one of each kind is read and checked. A number's
//! or a duration's default and range come from its entry in [`super::catalog`], never
//! from the caller: `env.count("PORT")` is all `Settings::from_vars` writes.

use std::collections::HashMap;
use std::time::Duration;

use super::catalog::declared;
use super::kind::{Count, Kind, Seconds};
use super::{MAX_DURATION, SettingsError};

/// The variables being read; an empty value counts as unset.
pub struct Env(pub HashMap<String, String>);

/// Which side of its range a refused number fell out of.
enum Side {
    Below,
    Above,
}

impl Env {
    /// The value of `name`, trimmed; `None` when unset or empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
    }

    /// An error naming `variable`.
    pub fn problem(&self, variable: &'static str, problem: &str) -> SettingsError {
        SettingsError {
            variable,
            problem: problem.to_owned(),
        }
    }

    /// `name`'s text, or its catalog default when unset.
    pub fn text(&self, name: &'static str) -> &str {
        match declared(name).kind {
            Kind::Text { default } => self.get(name).unwrap_or(default),
            other => undeclared(name, "text with a default", other),
        }
    }

    /// A whole number from the variable's own range (its catalog entry's, not only its
    /// type's), or its catalog default when unset: a value outside the range, however
    /// large or negative, is "out of range" and the message gives the range; only text
    /// that is no whole number at all is "not a whole number".
    pub fn count<T: TryFrom<u64>>(&self, name: &'static str) -> Result<T, SettingsError> {
        let count = match declared(name).kind {
            Kind::Count(count) => count,
            other => undeclared(name, "a count", other),
        };
        let Some(raw) = self.get(name) else {
            return T::try_from(count.default.value())
                .map_err(|_| out_of_range(name, "its default", &count, Side::Above));
        };
        let side = match raw.parse::<u64>() {
            Ok(value) if (count.min..=count.max).contains(&value) => {
                // The catalog's range fits the setting's type (a test takes every bound).
                return T::try_from(value)
                    .map_err(|_| out_of_range(name, raw, &count, Side::Above));
            }
            Ok(value) if value < count.min => Side::Below,
            Ok(_) => Side::Above,
            // Digits that do not fit (`99999999999999999999999`, `-1`) are out of range
            // too; anything else is not a number.
            Err(_) if is_whole_number(raw) && raw.starts_with('-') => Side::Below,
            Err(_) if is_whole_number(raw) => Side::Above,
            Err(_) => {
                return Err(SettingsError {
                    variable: name,
                    problem: format!("{raw:?} is not a whole number"),
                });
            }
        };
        Err(out_of_range(name, raw, &count, side))
    }

    /// `true` or `false` (1/0, yes/no, on/off), or the catalog default when unset.
    pub fn flag(&self, name: &'static str) -> Result<bool, SettingsError> {
        let default = match declared(name).kind {
            Kind::Flag { default } => default,
            other => undeclared(name, "a flag", other),
        };
        match self.get(name).map(str::to_ascii_lowercase).as_deref() {
            None => Ok(default),
            Some("false" | "0" | "no" | "off") => Ok(false),
            Some("true" | "1" | "yes" | "on") => Ok(true),
            Some(other) => Err(SettingsError {
                variable: name,
                problem: format!("{other:?} is not true or false"),
            }),
        }
    }

    /// A duration in seconds, within the variable's catalog range, or its catalog default
    /// when unset.
    pub fn seconds(&self, name: &'static str) -> Result<Duration, SettingsError> {
        self.seconds_as(name, name)
    }

    /// The duration set in `read`, taken by the rules `declared` has in the catalog: a
    /// variable's former name (`TRACKER_LINGER`) reads as the new one does.
    pub fn seconds_as(
        &self,
        read: &'static str,
        declared_as: &'static str,
    ) -> Result<Duration, SettingsError> {
        let seconds: Seconds = match declared(declared_as).kind {
            Kind::Seconds(seconds) => seconds,
            other => undeclared(declared_as, "seconds", other),
        };
        let Some(raw) = self.get(read) else {
            return Ok(seconds.default);
        };
        let value = raw.parse::<f64>().map_err(|_| SettingsError {
            variable: read,
            problem: format!(
                "{raw:?} is not a number of seconds; write one without a unit, such as {read}=5 or {read}=0.25"
            ),
        })?;
        // Every duration is first held to 30 days, so that a huge value says so the same
        // way everywhere; a variable's own shorter bound is checked after 0 is.
        let duration = self.at_most(read, value, MAX_DURATION, "30 days")?;
        if seconds.positive && duration.is_zero() {
            return Err(self.problem(read, "must be more than 0"));
        }
        if seconds.max < MAX_DURATION {
            return self.at_most(read, duration.as_secs_f64(), seconds.max, seconds.max_why);
        }
        Ok(duration)
    }

    /// `value` seconds as a duration, refused above `bound` (checked before the
    /// conversion, which itself refuses only what does not fit a `Duration`).
    fn at_most(
        &self,
        name: &'static str,
        value: f64,
        bound: Duration,
        bound_text: &str,
    ) -> Result<Duration, SettingsError> {
        if value > bound.as_secs_f64() {
            return Err(SettingsError {
                variable: name,
                problem: format!(
                    "{value} seconds is too long: at most {} ({bound_text})",
                    bound.as_secs()
                ),
            });
        }
        Duration::try_from_secs_f64(value).map_err(|_| SettingsError {
            variable: name,
            problem: format!("{value} is not a non-negative number of seconds"),
        })
    }

    /// A comma-separated list, items trimmed and empty ones dropped. Logins compare
    /// case-insensitively on GitHub, hence `lowercase`.
    pub fn list(raw: &str, lowercase: bool) -> Vec<String> {
        raw.split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(|item| {
                if lowercase {
                    item.to_ascii_lowercase()
                } else {
                    item.to_owned()
                }
            })
            .collect()
    }
}

/// The message for `raw` outside `count`'s range: the range, and why the bound on that
/// side is where it is when the catalog says.
fn out_of_range(name: &'static str, raw: &str, count: &Count, side: Side) -> SettingsError {
    let mut problem = format!(
        "{raw} is out of range: {name} takes {} to {}",
        count.min, count.max
    );
    if let Some(why) = count.why {
        let why = match side {
            Side::Below => why.below,
            Side::Above => why.above,
        };
        problem.push_str(&format!(" ({why})"));
    }
    SettingsError {
        variable: name,
        problem,
    }
}

/// A variable read as another kind than the catalog declares: a mistake in the code,
/// met by the first test that reads the settings.
fn undeclared(name: &str, read_as: &str, declared: Kind) -> ! {
    panic!("settings::catalog declares {name} as {declared:?}, but it is read as {read_as}")
}

/// Whether `raw` is written as a whole number (an optional sign, then digits), whatever
/// its size.
fn is_whole_number(raw: &str) -> bool {
    let digits = raw.strip_prefix(['-', '+']).unwrap_or(raw);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}
