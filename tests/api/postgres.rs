//! A fresh PostgreSQL database per test, from `TEST_DATABASE_URL` (an admin URL on the
//! machine's server). PostgreSQL tests are `#[ignore]`d, so a plain `cargo test` shows
//! them as ignored; `cargo test -- --include-ignored` (what `.ci/run` runs, with
//! `TEST_DATABASE_URL` set) runs them, and then a missing server is a failure.

use tokio_postgres::NoTls;

use crate::helpers::unique;

/// A database of the test's own, dropped at the end of the test.
pub struct TestDatabase {
    pub url: String,
    admin: String,
    name: String,
}

/// Creates a database for one test. Only ignored tests call it: asked to run, a test
/// without `TEST_DATABASE_URL` fails saying so.
pub async fn fresh_database(test: &str) -> TestDatabase {
    let Ok(admin) = std::env::var("TEST_DATABASE_URL") else {
        panic!(
            "{test} needs PostgreSQL: set TEST_DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/test)"
        );
    };
    let name = format!(
        "jr_test_{}_{}_{}",
        std::process::id(),
        unique(),
        crate::helpers::now_nanos() % 1_000_000
    );
    let client = connect(&admin).await;
    client
        .execute(&format!("CREATE DATABASE {name}"), &[])
        .await
        .expect("CREATE DATABASE");
    let url = with_database(&admin, &name);
    TestDatabase { url, admin, name }
}

impl TestDatabase {
    /// Answered re-runs recorded in this database: (repo, run_id, attempt, outcome).
    pub async fn outcomes(&self) -> Vec<(String, u64, u32, String)> {
        let client = connect(&self.url).await;
        let rows = client
            .query(
                "SELECT repo, run_id, attempt, outcome FROM reruns ORDER BY repo, run_id",
                &[],
            )
            .await
            .unwrap_or_default();
        rows.iter()
            .map(|row| {
                (
                    row.get(0),
                    row.get::<_, i64>(1) as u64,
                    row.get::<_, i32>(2) as u32,
                    row.get(3),
                )
            })
            .collect()
    }

    /// Drops the database (best effort: a failed test leaves it for inspection).
    pub async fn drop_now(self) {
        let client = connect(&self.admin).await;
        let _ = client
            .execute(
                &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
                &[],
            )
            .await;
    }
}

pub async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .expect("PostgreSQL answers");
    actix_web::rt::spawn(connection);
    client
}

/// `url` with its database name replaced.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_part = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    format!("{host_part}/{database}{query}")
}
