//! The real service binary in a child process, for tests that kill it.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use wiremock::MockServer;

use crate::helpers::test_vars;

/// The service binary running in a child process.
pub struct Service {
    child: Child,
    pub port: u16,
    output: Arc<Mutex<String>>,
}

impl Service {
    pub fn start(github: &MockServer, db: &Path, extra: &[(&str, &str)]) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_job-rerunner"));
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default());
        command
            .envs(test_vars(github, db))
            .env("LOG_FORMAT", "json")
            .env("LOG_LEVEL", "debug");
        command.envs(extra.iter().copied());
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary starts");
        let output = Arc::new(Mutex::new(String::new()));
        let (port_tx, port_rx) = mpsc::channel();
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        for (stream, announce) in [
            (Box::new(stdout) as Box<dyn std::io::Read + Send>, true),
            (Box::new(stderr), false),
        ] {
            let output = Arc::clone(&output);
            let port_tx = port_tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let entry = announce
                        .then(|| serde_json::from_str::<serde_json::Value>(&line).ok())
                        .flatten();
                    if let Some(entry) = entry.filter(|entry| entry["msg"] == "listening") {
                        let _ = port_tx.send(entry["port"].as_u64().unwrap_or(0) as u16);
                    }
                    output.lock().expect("log buffer").push_str(&(line + "\n"));
                }
            });
        }
        let port = port_rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| {
                panic!(
                    "the service did not start: {}",
                    output.lock().expect("log buffer")
                )
            });
        Self {
            child,
            port,
            output,
        }
    }

    /// What the service printed so far.
    pub fn logs(&self) -> String {
        self.output.lock().expect("log buffer").clone()
    }

    /// Sends SIGHUP (reload the policy).
    pub fn hangup(&self) {
        let pid = libc::pid_t::try_from(self.child.id()).expect("a pid");
        // SAFETY: kill(2) with a pid this test spawned and has not reaped.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGHUP) }, 0, "SIGHUP sent");
    }

    /// SIGKILL: no shutdown code runs.
    pub fn kill(mut self) -> String {
        self.child.kill().expect("kill -9");
        self.child.wait().expect("reaped");
        std::thread::sleep(Duration::from_millis(100)); // let the reader threads drain the pipes
        self.output.lock().expect("log buffer").clone()
    }
}
