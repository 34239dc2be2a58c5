//! The status page's table of failure signatures (and `/api/signatures`): per
//! repository and signature, what families call it, how often it was seen and
//! re-run, how often its re-runs passed, and what the policy in force would do with
//! it now (`policy::verdict_now`: the family, then what learning says).

use serde::Serialize;

use super::status_html::{Table, cell, escape, figures, text};
use crate::policy::families::Class;
use crate::policy::{self, AfterRerun, Outcomes, SignatureHistory};
use crate::rules::LivePolicy;
use crate::store::SignatureRow;

/// Signatures shown at most (the table keeps more: `codec::SIGNATURES_KEPT`).
pub const SIGNATURE_ROWS: u32 = 200;

/// One signature as the page and the API show it.
#[derive(Serialize)]
pub struct SignatureView {
    #[serde(flatten)]
    counts: SignatureRow,
    /// Re-runs of it in every repository, and how many passed.
    everywhere: Outcomes,
    /// What the policy in force would do with it now.
    verdict_now: String,
}

/// The rows, each with what the repository's rule would do with it now (read as a
/// decision reads it: here, and every repository's counts the store summed).
pub fn views(rows: Vec<SignatureRow>, policy: &LivePolicy) -> Vec<SignatureView> {
    let current = policy.current();
    rows.into_iter()
        .map(|row| {
            let history = SignatureHistory {
                here: Outcomes {
                    reruns: count(row.reruns),
                    passed: count(row.passed),
                },
                recent: policy::decode_recent(&row.recent),
                everywhere: Outcomes {
                    reruns: count(row.everywhere.0),
                    passed: count(row.everywhere.1),
                },
            };
            let rule = current.rule_for(&row.repo, "");
            SignatureView {
                everywhere: history.everywhere,
                verdict_now: policy::verdict_now(rule, class(row.class.as_deref()), &history),
                counts: row,
            }
        })
        .collect()
}

fn count(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn class(word: Option<&str>) -> Option<Class> {
    match word? {
        "transient" => Some(Class::Transient),
        "broken" => Some(Class::Broken),
        "not_started" => Some(Class::NotStarted),
        _ => None,
    }
}

/// The latest outcomes in a few characters: ✓ passed, ✗ failed again.
fn recent(letters: &str) -> String {
    policy::decode_recent(letters)
        .iter()
        .map(|outcome| match outcome {
            AfterRerun::Passed => '✓',
            AfterRerun::FailedAgain => '✗',
        })
        .collect()
}

/// The table.
pub fn render(html: &mut String, signatures: &[SignatureView]) {
    html.push_str("<h2>Failures and what re-runs did</h2><p class=\"muted\">Each failure's decisive line, with numbers, hashes, hosts and paths normalised away; re-runs counted are the service's and people's.</p>");
    if signatures.is_empty() {
        html.push_str("<p>None judged yet.</p>");
        return;
    }
    let columns = [
        text("repository"),
        text("failure"),
        text("family"),
        figures("seen"),
        figures("re-run"),
        figures("passed"),
        text("latest"),
        text("now"),
    ];
    let mut table = Table::start(html, &columns);
    for view in signatures {
        let row = &view.counts;
        let family = row
            .family
            .as_deref()
            .or(row.class.as_deref())
            .unwrap_or("unknown");
        table.row(&[
            cell(escape(&row.repo)),
            cell(format!("<code>{}</code>", escape(&row.example))),
            cell(escape(family)),
            cell(row.seen.to_string()),
            cell(row.reruns.to_string()),
            cell(row.passed.to_string()),
            cell(recent(&row.recent)),
            cell(escape(&view.verdict_now)),
        ]);
    }
    table.end();
}
