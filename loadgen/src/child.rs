//! The parent's side of the server processes: start one (re-executing this binary with
//! a hidden subcommand), learn its port, read its RSS, stop it, and kill it on drop.

use std::collections::VecDeque;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::servers::PORT_LINE;

/// Longest a server may take to listen, or to stop on SIGTERM.
const PATIENCE: Duration = Duration::from_secs(30);
/// Output lines kept for the error message when a server misbehaves.
const KEPT_LINES: usize = 40;

/// A server running in a child process.
pub struct ServerProcess {
    child: Child,
    port: u16,
    output: Arc<Mutex<VecDeque<String>>>,
}

impl ServerProcess {
    /// Runs `current_exe() subcommand` with exactly `env` (plus `PATH`) and waits until it
    /// announces its port.
    pub fn start(subcommand: &str, env: &[(String, String)]) -> io::Result<Self> {
        let mut child = Command::new(std::env::current_exe()?)
            .arg(subcommand)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let output = Arc::new(Mutex::new(VecDeque::new()));
        let (port_tx, port_rx) = mpsc::channel();
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        // Both pipes are drained for the child's whole life, or a chatty child would block.
        keep_reading(stdout, Arc::clone(&output), Some(port_tx));
        keep_reading(stderr, Arc::clone(&output), None);
        let mut server = Self {
            child,
            port: 0,
            output,
        };
        match port_rx.recv_timeout(PATIENCE) {
            Ok(port) => {
                server.port = port;
                Ok(server)
            }
            Err(_) => Err(io::Error::other(format!(
                "`{subcommand}` did not announce its port: {}",
                server.output()
            ))),
        }
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// Its resident set size in KiB (`VmRSS` of /proc/PID/status).
    pub fn rss_kib(&self) -> Option<u64> {
        self.rss().map(|rss| rss.total_kib)
    }

    /// Its resident set and what it is made of, from /proc/PID/status.
    pub fn rss(&self) -> Option<Rss> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        Rss::parse(&status)
    }

    /// Its process id (for /proc/PID/smaps_rollup and the like in messages).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its last lines of output (for error messages).
    pub fn output(&self) -> String {
        let lines = self.output.lock().expect("output lines");
        lines.iter().cloned().collect::<Vec<_>>().join("\n")
    }

    /// SIGTERM, as a deploy would stop it; SIGKILL if it is not gone in time. Returns
    /// how long it took to exit.
    pub fn stop(mut self) -> Duration {
        let started = Instant::now();
        // SAFETY: kill(2) on our own child's pid; it is not reaped yet, so the pid is its.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        while started.elapsed() < PATIENCE {
            if let Ok(Some(_)) = self.child.try_wait() {
                return started.elapsed();
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        started.elapsed()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A process's resident set, in KiB, as /proc/PID/status splits it: anonymous memory
/// (the heap, SQLite's page cache, thread stacks), file-backed pages (the binary, shared
/// libraries, mmap'ed files) and shared memory (SQLite's `-shm` index of the WAL).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rss {
    /// `VmRSS`.
    pub total_kib: u64,
    /// `RssAnon`.
    pub anon_kib: u64,
    /// `RssFile`.
    pub file_kib: u64,
    /// `RssShmem`.
    pub shmem_kib: u64,
}

impl Rss {
    /// Reads the four lines from the text of /proc/PID/status; `None` without `VmRSS`.
    pub fn parse(status: &str) -> Option<Self> {
        let field = |name: &str| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
                .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        };
        Some(Self {
            total_kib: field("VmRSS")?,
            anon_kib: field("RssAnon").unwrap_or(0),
            file_kib: field("RssFile").unwrap_or(0),
            shmem_kib: field("RssShmem").unwrap_or(0),
        })
    }
}

/// Reads `stream` line by line on a thread of its own: the port line goes to `port`, the
/// rest into the bounded `output`.
fn keep_reading(
    stream: impl Read + Send + 'static,
    output: Arc<Mutex<VecDeque<String>>>,
    mut port: Option<mpsc::Sender<u16>>,
) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if let Some(found) = line.strip_prefix(PORT_LINE).and_then(|p| p.parse().ok())
                && let Some(port) = port.take()
            {
                let _ = port.send(found);
                continue;
            }
            let mut kept = output.lock().expect("output lines");
            if kept.len() == KEPT_LINES {
                kept.pop_front();
            }
            kept.push_back(line);
        }
    });
}

/// Polls `GET /` on `addr` until it answers 200; returns when it did. Each try is a fresh
/// connection; between failed tries it waits 2 ms.
pub fn wait_until_answering(addr: SocketAddr, deadline: Duration) -> io::Result<()> {
    let started = Instant::now();
    loop {
        match get_root(addr) {
            Ok(200) => return Ok(()),
            Ok(_) | Err(_) if started.elapsed() < deadline => {
                std::thread::sleep(Duration::from_millis(2));
            }
            Ok(status) => return Err(io::Error::other(format!("GET / answered {status}"))),
            Err(err) => return Err(err),
        }
    }
}

/// One `GET /`; returns the status code.
fn get_root(addr: SocketAddr) -> io::Result<u16> {
    let mut stream = send_get(addr, "/")?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head)?;
    status_of(&head)
}

/// One `GET path` on a fresh connection; returns the status code and the body (read until
/// the server closes, which `Connection: close` asks it to do), as text.
pub fn get(addr: SocketAddr, path: &str) -> io::Result<(u16, String)> {
    let mut stream = send_get(addr, path)?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let status = status_of(&response)?;
    let body = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(&[][..], |end| &response[end + 4..]);
    Ok((status, String::from_utf8_lossy(body).into_owned()))
}

/// Connects to `addr` and writes `GET path` asking the server to close afterwards.
fn send_get(addr: SocketAddr, path: &str) -> io::Result<TcpStream> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    Ok(stream)
}

/// The status code of a response that starts with `HTTP/1.x NNN`.
fn status_of(response: &[u8]) -> io::Result<u16> {
    response
        .get(9..12)
        .and_then(|code| std::str::from_utf8(code).ok())
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| io::Error::other("bad status line"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_resident_set_is_read_with_its_parts() {
        let status = "Name:\tloadgen\nVmRSS:\t   40960 kB\nRssAnon:\t   30720 kB\n\
                      RssFile:\t    8192 kB\nRssShmem:\t    2048 kB\nThreads:\t5\n";
        assert_eq!(
            Rss::parse(status),
            Some(Rss {
                total_kib: 40960,
                anon_kib: 30720,
                file_kib: 8192,
                shmem_kib: 2048
            })
        );
        assert_eq!(Rss::parse("Name:\tx\n"), None);
    }

    #[test]
    fn a_status_line_gives_its_code() {
        assert_eq!(status_of(b"HTTP/1.1 200 OK\r\n").expect("valid"), 200);
        assert!(status_of(b"HTTP/1.1").is_err());
        assert!(status_of(b"garbage line").is_err());
    }
}
