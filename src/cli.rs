//! The command line: `job-rerunner` runs the service, `job-rerunner check-config` prints
//! the effective configuration, `job-rerunner classify` tells what a failure's text
//! would lead to (`cli/classify.rs`), `job-rerunner what-if` replays the stored
//! decisions under another policy (`cli/what_if.rs`), `--help` and `--version` print
//! and exit.
//!
//! clap (derive) parses it, so that anything else is refused: someone may type a wrong
//! word in `dokku run` against the production database, and a typo must exit 2 with one
//! line naming it, never start a second service. clap's own error is several lines of
//! usage; the operator gets its first line only, plus where to look. The settings stay in
//! the environment (`settings`), which is why `--help` ends with every variable of
//! [`VARIABLES`] and its default.

pub mod classify;
pub mod what_if;

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::error::ErrorKind;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::policy::Policy;
use crate::settings::{Settings, VARIABLES};

/// What the command line asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Run the service (no subcommand).
    Serve,
    /// Print the effective configuration and exit.
    CheckConfig,
    /// Classify a failure's text and exit (needs no settings).
    Classify {
        /// `--rules FILE`; `None`: the recommended policy.
        rules: Option<PathBuf>,
        /// The text's file; `None` or `-`: standard input.
        input: Option<PathBuf>,
    },
    /// Replay the stored decisions of the last `since` under another policy and exit.
    WhatIf {
        /// `--rules FILE`: the policy to try.
        rules: PathBuf,
        /// `--since`: how far back (default 30 days).
        since: Duration,
    },
}

/// The command line asked only for text (`--help`, `--version`), or could not be
/// followed: what to print, where, and the exit code.
#[derive(Debug, PartialEq, Eq)]
pub struct Exit {
    /// 0 for `--help` and `--version`, 2 for a usage error.
    pub code: u8,
    /// The text, ending in a newline.
    pub text: String,
}

impl Exit {
    /// Prints the text (stdout when the code is 0, stderr otherwise) and gives the code.
    pub fn print(&self) -> ExitCode {
        // A closed pipe (`--help | head`) is not an error worth a panic.
        let _ = if self.code == 0 {
            std::io::stdout().lock().write_all(self.text.as_bytes())
        } else {
            std::io::stderr().lock().write_all(self.text.as_bytes())
        };
        ExitCode::from(self.code)
    }
}

#[derive(Debug, Parser)]
#[command(
    name = "job-rerunner",
    version,
    about = "Re-runs failed GitHub Actions jobs from workflow_job webhooks.\n\
             Without a subcommand it runs the service, configured by the environment.",
    disable_help_subcommand = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Clone, Debug, Subcommand)]
enum Command {
    /// Print the effective value of every variable (secrets redacted) and exit; exit 2
    /// naming the variable at fault
    CheckConfig,
    /// Read a failure's log or annotations and print its decisive line, family,
    /// signature and the decision the policy leads to
    Classify {
        /// The policy's TOML file (default: the recommended policy, built in)
        #[arg(long, value_name = "FILE")]
        rules: Option<PathBuf>,
        /// The text to read; - or nothing: standard input
        #[arg(value_name = "PATH")]
        input: Option<PathBuf>,
    },
    /// Decide the stored decisions of the last days again under another policy and
    /// print which change, and whether the changed re-runs would have helped
    WhatIf {
        /// The policy's TOML file to try
        #[arg(long, value_name = "FILE")]
        rules: PathBuf,
        /// How far back, e.g. 30d, 12h
        #[arg(long, value_name = "DURATION", default_value = "30d", value_parser = parse_since)]
        since: Duration,
    },
}

/// `--since`: humantime's syntax, at most a year.
fn parse_since(text: &str) -> Result<Duration, String> {
    let since = humantime::parse_duration(text.trim()).map_err(|_| {
        format!("{text:?} is not a duration; write a number and a unit, such as 30d or 12h")
    })?;
    if since > Duration::from_secs(366 * 24 * 3600) {
        return Err(format!("{text:?} is longer than a year"));
    }
    Ok(since)
}

/// The `Environment` part of `--help`: every variable with its default.
fn environment_help() -> String {
    let mut text = String::from("Environment (an empty value counts as unset):\n");
    for variable in VARIABLES {
        let (name, meaning, default) = (variable.name, variable.help, variable.default());
        text.push_str(&format!("  {name:<28} {meaning} (default: {default})\n"));
    }
    text
}

