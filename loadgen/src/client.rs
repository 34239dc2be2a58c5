//! A lean HTTP/1.1 keep-alive client connection over a tokio `TcpStream`.
//!
//! Just enough HTTP for the benchmark: one request in flight per connection, responses
//! framed by `Content-Length` (or empty: 204/304/1xx). A general-purpose client
//! (hyper, awc) would spend a good share of the two shared cores on its own generality.

use std::io;
use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Largest response head accepted; the service's are ~150 bytes.
const MAX_HEAD: usize = 16 * 1024;

/// One keep-alive connection.
pub struct Connection {
    stream: TcpStream,
    buf: Vec<u8>,
    filled: usize,
    /// The server said `Connection: close`: the caller must reconnect.
    closed: bool,
}

impl Connection {
    /// Connects to `addr` with Nagle off (requests are written in one piece anyway, but
    /// the small response must not wait for a delayed ACK).
    pub async fn open(addr: SocketAddr) -> io::Result<Self> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream,
            buf: vec![0; 4096],
            filled: 0,
            closed: false,
        })
    }

    /// Whether the server closed the connection after the last response.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Writes `request` (a complete HTTP/1.1 request) and reads the response; returns its
    /// status code. The response body is read and discarded.
    pub async fn exchange(&mut self, request: &[u8]) -> io::Result<u16> {
        self.stream.write_all(request).await?;
        let head_len = loop {
            if let Some(end) = find_head_end(&self.buf[..self.filled]) {
                break end;
            }
            if self.filled == MAX_HEAD {
                return Err(invalid("response head too large"));
            }
            self.fill().await?;
        };
        let head = parse_head(&self.buf[..head_len])?;
        self.closed = head.close;
        let total = head_len + head.body_len;
        while self.filled < total {
            self.fill().await?;
        }
        // Keep whatever follows (nothing, unless the server sent more than asked for).
        self.buf.copy_within(total..self.filled, 0);
        self.filled -= total;
        Ok(head.status)
    }

    /// Reads more bytes, growing the buffer when full.
    async fn fill(&mut self) -> io::Result<()> {
        if self.filled == self.buf.len() {
            self.buf.resize(self.buf.len() * 2, 0);
        }
        let read = self.stream.read(&mut self.buf[self.filled..]).await?;
        if read == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "server closed the connection",
            ));
        }
        self.filled += read;
        Ok(())
    }
}

/// What the response head says.
#[derive(Debug, PartialEq, Eq)]
struct Head {
    status: u16,
    body_len: usize,
    close: bool,
}

/// The end of the head (just past `\r\n\r\n`), once it has fully arrived.
fn find_head_end(bytes: &[u8]) -> Option<usize> {
    bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4)
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}

fn parse_head(head: &[u8]) -> io::Result<Head> {
    let text = std::str::from_utf8(head).map_err(|_| invalid("response head is not UTF-8"))?;
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status: u16 = status_line
        .strip_prefix("HTTP/1.1 ")
        .or_else(|| status_line.strip_prefix("HTTP/1.0 "))
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| invalid("bad status line"))?;
    let mut body_len = None;
    let mut close = status_line.starts_with("HTTP/1.0");
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            body_len = Some(value.parse().map_err(|_| invalid("bad content-length"))?);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(invalid("chunked responses are not supported"));
        } else if name.eq_ignore_ascii_case("connection") {
            close = value.eq_ignore_ascii_case("close");
        }
    }
    let bodiless = status == 204 || status == 304 || status < 200;
    let body_len = match body_len {
        Some(len) => len,
        None if bodiless => 0,
        // Delimited by closing the connection: read nothing, reconnect afterwards.
        None => {
            close = true;
            0
        }
    };
    Ok(Head {
        status,
        body_len,
        close,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_are_parsed() {
        let head =
            b"HTTP/1.1 202 Accepted\r\ncontent-length: 13\r\ncontent-type: text/plain\r\n\r\n";
        assert_eq!(find_head_end(head), Some(head.len()));
        assert_eq!(
            parse_head(head).expect("valid"),
            Head {
                status: 202,
                body_len: 13,
                close: false
            }
        );
        let no_content = b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n";
        assert_eq!(
            parse_head(no_content).expect("valid"),
            Head {
                status: 204,
                body_len: 0,
                close: true
            }
        );
        assert!(parse_head(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n").is_err());
        assert!(parse_head(b"garbage\r\n\r\n").is_err());
    }
}
