//! The webhook signature check on any key, header and body: never a panic; what `sign`
//! makes verifies; a header is accepted only if it is the body's digest; a changed body
//! is refused.

#![no_main]

use job_rerunner::http::signature::{SignatureError, sign, verify};
use job_rerunner::settings::Secret;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (String, Option<Vec<u8>>, Vec<u8>)| {
    let (key, header, body) = input;
    let key = Secret::new(key);
    let expected = sign(&key, &body);
    if verify(&key, header.as_deref(), &body).is_ok() {
        let header = header.unwrap_or_default();
        assert!(
            header.eq_ignore_ascii_case(expected.as_bytes()),
            "accepted a header that is not the digest"
        );
    }
    assert_eq!(verify(&key, Some(expected.as_bytes()), &body), Ok(()));
    if let Some(last) = body.len().checked_sub(1) {
        let mut changed = body.clone();
        changed[last] ^= 0x01;
        assert_eq!(
            verify(&key, Some(expected.as_bytes()), &changed),
            Err(SignatureError::Mismatch)
        );
    }
});
