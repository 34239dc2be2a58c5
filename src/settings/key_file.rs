//! `GITHUB_APP_PRIVATE_KEY_FILE` read with a cap: a PEM private key is a few KB (a
//! 4096-bit RSA key is some 3.3 KB), so anything past [`MAX_KEY_FILE_BYTES`] is
//! refused rather than read (`/dev/zero` would be read until memory runs out), and
//! only a regular file is read (a FIFO would block start-up until someone writes to
//! it, a device never ends). The file is opened without blocking and checked on the
//! handle it is read from, so a swap between the check and the read changes nothing.

use std::io::Read;
use std::path::Path;

use crate::small_file::{OpenError, open_regular};

/// Largest key file read.
pub const MAX_KEY_FILE_BYTES: u64 = 16 * 1024;

/// The text of the key file at `path`, or a one-line reason it is not read.
pub fn read(path: &Path) -> Result<String, String> {
    let shown = path.display();
    let (file, meta) = open_regular(path).map_err(|err| match err {
        OpenError::Io(err) => format!("cannot read {shown}: {err}"),
        OpenError::NotRegular => format!("{shown} is not a regular file (a .pem key file)"),
    })?;
    if meta.len() > MAX_KEY_FILE_BYTES {
        return Err(format!(
            "{shown} has {} bytes, more than a private key's {MAX_KEY_FILE_BYTES}",
            meta.len()
        ));
    }
    let mut text = String::new();
    // The cap again: the file may grow after the check.
    file.take(MAX_KEY_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|err| format!("cannot read {shown}: {err}"))?;
    if text.len() as u64 > MAX_KEY_FILE_BYTES {
        return Err(format!(
            "{shown} has more than a private key's {MAX_KEY_FILE_BYTES} bytes"
        ));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    #[test]
    fn a_small_regular_file_is_read() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("app.pem");
        std::fs::write(&file, "-----BEGIN PRIVATE KEY-----\n").expect("written");
        assert_eq!(read(&file).as_deref(), Ok("-----BEGIN PRIVATE KEY-----\n"));
    }

    #[test]
    fn a_file_larger_than_a_key_is_refused_unread() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("huge.pem");
        let handle = std::fs::File::create(&file).expect("created");
        // Sparse: 1 GB that takes no disk, and that the old read took into memory.
        handle.set_len(1 << 30).expect("sized");
        let why = read(&file).expect_err("refused");
        assert!(why.contains("more than a private key's"), "{why}");
    }

    #[test]
    fn a_device_is_refused() {
        let why = read(Path::new("/dev/zero")).expect_err("refused");
        assert!(why.contains("not a regular file"), "{why}");
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_is_refused_at_once_rather_than_waited_on() {
        let dir = tempfile::tempdir().expect("temp dir");
        let fifo = dir.path().join("key.fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo runs");
        assert!(made.success());
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(read(&fifo));
        });
        let started = Instant::now();
        let answer = rx
            .recv_timeout(Duration::from_secs(5))
            .expect("answered within 5 s, not blocked on the FIFO");
        let why = answer.expect_err("refused");
        assert!(why.contains("not a regular file"), "{why}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
