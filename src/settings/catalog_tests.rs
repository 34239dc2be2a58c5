//! The catalog holds: every number's default lies in its range, `from_vars` with nothing
//! set gives exactly the catalog's typed defaults, each bound is taken and the next
//! value out is refused with the range, and a help text that restates a range restates
//! the catalog's.

use std::collections::HashMap;
use std::time::Duration;

use super::kind::seconds_text;
use super::{Count, Kind, MAX_DURATION, Seconds, Settings, SettingsError, VARIABLES};

/// Reads `NAME=value` with the required variables set.
fn read_with(name: &str, value: &str) -> Result<Settings, SettingsError> {
    let vars: HashMap<String, String> = [("GITHUB_SIGN_KEY", "k"), (name, value)]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    Settings::from_vars(vars)
}

/// Every count in the catalog, with its name.
fn counts() -> Vec<(&'static str, Count)> {
    VARIABLES
        .iter()
        .filter_map(|variable| match variable.kind {
            Kind::Count(count) => Some((variable.name, count)),
            _ => None,
        })
        .collect()
}

/// Every duration in the catalog, with its name.
fn durations() -> Vec<(&'static str, Seconds)> {
    VARIABLES
        .iter()
        .filter_map(|variable| match variable.kind {
            Kind::Seconds(seconds) => Some((variable.name, seconds)),
            _ => None,
        })
        .collect()
}

#[test]
fn every_number_default_lies_in_its_range() {
    assert!(counts().len() >= 12 && durations().len() >= 17);
    for (name, count) in counts() {
        let default = count.default.value();
        assert!(count.min <= count.max, "{name}: {count:?}");
        assert!(
            (count.min..=count.max).contains(&default),
            "{name}'s default {default} is outside {} to {}",
            count.min,
            count.max
        );
    }
    for (name, seconds) in durations() {
        assert!(seconds.max <= MAX_DURATION, "{name}: {seconds:?}");
        assert!(seconds.default <= seconds.max, "{name}: {seconds:?}");
        assert!(
            !seconds.positive || !seconds.default.is_zero(),
            "{name}'s default is 0, which it refuses"
        );
    }
}

#[test]
fn with_nothing_set_the_settings_are_the_catalogs_typed_defaults() {
    let settings = read_with("GITHUB_SIGN_KEY", "k").expect("the defaults are valid");
    let mut compared = 0;
    for variable in VARIABLES {
        let expected = match variable.kind {
            Kind::Count(count) => count.default.value().to_string(),
            Kind::Seconds(seconds) => seconds_text(seconds.default),
            Kind::Text { default } => default.to_owned(),
            Kind::Flag { default } => default.to_string(),
            // No value when unset: nothing typed to compare.
            Kind::Required | Kind::Optional { .. } => continue,
        };
        compared += 1;
        assert_eq!(
            (variable.show)(&settings),
            expected,
            "{} is not its catalog default when unset",
            variable.name
        );
    }
    assert!(compared > 35, "only {compared} variables compared");
    // A few read straight from the typed fields, not through `show`.
    assert_eq!(settings.port, 5000);
    assert_eq!(settings.body_timeout, Duration::from_secs(5));
    assert_eq!(settings.github.log_tail_bytes, 256 << 10);
    assert_eq!(settings.storm.window_ms, 600_000);
}

#[test]
fn every_count_takes_its_bounds_and_refuses_the_next_value_out_with_its_range() {
    for (name, count) in counts() {
        for bound in [count.min, count.max] {
            // Another variable may still refuse it (MAX_BUFFERED_BYTES must be at least
            // MAX_BODY_BYTES), but never as out of range: the bound fits the field's type.
            if let Err(err) = read_with(name, &bound.to_string()) {
                assert!(
                    err.variable != name || !err.problem.contains("out of range"),
                    "{name}={bound}: {err}"
                );
            }
        }
        let range = format!("{name} takes {} to {}", count.min, count.max);
        let outside = [count.min.checked_sub(1), count.max.checked_add(1)];
        for value in outside.into_iter().flatten() {
            let err = read_with(name, &value.to_string()).expect_err(name);
            assert_eq!(err.variable, name);
            assert!(err.problem.contains(&range), "{name}={value}: {err}");
        }
    }
}

#[test]
fn every_duration_takes_its_longest_and_refuses_0_where_the_catalog_says() {
    for (name, seconds) in durations() {
        let longest = seconds.max.as_secs();
        let settings = read_with(name, &longest.to_string()).expect(name);
        let shown = VARIABLES
            .iter()
            .find(|variable| variable.name == name)
            .map(|variable| (variable.show)(&settings));
        assert_eq!(shown, Some(longest.to_string()), "{name}={longest}");
        let err = read_with(name, &(longest + 1).to_string()).expect_err(name);
        assert!(
            err.problem
                .contains(&format!("at most {longest} ({})", seconds.max_why)),
            "{name}: {err}"
        );
        let zero = read_with(name, "0");
        assert_eq!(
            zero.is_err(),
            seconds.positive,
            "{name}=0: {:?}",
            zero.err()
        );
    }
}

/// The numbers of `help` a range is written with: `(2, 51)` for "2 to 51", `(None, 300)`
/// for "at most 300".
fn ranges_written(help: &str) -> Vec<(Option<u64>, u64)> {
    let words: Vec<&str> = help
        .split_whitespace()
        .map(|word| word.trim_matches(|c: char| !c.is_ascii_alphanumeric()))
        .collect();
    let number = |at: usize| words.get(at).and_then(|word| word.parse::<u64>().ok());
    let mut found = Vec::new();
    for at in 0..words.len() {
        match (words[at], number(at), words.get(at + 1)) {
            (_, Some(low), Some(&"to")) => {
                found.extend(number(at + 2).map(|high| (Some(low), high)))
            }
            ("at", None, Some(&"most")) => found.extend(number(at + 2).map(|high| (None, high))),
            _ => {}
        }
    }
    found
}

#[test]
fn a_help_text_that_gives_a_range_gives_the_catalogs() {
    let mut checked = 0;
    for variable in VARIABLES {
        let (min, max) = match variable.kind {
            Kind::Count(count) => (count.min, count.max),
            Kind::Seconds(seconds) => (0, seconds.max.as_secs()),
            _ => continue,
        };
        for (low, high) in ranges_written(variable.help) {
            checked += 1;
            assert_eq!(high, max, "{}: {}", variable.name, variable.help);
            if let Some(low) = low {
                assert_eq!(low, min, "{}: {}", variable.name, variable.help);
            }
        }
    }
    assert!(
        checked >= 4,
        "only {checked} ranges found in the help texts"
    );
    assert_eq!(
        ranges_written("(at most RUN_ATTEMPTS-1 re-runs; 2 to 51)"),
        [(Some(2), 51)]
    );
}

#[test]
fn every_duration_of_the_catalog_is_one_the_huge_value_test_checks() {
    for (name, _) in durations() {
        assert!(
            super::tests::DURATION_VARIABLES.contains(&name),
            "{name} is not in DURATION_VARIABLES"
        );
    }
}
