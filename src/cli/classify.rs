//! `job-rerunner classify [--rules FILE] [PATH|-]`: what the service would make of a
//! failure's text, like a regex tester for policies. It reads a log, annotations or
//! the text the UI shows (a file, or standard input), and prints the decisive line,
//! the family that knows it, its signature and the decision the policy's evidence
//! checks lead to (`policy::classify`). Without `--rules` the recommended policy
//! (`docs/policies/recommended.toml`, built in) decides.
//!
//! It needs no settings, store or network: an operator can run it anywhere the
//! binary is, on a log saved from GitHub.

use std::io::{Read, Write};
use std::path::Path;
use std::process::ExitCode;

use crate::policy::{self, EnvDefaults, RECOMMENDED_POLICY, Verdict};

/// Most bytes of text read; the tail is kept, as the service keeps a log's tail.
const MAX_TEXT_BYTES: usize = 64 << 20;

/// Runs the command: prints the classification, or one line naming the problem and
/// exit code 2.
pub fn run(rules: Option<&Path>, input: Option<&Path>) -> ExitCode {
    let loaded = match rules {
        Some(path) => policy::load(None, Some(path), &EnvDefaults::default()),
        None => policy::load(Some(RECOMMENDED_POLICY), None, &EnvDefaults::default()),
    };
    let policy = match loaded {
        Ok(policy) => policy,
        Err(err) => return fail(&format!("the policy: {err}")),
    };
    let text = match read_text(input) {
        Ok(text) => text,
        Err(problem) => return fail(&problem),
    };
    let found = policy::classify(&text, policy.defaults());
    let _ = std::io::stdout()
        .lock()
        .write_all(render(&found).as_bytes());
    ExitCode::SUCCESS
}

/// The classification as the command prints it.
pub fn render(found: &policy::Classification) -> String {
    let mut out = String::new();
    match &found.decisive {
        Some(decisive) => {
            out.push_str(&format!("decisive:  {}\n", decisive.line));
            match (&decisive.known, decisive.class) {
                (Some(known), Some(class)) => out.push_str(&format!(
                    "family:    {} ({}), pattern @{known}\n",
                    known.split(':').next().unwrap_or(known),
                    class.as_str()
                )),
                _ => out.push_str("family:    none (no built-in family knows this line)\n"),
            }
            out.push_str(&format!("signature: {}\n", decisive.signature));
        }
        None => out.push_str("decisive:  none (no line looks like the failure)\n"),
    }
    let decision = &found.decision;
    let verdict = match decision.verdict {
        Verdict::Rerun(_) => "re-run".to_owned(),
        Verdict::Shadow(_) => "would re-run (shadow mode)".to_owned(),
        Verdict::Skip { reason } => format!("skip ({})", reason.as_str()),
    };
    out.push_str(&format!("decision:  {verdict}\n"));
    if let Some(pattern) = &decision.pattern {
        out.push_str(&format!("matched:   {pattern}\n"));
    }
    if let Some(evidence) = &decision.evidence {
        out.push_str(&format!("evidence:  {evidence}\n"));
    }
    out
}

fn read_text(input: Option<&Path>) -> Result<String, String> {
    let mut bytes = Vec::new();
    let read = match input.filter(|path| path.as_os_str() != "-") {
        Some(path) => std::fs::File::open(path)
            .map_err(|e| format!("{} cannot be read: {e}", path.display()))?
            .take(MAX_TEXT_BYTES as u64 * 2)
            .read_to_end(&mut bytes),
        None => std::io::stdin()
            .lock()
            .take(MAX_TEXT_BYTES as u64 * 2)
            .read_to_end(&mut bytes),
    };
    read.map_err(|e| format!("the text cannot be read: {e}"))?;
    let tail = &bytes[bytes.len().saturating_sub(MAX_TEXT_BYTES)..];
    Ok(String::from_utf8_lossy(tail).into_owned())
}

fn fail(problem: &str) -> ExitCode {
    let line = problem.lines().next().unwrap_or(problem);
    let _ = writeln!(std::io::stderr().lock(), "job-rerunner classify: {line}");
    ExitCode::from(2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_recommended_policy_is_built_in_and_valid() {
        let policy = policy::load(Some(RECOMMENDED_POLICY), None, &EnvDefaults::default())
            .expect("the recommended policy is valid");
        assert_eq!(policy.defaults().only_when.written(), ["@transient"]);
    }

    #[test]
    fn a_rendered_classification_names_the_line_the_family_and_the_decision() {
        let policy =
            policy::load(Some(RECOMMENDED_POLICY), None, &EnvDefaults::default()).expect("valid");
        let found = policy::classify(
            "##[error]Process completed with exit code 1.\n",
            policy.defaults(),
        );
        let text = render(&found);
        assert!(text.contains("family:    none"), "{text}");
        assert!(
            text.contains("decision:  skip (no_transient_match)"),
            "{text}"
        );
        let found = policy::classify(
            "E: Failed to fetch http://azure.archive.ubuntu.com/x.deb  Hash Sum mismatch\n",
            policy.defaults(),
        );
        let text = render(&found);
        assert!(
            text.contains("family:    registry (transient), pattern @registry:apt_mirror"),
            "{text}"
        );
        assert!(text.contains("decision:  re-run"), "{text}");
    }
}
