//! Which database schemas this version starts on.
//!
//! During a zero-downtime deploy the previous version runs next to the new one on the
//! same database, and a rollback starts the previous version on a database the new one
//! migrated. refinery refuses a database with an applied migration it does not know,
//! so this module decides first: applied migrations newer than every one this version
//! embeds are tolerated (each migration leaves the previous version working, so the
//! schema still fits; the caller logs a warning); a divergent migration (same version,
//! other name or checksum), an unknown older one, or a gap (an embedded migration not
//! applied while later ones are) still stops start-up, with one line.

use refinery::{Migration, Runner};

use super::StoreError;

/// Compares the migrations applied to a database with those embedded in this version.
/// Returns the applied ones newer than every embedded migration (tolerated), or why
/// this version must not start on the database.
pub fn check(applied: &[Migration], embedded: &[Migration]) -> Result<Vec<String>, String> {
    let newest = embedded.iter().map(Migration::version).max();
    let mut newer = Vec::new();
    for app in applied {
        match embedded
            .iter()
            .find(|known| known.version() == app.version())
        {
            Some(known) if known == app => {}
            Some(known) => {
                return Err(format!(
                    "applied migration {app} differs from this version's {known}"
                ));
            }
            None if newest.is_none_or(|newest| app.version() > newest) => {
                newer.push(app.to_string());
            }
            None => {
                return Err(format!(
                    "applied migration {app} is unknown to this version"
                ));
            }
        }
    }
    let latest = applied.iter().map(Migration::version).max();
    for known in embedded {
        let done = applied.iter().any(|app| app.version() == known.version());
        if !done && latest.is_some_and(|latest| latest > known.version()) {
            return Err(format!(
                "migration {known} was not applied, but later ones were"
            ));
        }
    }
    Ok(newer)
}

/// One line of a migration error (refinery's and the drivers' may span several).
fn failed(database: &str, err: impl std::fmt::Display) -> StoreError {
    let line = err.to_string().replace(['\n', '\r'], " ");
    StoreError::Refused(format!("migrating {database}: {line}"))
}

/// What to say when `check` refuses the schema.
fn refused(database: &str, why: String) -> StoreError {
    StoreError::Refused(format!(
        "{database}'s schema does not fit this version ({why}); not starting"
    ))
}

/// Migrates a SQLite database with `runner` (made by `make`, once per attempt).
/// Returns the applied migrations newer than this version's, which were tolerated.
pub fn migrate_sqlite(
    conn: &mut rusqlite::Connection,
    make: impl Fn() -> Runner,
    database: &str,
) -> Result<Vec<String>, StoreError> {
    let Err(err) = make().run(conn) else {
        return Ok(Vec::new());
    };
    // The first run created the history table if need be; read what it holds.
    let applied = make()
        .get_applied_migrations(conn)
        .map_err(|_| failed(database, &err))?;
    let runner = make();
    let newer = check(&applied, runner.get_migrations()).map_err(|why| refused(database, why))?;
    if newer.is_empty() {
        return Err(failed(database, err));
    }
    runner
        .set_abort_missing(false)
        .run(conn)
        .map_err(|err| failed(database, err))?;
    Ok(newer)
}

/// As [`migrate_sqlite`], for PostgreSQL.
pub async fn migrate_postgres(
    client: &mut tokio_postgres::Client,
    make: impl Fn() -> Runner,
    database: &str,
) -> Result<Vec<String>, StoreError> {
    let Err(err) = make().run_async(client).await else {
        return Ok(Vec::new());
    };
    let applied = make()
        .get_applied_migrations_async(client)
        .await
        .map_err(|_| failed(database, &err))?;
    let runner = make();
    let newer = check(&applied, runner.get_migrations()).map_err(|why| refused(database, why))?;
    if newer.is_empty() {
        return Err(failed(database, err));
    }
    runner
        .set_abort_missing(false)
        .run_async(client)
        .await
        .map_err(|err| failed(database, err))?;
    Ok(newer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn migration(name: &str, sql: &str) -> Migration {
        Migration::unapplied(name, sql).expect("a valid migration name")
    }

    fn embedded() -> Vec<Migration> {
        vec![
            migration("V1__initial", "CREATE TABLE a (x INTEGER);"),
            migration("V2__more", "CREATE TABLE b (x INTEGER);"),
        ]
    }

    #[test]
    fn the_same_migrations_or_fewer_are_accepted() {
        assert_eq!(check(&embedded(), &embedded()), Ok(Vec::new()));
        assert_eq!(check(&embedded()[..1], &embedded()), Ok(Vec::new()));
        assert_eq!(check(&[], &embedded()), Ok(Vec::new()));
    }

    #[test]
    fn newer_migrations_are_tolerated_and_named() {
        let mut applied = embedded();
        applied.push(migration("V3__newer", "CREATE TABLE c (x INTEGER);"));
        applied.push(migration("V4__newest", "CREATE TABLE d (x INTEGER);"));
        assert_eq!(
            check(&applied, &embedded()),
            Ok(vec!["V3__newer".to_owned(), "V4__newest".to_owned()])
        );
    }

    #[test]
    fn a_divergent_migration_is_refused() {
        let applied = vec![
            migration("V1__initial", "CREATE TABLE a (x INTEGER);"),
            migration("V2__more", "CREATE TABLE b (y TEXT);"),
        ];
        let refused = check(&applied, &embedded()).expect_err("divergent");
        assert!(refused.contains("V2__more differs"), "{refused}");
    }

    #[test]
    fn an_unknown_older_migration_or_a_gap_is_refused() {
        let unknown = vec![
            migration("V1__initial", "CREATE TABLE a (x INTEGER);"),
            migration("V2__more", "CREATE TABLE b (x INTEGER);"),
        ];
        let embedded_with_gap = vec![
            migration("V1__initial", "CREATE TABLE a (x INTEGER);"),
            migration("V3__later", "CREATE TABLE c (x INTEGER);"),
        ];
        let refused = check(&unknown, &embedded_with_gap).expect_err("unknown older");
        assert!(refused.contains("V2__more is unknown"), "{refused}");
        let gap = vec![
            migration("V1__initial", "CREATE TABLE a (x INTEGER);"),
            migration("V3__newer", "CREATE TABLE c (x INTEGER);"),
        ];
        let refused = check(&gap, &embedded()).expect_err("gap");
        assert!(refused.contains("V2__more was not applied"), "{refused}");
    }
}
