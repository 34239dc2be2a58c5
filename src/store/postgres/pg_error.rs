//! PostgreSQL failures in the driver's words, for people: which server was asked, and
//! what it (or the operating system) answered — the database or role that does not
//! exist, the failed password, the refused connection, TLS — never the password.
//! tokio-postgres's own `Display` says only "db error" or "error connecting to server";
//! the server's message is in [`tokio_postgres::Error::as_db_error`], the OS error in the
//! source chain.

use std::error::Error as _;
use std::io;

use deadpool_postgres::{PoolError, TimeoutType};

/// What a PostgreSQL server said when it refused a connection or statement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerRefusal {
    /// The SQLSTATE code (`3D000`).
    pub code: String,
    /// The server's message (`database "x" does not exist`).
    pub message: String,
}

/// Why talking to PostgreSQL failed, read off the driver's error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cause {
    /// The server answered with an error.
    Server(ServerRefusal),
    /// The operating system refused or broke the connection.
    Io(io::ErrorKind, String),
    /// The TLS negotiation failed (this build connects without TLS).
    Tls(String),
    /// No connection within the pool's timeout.
    Timeout(&'static str),
    /// Anything else, in the driver's words.
    Other(String),
}

impl Cause {
    /// Reads the cause of a pool error.
    pub fn of_pool(err: &PoolError) -> Self {
        match err {
            PoolError::Backend(err) => Self::of(err),
            PoolError::Timeout(TimeoutType::Create) => Self::Timeout("opening a connection"),
            PoolError::Timeout(TimeoutType::Wait) => Self::Timeout("waiting for a free connection"),
            PoolError::Timeout(TimeoutType::Recycle) => Self::Timeout("checking a connection"),
            other => Self::Other(other.to_string()),
        }
    }

    /// Reads the cause of a driver error.
    pub fn of(err: &tokio_postgres::Error) -> Self {
        if let Some(db) = err.as_db_error() {
            return Self::Server(ServerRefusal {
                code: db.code().code().to_owned(),
                message: db.message().to_owned(),
            });
        }
        let mut source = err.source();
        while let Some(cause) = source {
            if let Some(io) = cause.downcast_ref::<io::Error>() {
                return Self::Io(io.kind(), io.to_string());
            }
            source = cause.source();
        }
        let said = err.to_string();
        let detail = err.source().map(ToString::to_string);
        if said.starts_with("error performing TLS handshake") {
            return Self::Tls(detail.unwrap_or(said));
        }
        Self::Other(match detail {
            Some(detail) => format!("{said}: {detail}"),
            None => said,
        })
    }
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cause::Server(refusal) => {
                write!(f, "{} (SQLSTATE {})", refusal.message, refusal.code)?;
                if let Some(hint) = hint(refusal) {
                    write!(f, "; {hint}")?;
                }
                Ok(())
            }
            Cause::Io(io::ErrorKind::ConnectionRefused, _) => {
                f.write_str("connection refused: is PostgreSQL running and listening there?")
            }
            Cause::Io(_, said) => f.write_str(said),
            Cause::Tls(said) => write!(
                f,
                "TLS: {said}; this build connects without TLS (leave sslmode unset, or sslmode=disable)"
            ),
            Cause::Timeout(doing) => write!(f, "no answer {doing} within the connect timeout"),
            Cause::Other(said) => f.write_str(said),
        }
    }
}

/// What to change, for the refusals people meet when setting the service up.
fn hint(refusal: &ServerRefusal) -> Option<&'static str> {
    let message = refusal.message.as_str();
    match refusal.code.as_str() {
        "3D000" => Some("create it, or fix the database name in DATABASE_URL"),
        "28P01" => Some("check the password in DATABASE_URL"),
        "28000" if message.contains("no encryption") || message.contains("SSL off") => {
            Some("the server takes this connection over TLS only, which this build does not make")
        }
        "28000" if message.contains("does not exist") => {
            Some("create the role, or fix the user in DATABASE_URL")
        }
        _ => None,
    }
}

/// Where `url` points, for the message: `host:port, database "d", user "u"` (never the
/// password); `None` when it does not parse (settings refuse such a URL first).
pub fn target(url: &str) -> Option<String> {
    let config = url.parse::<tokio_postgres::Config>().ok()?;
    let ports = config.get_ports();
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(index, host)| {
            // One port for all hosts, or one each; 5432 when none is given.
            let port = ports.get(index).or(ports.first()).copied().unwrap_or(5432);
            match host {
                tokio_postgres::config::Host::Tcp(name) => format!("{name}:{port}"),
                #[cfg(unix)]
                tokio_postgres::config::Host::Unix(path) => {
                    format!("{}/.s.PGSQL.{port}", path.display())
                }
            }
        })
        .collect();
    let mut shown = hosts.join(", ");
    if let Some(database) = config.get_dbname() {
        shown.push_str(&format!(", database \"{database}\""));
    }
    if let Some(user) = config.get_user() {
        shown.push_str(&format!(", user \"{user}\""));
    }
    Some(shown)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(code: &str, message: &str) -> String {
        Cause::Server(ServerRefusal {
            code: code.into(),
            message: message.into(),
        })
        .to_string()
    }

    #[test]
    fn a_failed_password_is_named_with_what_to_check() {
        assert_eq!(
            refusal("28P01", r#"password authentication failed for user "bot""#),
            r#"password authentication failed for user "bot" (SQLSTATE 28P01); check the password in DATABASE_URL"#
        );
    }

    #[test]
    fn a_server_that_wants_tls_is_said_to() {
        let said = refusal(
            "28000",
            r#"no pg_hba.conf entry for host "10.0.0.1", user "bot", database "d", no encryption"#,
        );
        assert!(said.contains("no encryption (SQLSTATE 28000)"), "{said}");
        assert!(
            said.ends_with("over TLS only, which this build does not make"),
            "{said}"
        );
    }

    #[test]
    fn the_target_names_host_port_database_and_user_but_not_the_password() {
        let shown = target("postgres://bot:hunter2@db.internal:6543/rerunner").expect("parses");
        assert_eq!(
            shown,
            r#"db.internal:6543, database "rerunner", user "bot""#
        );
        let shown = target("postgres://bot@db/rerunner").expect("parses");
        assert_eq!(shown, r#"db:5432, database "rerunner", user "bot""#);
    }
}
