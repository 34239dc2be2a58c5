//! A log body as any host could send it: any bytes, announced as identity, gzip or
//! deflate, with or without a `Content-Length`, in chunks of any size. Reading it never
//! panics, never reads more than the cap, keeps at most the tail (plus a partial
//! character's replacement), and an identity body whose length matches what it
//! announced is always read whole.

#![no_main]

use std::time::Duration;

use bytes::Bytes;
use job_rerunner::github::log_body::{BodyHead, Encoding, read_tail};
use libfuzzer_sys::fuzz_target;

const TAIL: usize = 64;
const CAP: u64 = 4096;

fuzz_target!(|input: &[u8]| {
    let [mode, chunk, body @ ..] = input else {
        return;
    };
    let encoding = match mode % 3 {
        0 => Encoding::Identity,
        1 => Encoding::Gzip,
        _ => Encoding::Deflate,
    };
    let content_length = match (mode / 3) % 3 {
        0 => None,
        1 => Some(body.len() as u64),
        _ => Some(body.len() as u64 + u64::from(*chunk)),
    };
    let head = BodyHead {
        content_length,
        encoding,
    };
    let chunks: Vec<Result<Bytes, String>> = body
        .chunks(usize::from(*chunk).max(1))
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    let mut counted = 0;
    let read = runtime.block_on(async {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        read_tail(
            futures_util::stream::iter(chunks),
            head,
            (TAIL, CAP),
            deadline,
            |n| counted += n,
        )
        .await
    });
    if let Ok(tail) = &read {
        assert!(tail.read_bytes <= CAP);
        assert_eq!(tail.read_bytes, counted);
        // Lossy decoding turns each invalid byte into at most 3 bytes.
        assert!(tail.text.len() <= 3 * TAIL, "{}", tail.text.len());
    }
    if encoding == Encoding::Identity && content_length == Some(body.len() as u64) {
        let tail = read.expect("a whole identity body reads");
        assert_eq!(tail.read_bytes, (body.len() as u64).min(CAP));
    }
});
