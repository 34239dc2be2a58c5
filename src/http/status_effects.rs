//! The status page's "What re-runs cost and saved": over the last day and the last
//! 30 days, the automatic re-runs GitHub started, the runner time their jobs took
//! (from each job's `started_at` and `completed_at`), how many turned their run
//! green (every job the service re-ran passed), and what the skips saved (their
//! failed jobs' own run time: about what re-running them would have cost).

use serde::Serialize;

use super::status_html::{Table, age, cell, figures, text};
use crate::store::RerunEffects;

/// The two windows the page shows.
#[derive(Serialize)]
pub struct Effects {
    /// The last 24 hours.
    pub day: RerunEffects,
    /// The last 30 days.
    pub month: RerunEffects,
}

/// Runner time as people read it: `3 h 20 min`, `12 min`, `40 s`.
fn runner_time(ms: u64) -> String {
    age(ms / 1000)
}

/// `a of b (p %)`.
fn share(part: u64, whole: u64) -> String {
    if whole == 0 {
        return format!("{part}");
    }
    format!("{part} of {whole} ({} %)", (part * 100 + whole / 2) / whole)
}

/// One line of the table: its words, and how a window's figures show in it.
type Row = (&'static str, fn(&RerunEffects) -> String);

/// The section.
pub fn render(html: &mut String, effects: &Effects) {
    html.push_str("<h2>What re-runs cost and saved</h2><p class=\"muted\">Runner time is the re-run jobs' own (started to completed); a skip saved about its failed jobs' run time.</p>");
    let rows: [Row; 4] = [
        ("automatic re-runs started", |e| e.reruns.to_string()),
        ("runner time they took", |e| runner_time(e.runner_ms)),
        ("turned the run green", |e| share(e.turned_green, e.reruns)),
        ("skipped, saving about", |e| {
            format!("{} ({})", runner_time(e.skipped_ms), e.skips)
        }),
    ];
    let columns = [text(""), figures("last 24 h"), figures("last 30 days")];
    let mut table = Table::start(html, &columns);
    for (what, shown) in rows {
        table.row(&[
            cell(what.to_owned()),
            cell(shown(&effects.day)),
            cell(shown(&effects.month)),
        ]);
    }
    table.end();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runner_time_reads_in_the_largest_unit_that_fits() {
        assert_eq!(runner_time(40_500), "40 s");
        assert_eq!(runner_time(12 * 60_000 + 5_000), "12 min");
        assert_eq!(runner_time(3 * 3_600_000 + 20 * 60_000), "3 h 20 min");
    }

    #[test]
    fn a_share_of_nothing_is_just_the_count() {
        assert_eq!(share(3, 4), "3 of 4 (75 %)");
        assert_eq!(share(0, 0), "0");
    }
}
