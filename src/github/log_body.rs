//! Reading a log download to its verified end, in bounded memory.
//!
//! awc reports the connection's end as the body's end: a blob host that closes after
//! half of the `Content-Length` it announced, or in the middle of a chunked body,
//! gives a stream that simply stops. A log cut short that way looks whole, and its
//! last line may be one a policy decides on. So the body is checked here: the bytes
//! received are compared with `Content-Length`, and a compressed body must reach the
//! end its format marks (gzip's trailer, zlib's last block), which also covers a
//! chunked body cut between chunks. A body that stops early is
//! [`ReadError::Incomplete`], retried and then reported unavailable, never decided on.
//!
//! Compressed bodies are decoded here too, not by awc (whose decoder inflates one
//! network read at once: 64 KiB of a gzip bomb is 64 MB in memory). Each input chunk
//! goes through flate2's streaming decoder, whose output (at most 32 KiB a step) is
//! pushed straight into the [`TailBuffer`] ring and stops at the read cap: memory stays
//! at the tail plus one step, whatever the ratio.

use std::future::Future;
use std::io::Write;
use std::time::Duration;

use actix_web::web::Bytes;
use flate2::write::{GzDecoder, ZlibDecoder};
use futures_util::{Stream, StreamExt};

use super::logs::{LogTail, TailBuffer};

/// How the body is encoded (`Content-Encoding`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// Not encoded (no header, or `identity`).
    Identity,
    /// `gzip` (or `x-gzip`).
    Gzip,
    /// `deflate`: zlib-wrapped, as HTTP means it.
    Deflate,
}

impl Encoding {
    /// The encoding a `Content-Encoding` value names; `Err` with a short reason for
    /// one that is not decoded here (`br`, `zstd`, a list of several).
    pub fn parse(header: Option<&str>) -> Result<Self, String> {
        let Some(value) = header.map(str::trim).filter(|v| !v.is_empty()) else {
            return Ok(Encoding::Identity);
        };
        match value.to_ascii_lowercase().as_str() {
            "identity" => Ok(Encoding::Identity),
            "gzip" | "x-gzip" => Ok(Encoding::Gzip),
            "deflate" => Ok(Encoding::Deflate),
            _ => {
                Err("the log was sent in an encoding that is not read (not gzip or deflate)".into())
            }
        }
    }
}

/// What the answer's head says of its body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BodyHead {
    /// `Content-Length`: the bytes the body must have, as sent (encoded).
    pub content_length: Option<u64>,
    /// `Content-Encoding`.
    pub encoding: Encoding,
}

/// Why reading a log stream stopped short.
#[derive(Debug, PartialEq, Eq)]
pub enum ReadError {
    /// A chunk could not be read (connection reset, bad encoding).
    Stream(String),
    /// The deadline passed before the end.
    Deadline(Duration),
    /// The body stopped before its end: fewer bytes than `Content-Length`, or a
    /// compressed stream without its end.
    Incomplete(String),
}

/// Where decoded bytes go: the tail ring, up to the read cap.
struct Sink<F> {
    tail: TailBuffer,
    max_read_bytes: u64,
    on_bytes: F,
    /// Bytes beyond the cap came: the log goes on past what was read.
    capped: bool,
}

