//! Which database the measured service uses: a fresh SQLite file (the default), or,
//! with `--database-url postgres://…`, a PostgreSQL database of its own on that server.

use std::io;
use std::path::{Path, PathBuf};

/// The service's `DATABASE_URL` for a service whose scratch directory is `dir`. The same
/// directory gives the same database, so a restart finds what the first start stored.
pub fn url_for(admin: Option<&str>, dir: &Path) -> io::Result<String> {
    let Some(admin) = admin else {
        return Ok(format!("sqlite://{}", sqlite_file(dir).display()));
    };
    let name = database_name(dir);
    create_if_missing(admin, &name)?;
    Ok(with_database(admin, &name))
}

/// The SQLite file of the service whose scratch directory is `dir` (without
/// `--database-url`).
pub fn sqlite_file(dir: &Path) -> PathBuf {
    dir.join("job-rerunner.db")
}

/// Bytes on disk of the SQLite database at `file`: the main file and its write-ahead log
/// (`-wal`, absent or empty once checkpointed and closed).
pub fn sqlite_bytes(file: &Path) -> io::Result<(u64, u64)> {
    let main = std::fs::metadata(file)?.len();
    let mut wal = file.as_os_str().to_owned();
    wal.push("-wal");
    let wal = match std::fs::metadata(&wal) {
        Ok(meta) => meta.len(),
        Err(err) if err.kind() == io::ErrorKind::NotFound => 0,
        Err(err) => return Err(err),
    };
    Ok((main, wal))
}

/// A database name derived from the scratch directory (FNV-1a of its path).
fn database_name(dir: &Path) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in dir.to_string_lossy().bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("loadgen_{hash:016x}")
}

/// Drops every database a benchmark made on the server at `admin`.
pub fn drop_all(admin: &str) -> io::Result<()> {
    with_admin(admin, |client| async move {
        let rows = client
            .query(
                "SELECT datname FROM pg_database WHERE datname LIKE 'loadgen\\_%'",
                &[],
            )
            .await
            .map_err(io::Error::other)?;
        for row in rows {
            let name: String = row.get(0);
            let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
            client.execute(&drop, &[]).await.map_err(io::Error::other)?;
        }
        Ok(())
    })
}

fn create_if_missing(admin: &str, name: &str) -> io::Result<()> {
    let name = name.to_owned();
    with_admin(admin, |client| async move {
        let exists = client
            .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
            .await
            .map_err(io::Error::other)?
            .is_some();
        if !exists {
            let create = format!("CREATE DATABASE {name}");
            client
                .execute(&create, &[])
                .await
                .map_err(io::Error::other)?;
        }
        Ok(())
    })
}

/// Runs `work` with a connection to the server's admin database.
fn with_admin<F, Fut>(admin: &str, work: F) -> io::Result<()>
where
    F: FnOnce(tokio_postgres::Client) -> Fut,
    Fut: std::future::Future<Output = io::Result<()>>,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let (client, connection) = tokio_postgres::connect(admin, tokio_postgres::NoTls)
            .await
            .map_err(|err| io::Error::other(format!("--database-url: {err}")))?;
        tokio::spawn(connection);
        work(client).await
    })
}

/// `url` with its database name replaced.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, String::new()), |(b, q)| (b, format!("?{q}")));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host = base[scheme_end..]
        .find('/')
        .map_or(base, |slash| &base[..scheme_end + slash]);
    format!("{host}/{database}{query}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_name_is_replaced_and_parameters_kept() {
        assert_eq!(
            with_database(
                "postgres://postgres@127.0.0.1:5432/test?sslmode=disable",
                "x"
            ),
            "postgres://postgres@127.0.0.1:5432/x?sslmode=disable"
        );
        assert_eq!(with_database("postgres://h", "x"), "postgres://h/x");
    }

    #[test]
    fn the_sqlite_size_counts_the_main_file_and_its_write_ahead_log() {
        let scratch = crate::scratch::Scratch::new().expect("scratch directory");
        let file = sqlite_file(scratch.path());
        assert!(sqlite_bytes(&file).is_err(), "no database yet");
        std::fs::write(&file, [0u8; 4096]).expect("main file");
        assert_eq!(sqlite_bytes(&file).expect("sized"), (4096, 0));
        std::fs::write(scratch.path().join("job-rerunner.db-wal"), [0u8; 100]).expect("wal");
        assert_eq!(sqlite_bytes(&file).expect("sized"), (4096, 100));
    }

    #[test]
    fn a_scratch_directory_always_names_the_same_database() {
        let dir = Path::new("/tmp/loadgen-1");
        assert_eq!(database_name(dir), database_name(dir));
        assert_ne!(
            database_name(dir),
            database_name(Path::new("/tmp/loadgen-2"))
        );
    }
}
