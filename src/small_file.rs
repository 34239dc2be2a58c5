//! Opening a small file named by configuration (the App's key, the policy) so that
//! what is not a regular file is refused at once: a FIFO would block start-up until
//! someone writes to it, a device such as `/dev/zero` never ends. The file is opened
//! without blocking and checked on the handle it is then read from, so a swap between
//! the check and the read changes nothing. The caller caps the read.

use std::fs::{File, Metadata};
use std::path::Path;

/// Why a file was not opened.
#[derive(Debug)]
pub enum OpenError {
    /// It could not be opened or examined.
    Io(std::io::Error),
    /// It is a FIFO, a device, a directory or a socket.
    NotRegular,
}

/// `path` opened for reading, with its metadata, if it is a regular file.
pub fn open_regular(path: &Path) -> Result<(File, Metadata), OpenError> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        // Opening a FIFO for reading blocks until a writer comes; O_NONBLOCK does not.
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(O_NONBLOCK);
    }
    let file = options.open(path).map_err(OpenError::Io)?;
    let meta = file.metadata().map_err(OpenError::Io)?;
    if !meta.is_file() {
        return Err(OpenError::NotRegular);
    }
    Ok((file, meta))
}

/// `O_NONBLOCK` (the same value on Linux's architectures that std supports, and on
/// the BSDs and macOS it is 4); named here so that no `libc` is needed off Linux.
#[cfg(all(unix, any(target_os = "linux", target_os = "android")))]
const O_NONBLOCK: i32 = 0o4000;
#[cfg(all(unix, not(any(target_os = "linux", target_os = "android"))))]
const O_NONBLOCK: i32 = 0x0004;