impl<F: FnMut(u64)> Write for Sink<F> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let left = self.max_read_bytes.saturating_sub(self.tail.pushed());
        let take = bytes.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        self.tail.push(&bytes[..take]);
        (self.on_bytes)(take as u64);
        if take < bytes.len() {
            self.capped = true;
            // Stops the decoder at once: a bomb past the cap is not inflated further.
            return Err(std::io::Error::other("read cap reached"));
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The body's decoder, writing into the sink.
enum Decoder<F: FnMut(u64)> {
    Identity(Sink<F>),
    Gzip(Box<GzDecoder<Sink<F>>>),
    Deflate(Box<ZlibDecoder<Sink<F>>>),
}

impl<F: FnMut(u64)> Decoder<F> {
    fn new(encoding: Encoding, sink: Sink<F>) -> Self {
        match encoding {
            Encoding::Identity => Decoder::Identity(sink),
            Encoding::Gzip => Decoder::Gzip(Box::new(GzDecoder::new(sink))),
            Encoding::Deflate => Decoder::Deflate(Box::new(ZlibDecoder::new(sink))),
        }
    }

    fn sink(&self) -> &Sink<F> {
        match self {
            Decoder::Identity(sink) => sink,
            Decoder::Gzip(decoder) => decoder.get_ref(),
            Decoder::Deflate(decoder) => decoder.get_ref(),
        }
    }

    /// Decodes `bytes`; `Ok(true)` once the cap is reached.
    fn write(&mut self, bytes: &[u8]) -> Result<bool, ReadError> {
        let written = match self {
            Decoder::Identity(sink) => sink.write_all(bytes),
            Decoder::Gzip(decoder) => decoder.write_all(bytes),
            Decoder::Deflate(decoder) => decoder.write_all(bytes),
        };
        match written {
            Ok(()) => Ok(false),
            Err(_) if self.sink().capped => Ok(true),
            Err(err) => Err(ReadError::Stream(format!("undecodable log: {err}"))),
        }
    }

    /// Whether the input was a whole stream (a compressed one reached its end).
    fn check_end(&mut self) -> Result<(), ReadError> {
        let ended = match self {
            Decoder::Identity(_) => Ok(()),
            Decoder::Gzip(decoder) => decoder.try_finish(),
            Decoder::Deflate(decoder) => decoder.try_finish(),
        };
        ended.map_err(|err| ReadError::Incomplete(format!("the compressed log has no end ({err})")))
    }

    /// The tail read.
    fn into_tail(self) -> TailBuffer {
        let take = |sink: &mut Sink<F>| {
            // flate2's decoder finishes its stream when dropped: nothing more is taken.
            sink.max_read_bytes = 0;
            std::mem::replace(&mut sink.tail, TailBuffer::new(1))
        };
        match self {
            Decoder::Identity(sink) => sink.tail,
            Decoder::Gzip(mut decoder) => take(decoder.get_mut()),
            Decoder::Deflate(mut decoder) => take(decoder.get_mut()),
        }
    }
}

/// Reads `body` to its end, or to `max_read_bytes` decoded, keeping the last
/// `tail_bytes`; gives up when `deadline` passes. A body that ends before what `head`
/// announces is [`ReadError::Incomplete`]. Memory stays at the tail plus one chunk
/// and one decoding step. `on_bytes` is told how many decoded bytes each step added
/// (for the metrics).
pub async fn read_tail<S, E>(
    body: S,
    head: BodyHead,
    (tail_bytes, max_read_bytes): (usize, u64),
    deadline: tokio::time::Instant,
    on_bytes: impl FnMut(u64),
) -> Result<LogTail, ReadError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let sink = Sink {
        tail: TailBuffer::new(tail_bytes),
        max_read_bytes,
        on_bytes,
        capped: false,
    };
    let mut decoder = Decoder::new(head.encoding, sink);
    let reading = async {
        let mut body = body;
        let mut received = 0u64;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|err| ReadError::Stream(err.to_string()))?;
            received += chunk.len() as u64;
            if decoder.write(&chunk)? {
                return Ok(true); // the cap is what is read: the rest stays unsent
            }
        }
        match head.content_length {
            Some(expected) if received < expected => Err(ReadError::Incomplete(format!(
                "the log stopped after {received} of its {expected} bytes"
            ))),
            _ => Ok(false),
        }
    };
    let capped = within(deadline, reading).await??;
    if !capped {
        // Stopped on purpose, a compressed stream's end is not there to check.
        decoder.check_end()?;
    }
    Ok(decoder.into_tail().finish(capped))
}