/// Reads the command line (program name first, as `std::env::args_os()` gives it).
pub fn parse<I, T>(args: I) -> Result<Action, Exit>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let parsed = Cli::command()
        .after_help(environment_help())
        .try_get_matches_from(args)
        .and_then(|matches| Cli::from_arg_matches(&matches));
    match parsed {
        Ok(Cli { command: None }) => Ok(Action::Serve),
        Ok(Cli {
            command: Some(Command::CheckConfig),
        }) => Ok(Action::CheckConfig),
        Ok(Cli {
            command: Some(Command::Classify { rules, input }),
        }) => Ok(Action::Classify { rules, input }),
        Ok(Cli {
            command: Some(Command::WhatIf { rules, since }),
        }) => Ok(Action::WhatIf { rules, since }),
        Err(err)
            if matches!(
                err.kind(),
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
            ) =>
        {
            Err(Exit {
                code: 0,
                text: err.render().to_string(),
            })
        }
        Err(err) => {
            let rendered = err.render().to_string();
            let first = rendered.lines().next().unwrap_or("invalid command line");
            let problem = first.strip_prefix("error: ").unwrap_or(first);
            Err(Exit {
                code: 2,
                text: format!(
                    "job-rerunner: {problem} (job-rerunner --help lists what it takes)\n"
                ),
            })
        }
    }
}

/// `check-config`: prints `NAME=value` for every variable, secrets redacted.
pub fn print_effective(settings: &Settings, policy: &Policy) -> ExitCode {
    let mut out = std::io::stdout().lock();
    for (name, value) in settings.effective() {
        // A closed pipe (`| head`) is not an error worth a panic.
        if writeln!(out, "{name}={value}").is_err() {
            return ExitCode::SUCCESS;
        }
    }
    let _ = write!(out, "\n{policy}");
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<Action, Exit> {
        parse(std::iter::once("job-rerunner").chain(args.iter().copied()))
    }

    #[test]
    fn no_subcommand_serves_and_check_config_checks() {
        assert_eq!(run(&[]), Ok(Action::Serve));
        assert_eq!(run(&["check-config"]), Ok(Action::CheckConfig));
    }

    #[test]
    fn classify_takes_an_optional_policy_and_an_optional_path() {
        assert_eq!(
            run(&["classify"]),
            Ok(Action::Classify {
                rules: None,
                input: None
            })
        );
        assert_eq!(
            run(&["classify", "--rules", "p.toml", "job.log"]),
            Ok(Action::Classify {
                rules: Some("p.toml".into()),
                input: Some("job.log".into())
            })
        );
    }

    #[test]
    fn what_if_needs_a_policy_and_looks_back_30_days_unless_told() {
        assert_eq!(
            run(&["what-if", "--rules", "p.toml"]),
            Ok(Action::WhatIf {
                rules: "p.toml".into(),
                since: Duration::from_secs(30 * 24 * 3600)
            })
        );
        assert_eq!(
            run(&["what-if", "--rules", "p.toml", "--since", "12h"]),
            Ok(Action::WhatIf {
                rules: "p.toml".into(),
                since: Duration::from_secs(12 * 3600)
            })
        );
        for args in [
            &["what-if"][..],
            &["what-if", "--rules", "p.toml", "--since", "soon"][..],
            &["what-if", "--rules", "p.toml", "--since", "400d"][..],
        ] {
            let exit = run(args).expect_err("refused");
            assert_eq!(
                (exit.code, exit.text.lines().count()),
                (2, 1),
                "{args:?}: {}",
                exit.text
            );
        }
    }

    #[test]
    fn an_unknown_word_is_one_line_naming_it_with_exit_code_2() {
        for (args, named) in [
            (&["chek-config"][..], "'chek-config'"),
            (&["--frobnicate"][..], "'--frobnicate'"),
            (&["check-config", "now"][..], "'now'"),
            (&["help"][..], "'help'"),
        ] {
            let exit = run(args).expect_err("refused");
            assert_eq!(exit.code, 2, "{args:?}");
            assert_eq!(exit.text.lines().count(), 1, "{args:?}: {}", exit.text);
            assert!(exit.text.contains(named), "{args:?}: {}", exit.text);
        }
    }

    #[test]
    fn help_and_version_print_and_exit_0() {
        let help = run(&["--help"]).expect_err("prints");
        assert_eq!(help.code, 0);
        assert!(help.text.contains("check-config"), "{}", help.text);
        let version = run(&["--version"]).expect_err("prints");
        assert_eq!(
            (version.code, version.text),
            (0, format!("job-rerunner {}\n", crate::VERSION))
        );
    }
}
