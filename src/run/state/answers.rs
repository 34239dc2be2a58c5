//! Redeliveries recognised from the run's own row: each delivery that changed the run is
//! remembered as an 8-byte token (a hash of its id and the status it was answered),
//! the newest few hundred, stored as one base64 string.

use super::RunState;

/// How many answered deliveries a run remembers beyond two per job of its current
/// attempt. A job changes its run at most twice (first seen, completed), so every
/// delivery of the current attempt is kept, and this many of the previous attempts
/// (among them the one that decided the previous attempt's re-run).
pub const ANSWERS_KEPT: usize = 32;

/// `answered` as one base64 string of big-endian 8-byte tokens: a run of many jobs keeps
/// hundreds, and a list of 20-digit numbers would double the row.
pub(super) mod tokens {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD_NO_PAD;
    use serde::{Deserialize, Deserializer, Serializer, de::Error as _};

    pub fn serialize<S: Serializer>(tokens: &[u64], serializer: S) -> Result<S::Ok, S::Error> {
        let bytes: Vec<u8> = tokens
            .iter()
            .flat_map(|token| token.to_be_bytes())
            .collect();
        serializer.serialize_str(&STANDARD_NO_PAD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u64>, D::Error> {
        let text = String::deserialize(deserializer)?;
        let bytes = STANDARD_NO_PAD
            .decode(text.as_bytes())
            .map_err(|err| D::Error::custom(format!("answered: {err}")))?;
        if bytes.len() % 8 != 0 {
            return Err(D::Error::custom("answered: not a whole number of tokens"));
        }
        Ok(bytes
            .chunks_exact(8)
            .map(|chunk| {
                let mut token = [0; 8];
                token.copy_from_slice(chunk);
                u64::from_be_bytes(token)
            })
            .collect())
    }
}

/// A delivery id's 64-bit FNV-1a hash. Among the ids one run remembers (a few hundred
/// for the biggest matrices), a collision of even 48 bits is not a practical concern.
fn delivery_hash(delivery: &str) -> u64 {
    delivery.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// One remembered answer: the delivery's hash in the high 48 bits, the status in the
/// low 16, so that a run keeps 8 bytes per delivery.
fn answer_token(delivery: &str, status: u16) -> u64 {
    (delivery_hash(delivery) & !0xFFFF) | u64::from(status)
}

impl RunState {
    /// The status `delivery` was answered with, if it changed this run before.
    pub fn answered(&self, delivery: &str) -> Option<u16> {
        let wanted = answer_token(delivery, 0);
        self.answered
            .iter()
            .rev()
            .find(|token| *token & !0xFFFF == wanted)
            .map(|token| (token & 0xFFFF) as u16)
    }

    /// Remembers that `delivery` changed this run and was answered `status`.
    pub fn remember_answer(&mut self, delivery: &str, status: u16) {
        let kept = 2 * self.jobs.len() + ANSWERS_KEPT;
        if self.answered.len() >= kept {
            let extra = self.answered.len() + 1 - kept;
            self.answered.drain(..extra);
        }
        self.answered.push(answer_token(delivery, status));
    }
}
