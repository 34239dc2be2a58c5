//! The store's section of the settings: `DATABASE_URL`, read and checked (an SQLite
//! file or a PostgreSQL URL), and how it is named in logs (never with its password).
//! `settings` reads the variable; `startup` opens the store it names.

use crate::secret::Secret;

/// Where tracked runs are kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// An SQLite file; the path as written after `sqlite://`.
    Sqlite(String),
    /// A PostgreSQL URL as given (it may hold a password, hence a secret).
    Postgres(Secret),
}

impl DatabaseUrl {
    /// `url` read: `sqlite://PATH`, or a PostgreSQL URL parsed as the store will parse
    /// it; otherwise what is wrong with it, without its password.
    pub fn parse(url: &str) -> Result<Self, String> {
        if url.starts_with("sqlite://") {
            let path = url.trim_start_matches("sqlite://");
            if path.is_empty() {
                return Err("sqlite:// needs a file path".into());
            }
            return Ok(DatabaseUrl::Sqlite(path.to_owned()));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            check_postgres_url(url)?;
            return Ok(DatabaseUrl::Postgres(Secret::new(url)));
        }
        Err("must start with sqlite://, postgres:// or postgresql://".into())
    }

    /// The URL without its password, for logs.
    pub fn describe(&self) -> String {
        match self {
            DatabaseUrl::Sqlite(path) => format!("sqlite://{path}"),
            DatabaseUrl::Postgres(url) => {
                // Parameters can hold a password too (`?password=…`): leave them out.
                let url = url.expose().split('?').next().unwrap_or_default();
                let Some((scheme, rest)) = url.split_once("://") else {
                    return "postgres://…".into();
                };
                match rest.rsplit_once('@') {
                    Some((user_info, host)) => {
                        let user = user_info.split(':').next().unwrap_or_default();
                        format!("{scheme}://{user}@{host}")
                    }
                    None => url.to_owned(),
                }
            }
        }
    }
}

/// Parses a PostgreSQL URL as the store will, so that a bad one (`?sslmode=bogus`, a
/// host of `[bad`, no database) stops start-up and `check-config` with one line naming
/// the part at fault, rather than failing later. The problem never holds the password.
fn check_postgres_url(url: &str) -> Result<(), String> {
    let config = url.parse::<tokio_postgres::Config>().map_err(|err| {
        // tokio-postgres names the option ("invalid value for option `sslmode`") in the
        // error's source; no version quotes the URL, but one that did must not leak it.
        let cause =
            std::error::Error::source(&err).map_or_else(|| err.to_string(), |c| c.to_string());
        format!(
            "not a valid PostgreSQL URL: {}",
            without_passwords(&cause, url)
        )
    })?;
    if config.get_hosts().is_empty() && config.get_hostaddrs().is_empty() {
        return Err("names no host (postgres://USER:PASSWORD@HOST:PORT/DATABASE)".into());
    }
    if config.get_dbname().is_none_or(str::is_empty) {
        return Err("names no database (postgres://USER:PASSWORD@HOST:PORT/DATABASE)".into());
    }
    Ok(())
}

/// `text` with every password `url` holds (after `user:`, or in `password=`), as written
/// and percent-decoded, replaced by `[redacted]`.
fn without_passwords(text: &str, url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    // tokio-postgres takes the credentials up to the first `@`.
    let from_userinfo = rest
        .split_once('@')
        .and_then(|(userinfo, _)| userinfo.split_once(':'))
        .map(|(_, password)| password);
    let from_query = rest
        .split_once('?')
        .into_iter()
        .flat_map(|(_, query)| query.split('&'))
        .filter_map(|pair| pair.strip_prefix("password="));
    let mut shown = text.to_owned();
    for password in from_userinfo.into_iter().chain(from_query) {
        let decoded = decode_percent(password);
        for secret in [password, decoded.as_str()] {
            if !secret.is_empty() {
                shown = shown.replace(secret, "[redacted]");
            }
        }
    }
    shown
}

/// `%XX` escapes decoded (as tokio-postgres reads a password); malformed ones kept.
fn decode_percent(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::without_passwords;

    #[test]
    fn a_message_quoting_the_database_url_shows_no_password() {
        let url = "postgres://bot:p%40ss%2Fw@db/rerunner?password=other-secret&sslmode=x";
        let shown = without_passwords(&format!("cannot parse {url} (p@ss/w)"), url);
        for secret in ["p%40ss%2Fw", "p@ss/w", "other-secret"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(
            shown.contains("postgres://bot:[redacted]@db/rerunner"),
            "{shown}"
        );
    }
}
