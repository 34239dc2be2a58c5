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
    readers: Vec<std::thread::JoinHandle<()>>,
}

/// The port a `listening` line announces, in either log format.
fn announced_port(line: &str) -> Option<u16> {
    if let Ok(entry) = serde_json::from_str::<serde_json::Value>(line) {
        return (entry["msg"] == "listening")
            .then(|| {
                entry["port"]
                    .as_u64()
                    .and_then(|port| u16::try_from(port).ok())
            })
            .flatten();
    }
    // LOG_FORMAT=term: `… INFO listening … port=1234 …`.
    let (_, fields) = line.split_once(" INFO listening ")?;
    fields
        .split(' ')
        .find_map(|field| field.strip_prefix("port="))
        .and_then(|port| port.parse().ok())
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
        let mut readers = Vec::new();
        for (stream, announce) in [
            (Box::new(stdout) as Box<dyn std::io::Read + Send>, true),
            (Box::new(stderr), false),
        ] {
            let output = Arc::clone(&output);
            let port_tx = port_tx.clone();
            readers.push(std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if let Some(port) = announce.then(|| announced_port(&line)).flatten() {
                        let _ = port_tx.send(port);
                    }
                    output.lock().expect("log buffer").push_str(&(line + "\n"));
                }
            }));
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
            readers,
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

    /// SIGTERM, then waits (up to 30 s) for the process to end and its output to be
    /// read to the end; the exit status and everything it printed.
    pub fn terminate(mut self) -> (std::process::ExitStatus, String) {
        let pid = libc::pid_t::try_from(self.child.id()).expect("a pid");
        // SAFETY: kill(2) with a pid this test spawned and has not reaped.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0, "SIGTERM sent");
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("waits") {
                break status;
            }
            if std::time::Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("still running 30 s after SIGTERM:\n{}", self.logs());
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        // The pipes close with the process: the readers end after its last line.
        for reader in std::mem::take(&mut self.readers) {
            let _ = reader.join();
        }
        (status, self.logs())
    }

    /// SIGKILL: no shutdown code runs.
    pub fn kill(mut self) -> String {
        self.child.kill().expect("kill -9");
        self.child.wait().expect("reaped");
        std::thread::sleep(Duration::from_millis(100)); // let the reader threads drain the pipes
        self.output.lock().expect("log buffer").clone()
    }
}