async fn within<T>(
    deadline: tokio::time::Instant,
    work: impl Future<Output = T>,
) -> Result<T, ReadError> {
    let started = tokio::time::Instant::now();
    tokio::time::timeout_at(deadline, work)
        .await
        .map_err(|_| ReadError::Deadline(started.elapsed()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDENTITY: BodyHead = BodyHead {
        content_length: None,
        encoding: Encoding::Identity,
    };

    fn soon() -> tokio::time::Instant {
        tokio::time::Instant::now() + Duration::from_secs(5)
    }

    async fn read(
        chunks: Vec<Result<Bytes, String>>,
        head: BodyHead,
        tail: usize,
        max: u64,
    ) -> Result<LogTail, ReadError> {
        read_tail(
            futures_util::stream::iter(chunks),
            head,
            (tail, max),
            soon(),
            |_| {},
        )
        .await
    }

    fn gzip(text: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(text).expect("in memory");
        encoder.finish().expect("in memory")
    }

    fn ok(bytes: &[u8]) -> Result<Bytes, String> {
        Ok(Bytes::copy_from_slice(bytes))
    }

    #[actix_web::test]
    async fn reading_stops_at_the_cap_and_says_so() {
        let chunks: Vec<Result<Bytes, String>> = (0..10)
            .map(|i| Ok(Bytes::from(format!("chunk {i}\n"))))
            .collect();
        let mut counted = 0;
        let tail = read_tail(
            futures_util::stream::iter(chunks),
            IDENTITY,
            (100, 20),
            soon(),
            |n| counted += n,
        )
        .await
        .expect("read");
        assert_eq!(tail.text, "chunk 0\nchunk 1\nchun");
        assert!(tail.capped);
        assert_eq!(tail.read_bytes, 20);
        assert_eq!(counted, 20);
    }

    #[actix_web::test]
    async fn a_log_exactly_at_the_cap_is_not_capped() {
        let tail = read(vec![ok(b"0123456789")], IDENTITY, 100, 10)
            .await
            .expect("read");
        assert!(!tail.capped);
        assert_eq!(tail.text, "0123456789");
    }

    #[actix_web::test]
    async fn a_broken_stream_is_an_error_not_a_short_log() {
        let chunks = vec![ok(b"start\n"), Err("reset".into())];
        let read = read(chunks, IDENTITY, 100, 1000).await;
        assert_eq!(read, Err(ReadError::Stream("reset".into())));
    }

    #[actix_web::test]
    async fn a_body_shorter_than_its_content_length_is_incomplete() {
        let head = BodyHead {
            content_length: Some(12),
            encoding: Encoding::Identity,
        };
        let read = read(vec![ok(b"half\n")], head, 100, 1000).await;
        assert_eq!(
            read,
            Err(ReadError::Incomplete(
                "the log stopped after 5 of its 12 bytes".into()
            ))
        );
        let whole = read_tail(
            futures_util::stream::iter(vec![ok(b"half\n"), ok(b"and half")]),
            head,
            (100, 1000),
            soon(),
            |_| {},
        )
        .await
        .expect("whole");
        assert_eq!(whole.text, "half\nand half");
    }

    #[actix_web::test]
    async fn a_gzip_body_is_decoded_and_one_without_its_end_is_incomplete() {
        let text = b"line one\nline two\nthe last line\n".repeat(100);
        let packed = gzip(&text);
        let head = BodyHead {
            content_length: None,
            encoding: Encoding::Gzip,
        };
        let chunks = packed.chunks(7).map(ok).collect();
        let tail = read(chunks, head, 1 << 20, 1 << 20).await.expect("whole");
        assert_eq!(tail.text.as_bytes(), &text[..]);
        assert_eq!(tail.read_bytes, text.len() as u64);
        let cut = packed[..packed.len() / 2].chunks(7).map(ok).collect();
        let read = read(cut, head, 1 << 20, 1 << 20).await;
        assert!(matches!(read, Err(ReadError::Incomplete(_))), "{read:?}");
        // Without only its trailer (the CRC and length), too.
        let no_trailer = vec![ok(&packed[..packed.len() - 8])];
        let read = super::tests::read(no_trailer, head, 1 << 20, 1 << 20).await;
        assert!(matches!(read, Err(ReadError::Incomplete(_))), "{read:?}");
    }

    #[actix_web::test]
    async fn a_gzip_bomb_is_decoded_only_up_to_the_cap() {
        // 64 MiB of zeros packed in ~64 KiB, sent as one chunk.
        let packed = gzip(&vec![0u8; 64 << 20]);
        assert!(packed.len() < 128 << 10, "{}", packed.len());
        let head = BodyHead {
            content_length: Some(packed.len() as u64),
            encoding: Encoding::Gzip,
        };
        let mut counted = 0;
        let tail = read_tail(
            futures_util::stream::iter(vec![ok(&packed)]),
            head,
            (4096, 1 << 20),
            soon(),
            |n| counted += n,
        )
        .await
        .expect("read");
        assert!(tail.capped);
        assert_eq!(tail.read_bytes, 1 << 20);
        assert_eq!(counted, 1 << 20);
    }

    #[actix_web::test]
    async fn a_deflate_body_is_decoded_and_garbage_is_an_error() {
        let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(b"deflated\n").expect("in memory");
        let packed = encoder.finish().expect("in memory");
        let head = BodyHead {
            content_length: Some(packed.len() as u64),
            encoding: Encoding::Deflate,
        };
        let tail = read(vec![ok(&packed)], head, 100, 100).await.expect("read");
        assert_eq!(tail.text, "deflated\n");
        let garbage = read(vec![ok(b"not zlib at all")], head, 100, 100).await;
        assert!(garbage.is_err(), "{garbage:?}");
    }

    #[test]
    fn encodings_are_read_from_the_header() {
        assert_eq!(Encoding::parse(None), Ok(Encoding::Identity));
        assert_eq!(Encoding::parse(Some(" GZIP ")), Ok(Encoding::Gzip));
        assert_eq!(Encoding::parse(Some("deflate")), Ok(Encoding::Deflate));
        assert!(Encoding::parse(Some("br")).is_err());
        assert!(Encoding::parse(Some("gzip, gzip")).is_err());
    }
}
