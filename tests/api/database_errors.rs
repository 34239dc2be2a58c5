//! PostgreSQL start-up failures as the binary reports them: one line naming the server
//! asked and the driver's cause, exit 1, never the password. The missing database and
//! role are asked of the machine's PostgreSQL; a failed password, a server that takes
//! TLS only and one that offers TLS are answered by a fake server speaking the protocol's
//! start-up exchange (the local server trusts every connection, so it never asks for a
//! password).

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Command;

const PASSWORD: &str = "db-hunter2";

/// Runs the binary against `url` and returns its one stderr line, checked to be one line
/// with exit 1 and without the password.
fn start_up_error(url: &str) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_job-rerunner"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("GITHUB_SIGN_KEY", "k")
        .env("PORT", "0")
        .env("HOST", "127.0.0.1")
        .env("DATABASE_URL", url)
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(1), "{url}: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        !stderr.contains(PASSWORD) && !stdout.contains(PASSWORD),
        "the password leaked: {stderr}{stdout}"
    );
    assert!(
        !stderr.contains("db error"),
        "the cause is not named: {stderr}"
    );
    stderr
}

/// The admin URL's host part and a URL on it for `user` and `database`, with a password.
fn local_url(user: &str, database: &str) -> String {
    let admin = std::env::var("TEST_DATABASE_URL").expect("set TEST_DATABASE_URL");
    let host = admin
        .split_once("://")
        .map(|(_, rest)| rest)
        .and_then(|rest| {
            rest.rsplit_once('@')
                .map_or(Some(rest), |(_, host)| Some(host))
        })
        .and_then(|rest| rest.split('/').next())
        .expect("a host in TEST_DATABASE_URL")
        .to_owned();
    format!("postgres://{user}:{PASSWORD}@{host}/{database}")
}

#[test]
#[ignore = "needs TEST_DATABASE_URL"]
fn a_missing_database_is_named_at_start_up() {
    let line = start_up_error(&local_url("postgres", "jr_no_such_database"));
    assert!(
        line.contains(r#"database "jr_no_such_database" does not exist (SQLSTATE 3D000)"#),
        "{line}"
    );
    assert!(line.contains(r#"user "postgres""#), "{line}");
}

#[test]
#[ignore = "needs TEST_DATABASE_URL"]
fn a_missing_role_is_named_at_start_up() {
    let line = start_up_error(&local_url("jr_no_such_role", "test"));
    assert!(
        line.contains(r#"role "jr_no_such_role" does not exist (SQLSTATE 28000)"#),
        "{line}"
    );
    assert!(line.contains("fix the user in DATABASE_URL"), "{line}");
}

#[test]
fn a_closed_port_says_connection_refused_at_that_host_and_port() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
        listener.local_addr().expect("its address").port()
    };
    let line = start_up_error(&format!(
        "postgres://bot:{PASSWORD}@127.0.0.1:{port}/rerunner"
    ));
    assert!(
        line.contains(&format!(
            "PostgreSQL at 127.0.0.1:{port}, database \"rerunner\""
        )),
        "{line}"
    );
    assert!(line.contains("connection refused"), "{line}");
}

/// A fake server that answers every start-up as `answer` says; its `host:port`.
fn fake_server(answer: Answer) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    let address = listener.local_addr().expect("its address").to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let _ = answer_start_up(&mut stream, answer);
        }
    });
    address
}

#[derive(Clone, Copy)]
enum Answer {
    /// Refuses the start-up with this SQLSTATE and message (as a real server does).
    Refuse(&'static str, &'static str),
    /// Accepts the client's TLS request ('S'), which this build cannot follow.
    OfferTls,
}

/// Reads one start-up message (after an SSLRequest, if the client sends one) and answers.
fn answer_start_up(stream: &mut std::net::TcpStream, answer: Answer) -> std::io::Result<()> {
    const SSL_REQUEST: u32 = 80_877_103;
    loop {
        let mut length = [0u8; 4];
        stream.read_exact(&mut length)?;
        let mut message = vec![0u8; (u32::from_be_bytes(length) as usize).saturating_sub(4)];
        stream.read_exact(&mut message)?;
        let code = message.get(..4).map_or(0, |code| {
            u32::from_be_bytes([code[0], code[1], code[2], code[3]])
        });
        match (code, answer) {
            (SSL_REQUEST, Answer::OfferTls) => return stream.write_all(b"S"),
            (SSL_REQUEST, Answer::Refuse(..)) => stream.write_all(b"N")?,
            (_, Answer::Refuse(sqlstate, said)) => {
                return stream.write_all(&error_response(sqlstate, said));
            }
            (_, Answer::OfferTls) => return Ok(()),
        }
    }
}

/// A protocol `ErrorResponse` ('E') with severity FATAL, the code and the message.
fn error_response(sqlstate: &str, message: &str) -> Vec<u8> {
    let mut fields = Vec::new();
    for (tag, value) in [
        (b'S', "FATAL"),
        (b'V', "FATAL"),
        (b'C', sqlstate),
        (b'M', message),
    ] {
        fields.push(tag);
        fields.extend_from_slice(value.as_bytes());
        fields.push(0);
    }
    fields.push(0);
    let mut out = vec![b'E'];
    out.extend_from_slice(&(fields.len() as u32 + 4).to_be_bytes());
    out.extend_from_slice(&fields);
    out
}

#[test]
fn a_failed_password_is_named_as_the_server_says_it() {
    let server = fake_server(Answer::Refuse(
        "28P01",
        r#"password authentication failed for user "bot""#,
    ));
    let line = start_up_error(&format!("postgres://bot:{PASSWORD}@{server}/rerunner"));
    assert!(
        line.contains(&format!(
            r#"PostgreSQL at {server}, database "rerunner", user "bot": password authentication failed for user "bot" (SQLSTATE 28P01)"#
        )),
        "{line}"
    );
    assert!(
        line.contains("check the password in DATABASE_URL"),
        "{line}"
    );
}

#[test]
fn a_server_that_takes_tls_only_is_said_to() {
    let server = fake_server(Answer::Refuse(
        "28000",
        r#"no pg_hba.conf entry for host "127.0.0.1", user "bot", database "rerunner", no encryption"#,
    ));
    let line = start_up_error(&format!("postgres://bot:{PASSWORD}@{server}/rerunner"));
    assert!(line.contains("no encryption (SQLSTATE 28000)"), "{line}");
    assert!(line.contains("over TLS only"), "{line}");
}

#[test]
fn sslmode_require_says_this_build_connects_without_tls() {
    let server = fake_server(Answer::OfferTls);
    let line = start_up_error(&format!(
        "postgres://bot:{PASSWORD}@{server}/rerunner?sslmode=require"
    ));
    assert!(line.contains(&format!("PostgreSQL at {server}")), "{line}");
    assert!(line.contains("TLS: "), "{line}");
    assert!(line.contains("sslmode"), "{line}");
}
