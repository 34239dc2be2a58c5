//! `DATABASE_URL`, read: an SQLite file or a PostgreSQL URL, and how it is named in
//! logs (never with its password).

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
