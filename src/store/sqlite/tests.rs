use super::*;

#[test]
fn a_busy_database_is_unavailable_and_a_full_disk_refuses() {
    let failure =
        |code| rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), Some("x".into()));
    let busy = sql_error(failure(rusqlite::ffi::SQLITE_BUSY));
    assert!(matches!(busy, StoreError::Unavailable(_)), "{busy:?}");
    let full = sql_error(failure(rusqlite::ffi::SQLITE_FULL));
    assert!(matches!(full, StoreError::Refused(_)), "{full:?}");
    assert_eq!(full.to_string(), format!("store: {}", full.message()));
}

#[test]
fn a_wal_grown_by_a_burst_is_cut_back_when_it_starts_over() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("burst.db");
    let path = path.to_str().expect("utf-8");
    let conn = connect(path).expect("opens");
    conn.pragma_update(None, "wal_autocheckpoint", 0)
        .expect("no automatic checkpoint, as the store's writer");
    conn.execute("CREATE TABLE burst (data BLOB)", [])
        .expect("table");
    let wal = || std::fs::metadata(format!("{path}-wal")).map_or(0, |m| m.len());
    let chunk = vec![7u8; 1 << 20];
    for _ in 0..72 {
        conn.execute("INSERT INTO burst (data) VALUES (?1)", [&chunk])
            .expect("insert");
    }
    assert!(
        wal() > WAL_SIZE_LIMIT as u64,
        "the burst grew the WAL to {}",
        wal()
    );
    // The checkpointer's passive checkpoint copies it all back; the next write
    // starts the WAL over.
    super::thread::checkpoint(&connect(path).expect("a second connection"), "PASSIVE");
    conn.execute("DELETE FROM burst", [])
        .expect("a small write");
    assert!(
        wal() <= WAL_SIZE_LIMIT as u64,
        "the WAL kept {} bytes",
        wal()
    );
}

#[test]
fn a_failed_change_makes_the_store_unready_until_a_change_commits() {
    let health = WriteHealth::default();
    assert!(health.check().is_ok(), "nothing failed yet");
    health.record(Some(&StoreError::Refused(
        "database or disk is full".into(),
    )));
    let err = health.check().expect_err("the latest change failed");
    assert!(err.message().contains("database or disk is full"), "{err}");
    // A later commit in the same millisecond must count as later.
    std::thread::sleep(Duration::from_millis(2));
    health.record(None);
    assert!(health.check().is_ok(), "a change committed since");
}

#[test]
fn a_failure_long_past_no_longer_speaks_for_the_store() {
    let health = WriteHealth::default();
    let long_ago = unix_ms() - WRITE_TROUBLE_FOR.as_millis() as u64 - 1;
    health.failed_at.store(long_ago, Ordering::Relaxed);
    assert!(health.check().is_ok());
}
