//! The failure policy in force: loaded at start-up from `RULES` or `RULES_FILE` (see
//! `crate::policy::load`), and swapped whole when `SIGHUP` asks for a reload.
//!
//! Why a holder of its own: the policy module is pure (no file, no environment), and
//! the policy is read on every completion by the trackers and on every delivery by the
//! webhook's attempt filter, while a reload replaces it. An `RwLock<Arc<Policy>>`
//! gives each reader the policy of one moment (a clone of the `Arc`, held for one
//! decision, never a half-replaced one); the write lock is taken only on a reload.
//! The largest `attempts` is kept in an atomic so that the webhook's filter takes no
//! lock; only a policy whose rules differ in `attempts` is read for the run's own rule.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, RwLock};

use crate::policy::{self, EnvDefaults, Policy, PolicyError};

/// How many attempts a run may reach before its events are ignored: the policy's
/// largest `attempts` decides cheaply before the repository is read, the run's own
/// rule after it.
pub trait AttemptLimits {
    /// The largest `attempts` of any rule ([`crate::policy::Policy::max_attempts`]).
    fn max(&self) -> u32;
    /// The `attempts` of the rule for this repository and workflow.
    fn for_run(&self, repo: &str, workflow: &str) -> u32;
}

/// One limit for every run (no policy: `RUN_ATTEMPTS`).
impl AttemptLimits for u32 {
    fn max(&self) -> u32 {
        *self
    }

    fn for_run(&self, _: &str, _: &str) -> u32 {
        *self
    }
}

/// Where the policy in force is read from: its section of the configuration, filled
/// from `Settings::policy` (the policy never reads the whole configuration).
#[derive(Clone, Debug)]
pub struct PolicySettings {
    /// `RULES`: the policy's text.
    pub rules: Option<String>,
    /// `RULES_FILE`: where it is read from, again on each reload.
    pub rules_file: Option<PathBuf>,
    /// What a policy leaves out comes from the environment: `RUN_ATTEMPTS`,
    /// `REPO_BRANCHES`, `RERUN_DELAY`.
    pub env: EnvDefaults,
}

/// The policy in force and where it came from.
#[derive(Debug)]
pub struct LivePolicy {
    current: RwLock<Arc<Policy>>,
    max_attempts: AtomicU32,
    /// Whether every rule has the largest `attempts` ([`Policy::uniform_attempts`]).
    uniform_attempts: AtomicBool,
    /// `RULES` as it was at start-up (the environment of a running process does not change).
    rules: Option<String>,
    /// `RULES_FILE`, read again on each reload.
    rules_file: Option<PathBuf>,
    env: EnvDefaults,
}

impl LivePolicy {
    /// Loads the policy the settings name; the error is one line naming the source,
    /// line and field.
    pub fn load(settings: PolicySettings) -> Result<Self, PolicyError> {
        let PolicySettings {
            rules,
            rules_file,
            env,
        } = settings;
        let loaded = policy::load(rules.as_deref(), rules_file.as_deref(), &env)?;
        Ok(Self {
            max_attempts: AtomicU32::new(loaded.max_attempts()),
            uniform_attempts: AtomicBool::new(loaded.uniform_attempts()),
            current: RwLock::new(Arc::new(loaded)),
            rules,
            rules_file,
            env,
        })
    }

    /// The policy in force now.
    pub fn current(&self) -> Arc<Policy> {
        match self.current.read() {
            Ok(current) => Arc::clone(&current),
            // A panic while swapping cannot leave a half-written `Arc`: use it.
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// The largest `attempts` of the policy in force (the webhook's attempt filter).
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts.load(Ordering::Relaxed)
    }

    /// Reads the policy again (the file, or `RULES` as it was at start): a valid one
    /// replaces the policy in force and is returned; an invalid one is refused and the
    /// old one stays.
    pub fn reload(&self) -> Result<Arc<Policy>, PolicyError> {
        let loaded = Arc::new(policy::load(
            self.rules.as_deref(),
            self.rules_file.as_deref(),
            &self.env,
        )?);
        let mut current = match self.current.write() {
            Ok(current) => current,
            Err(poisoned) => poisoned.into_inner(),
        };
        *current = Arc::clone(&loaded);
        self.max_attempts
            .store(loaded.max_attempts(), Ordering::Relaxed);
        self.uniform_attempts
            .store(loaded.uniform_attempts(), Ordering::Relaxed);
        Ok(loaded)
    }
}

impl AttemptLimits for LivePolicy {
    fn max(&self) -> u32 {
        self.max_attempts()
    }

    fn for_run(&self, repo: &str, workflow: &str) -> u32 {
        if self.uniform_attempts.load(Ordering::Relaxed) {
            return self.max_attempts();
        }
        self.current().rule_for(repo, workflow).attempts
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    /// The policy's section of the settings these variables make.
    fn settings(vars: &[(&str, &str)]) -> PolicySettings {
        let mut all: HashMap<String, String> = HashMap::new();
        all.insert("GITHUB_SIGN_KEY".into(), "k".into());
        for (k, v) in vars {
            all.insert((*k).into(), (*v).into());
        }
        crate::settings::Settings::from_vars(all)
            .expect("valid settings")
            .policy()
    }

    #[test]
    fn a_reload_swaps_a_valid_file_and_keeps_the_old_policy_on_an_invalid_one() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("rules.toml");
        std::fs::write(&path, "[defaults]\nattempts = 3\n").expect("write");
        let live = LivePolicy::load(settings(&[(
            "RULES_FILE",
            path.to_str().expect("utf-8 path"),
        )]))
        .expect("valid policy");
        assert_eq!(live.max_attempts(), 3);
        std::fs::write(&path, "[defaults]\nattempts = 6\n").expect("write");
        assert_eq!(live.reload().expect("valid").max_attempts(), 6);
        assert_eq!(live.current().max_attempts(), 6);
        std::fs::write(&path, "[defaults]\nattemps = 2\n").expect("write");
        let refused = live.reload().expect_err("unknown field");
        assert!(refused.to_string().contains("attemps"), "{refused}");
        assert_eq!(live.max_attempts(), 6, "the old policy stays in force");
    }
}
