//! `X-Hub-Signature-256`: HMAC-SHA256 of the raw body, keyed with the webhook secret.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::secret::Secret;

type HmacSha256 = Hmac<Sha256>;

/// Why a delivery's signature was refused. The messages never contain the key.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    /// No `X-Hub-Signature-256` header.
    #[error("X-Hub-Signature-256 header is missing")]
    Missing,
    /// The header is not `sha256=` followed by 64 hex digits.
    #[error("X-Hub-Signature-256 is not sha256=<hex>")]
    Malformed,
    /// The digest does not match the body.
    #[error("X-Hub-Signature-256 does not match the body")]
    Mismatch,
}

/// The digest a well-formed header carries.
pub type Digest = [u8; 32];

/// Reads `header` (`sha256=` and 64 hex digits) without looking at the body: a request
/// that fails this is refused before its body is read. No allocation.
pub fn parse(header: Option<&[u8]>) -> Result<Digest, SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let hex_digest = header
        .strip_prefix(b"sha256=")
        .ok_or(SignatureError::Malformed)?;
    let mut digest = [0u8; 32];
    hex::decode_to_slice(hex_digest, &mut digest).map_err(|_| SignatureError::Malformed)?;
    Ok(digest)
}

/// Checks a parsed digest against the body, in constant time.
pub fn check(key: &Secret, digest: &Digest, body: &[u8]) -> Result<(), SignatureError> {
    let mut mac = keyed(key);
    mac.update(body);
    mac.verify_slice(digest)
        .map_err(|_| SignatureError::Mismatch)
}

/// Checks `header` against the body, comparing digests in constant time.
pub fn verify(key: &Secret, header: Option<&[u8]>, body: &[u8]) -> Result<(), SignatureError> {
    check(key, &parse(header)?, body)
}

/// The header value GitHub would send for `body`; used by tests and the load generator.
pub fn sign(key: &Secret, body: &[u8]) -> String {
    let mut mac = keyed(key);
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn keyed(key: &Secret) -> HmacSha256 {
    // HMAC takes keys of any length, so this cannot fail.
    HmacSha256::new_from_slice(key.expose().as_bytes()).expect("HMAC accepts any key length")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// GitHub's published example ("Validating webhook deliveries").
    const GITHUB_SECRET: &str = "It's a Secret to Everybody";
    const GITHUB_PAYLOAD: &[u8] = b"Hello, World!";
    const GITHUB_SIGNATURE: &str =
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

    #[test]
    fn githubs_published_test_vector_verifies() {
        let key = Secret::new(GITHUB_SECRET);
        assert_eq!(
            verify(&key, Some(GITHUB_SIGNATURE.as_bytes()), GITHUB_PAYLOAD),
            Ok(())
        );
        assert_eq!(sign(&key, GITHUB_PAYLOAD), GITHUB_SIGNATURE);
    }

    #[test]
    fn a_changed_body_or_key_is_refused() {
        let key = Secret::new(GITHUB_SECRET);
        let header = Some(GITHUB_SIGNATURE.as_bytes());
        assert_eq!(
            verify(&key, header, b"Hello, World?"),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(&Secret::new("other"), header, GITHUB_PAYLOAD),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn missing_or_malformed_headers_are_refused() {
        let key = Secret::new(GITHUB_SECRET);
        assert_eq!(
            verify(&key, None, GITHUB_PAYLOAD),
            Err(SignatureError::Missing)
        );
        for bad in ["757107ea", "sha1=757107ea", "sha256=zz", "sha256="] {
            let result = verify(&key, Some(bad.as_bytes()), GITHUB_PAYLOAD);
            assert!(result.is_err(), "{bad} accepted");
        }
        // The shape alone, without the body: 64 hex digits, no more, no fewer.
        let digits = &GITHUB_SIGNATURE["sha256=".len()..];
        assert!(parse(Some(GITHUB_SIGNATURE.as_bytes())).is_ok());
        for bad in [
            format!("sha256={}", &digits[..63]),
            format!("sha256={digits}0"),
            format!("sha256={}g", &digits[..63]),
            format!("SHA256={digits}"),
        ] {
            assert_eq!(
                parse(Some(bad.as_bytes())),
                Err(SignatureError::Malformed),
                "{bad}"
            );
        }
    }

    mod properties {
        use proptest::collection::vec;
        use proptest::prelude::*;

        use super::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            #[test]
            fn what_is_signed_verifies_and_any_change_is_refused(
                key in ".{0,40}",
                body in vec(any::<u8>(), 0..512),
                at in any::<prop::sample::Index>(),
                flip in 1u8..=255,
            ) {
                let key = Secret::new(key);
                let header = sign(&key, &body);
                prop_assert_eq!(verify(&key, Some(header.as_bytes()), &body), Ok(()));
                // One byte of the body changed.
                if !body.is_empty() {
                    let mut changed = body.clone();
                    changed[at.index(body.len())] ^= flip;
                    prop_assert_eq!(
                        verify(&key, Some(header.as_bytes()), &changed),
                        Err(SignatureError::Mismatch)
                    );
                }
                // One byte of the header changed: malformed, or another digest.
                // (A change of case alone is the same hex digest: GitHub's is lower-case,
                // and an upper-case one means the same bytes.)
                let original = header.clone().into_bytes();
                let mut header = header.into_bytes();
                let i = at.index(header.len());
                header[i] ^= flip;
                if !header.eq_ignore_ascii_case(&original) {
                    prop_assert!(verify(&key, Some(&header), &body).is_err());
                }
            }

            #[test]
            fn any_header_is_refused_unless_it_is_the_digest(
                key in ".{0,40}",
                header in vec(any::<u8>(), 0..80),
                body in vec(any::<u8>(), 0..128),
            ) {
                let key = Secret::new(key);
                if verify(&key, Some(&header), &body).is_ok() {
                    let expected = sign(&key, &body);
                    prop_assert!(header.eq_ignore_ascii_case(expected.as_bytes()));
                }
            }
        }
    }
}
