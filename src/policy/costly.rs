//! Whether a list's own regexes are too costly to match, decided when the policy is
//! loaded rather than discovered while a decision waits.
//!
//! The regex crate matches a set of patterns with a lazy DFA, which builds the states
//! it needs as it reads. Some accepted patterns need exponentially many
//! (`[a-z]*a[a-z]{20}\p{Greek}` tracks every `a` of the last 20 letters); the lazy
//! DFA then keeps clearing its cache and gives up, and the regex crate falls back to
//! an engine a hundred times slower: 100 such patterns took ~100 ms per 4 KiB line,
//! seconds per log tail. This module builds the same lazy DFA the regex crate builds
//! (its cache capacity and give-up rule) and runs it over a fixed probe of log-like
//! lines; if it gives up there, the list is refused with a one-line reason. The
//! check is deterministic: it counts what the DFA does, it does not time it.

use regex_automata::hybrid::dfa::DFA;
use regex_automata::{Input, MatchErrorKind, MatchKind, PatternSet};

/// The regex crate's own lazy DFA cache (its `dfa_size_limit` default).
const CACHE_CAPACITY: usize = 2 << 20;

/// Probe lines: 4 KiB each, three of lowercase text dense in one letter (the shape that
/// blows counted repetitions up), one of log-like ASCII, one of mixed scripts.
fn probe() -> [String; 5] {
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut line =
        |pick: &mut dyn FnMut(u64) -> char| -> String { (0..4096).map(|_| pick(next())).collect() };
    let mut dense = || {
        line(&mut |x| {
            if x % 2 == 0 {
                'a'
            } else {
                char::from(b'a' + (x % 26) as u8)
            }
        })
    };
    let dense = [dense(), dense(), dense()];
    let ascii: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789 ._/:-=";
    let log_like = line(&mut |x| char::from(ascii[(x % ascii.len() as u64) as usize]));
    let scripts = ['a', 'e', 'z', 'α', 'λ', 'ω', 'д', 'ж', '7', ' ', '.', '-'];
    let mixed = line(&mut |x| scripts[(x % scripts.len() as u64) as usize]);
    let [first, second, third] = dense;
    [first, second, third, log_like, mixed]
}

/// Whether the lazy DFA for `regexes` gives up on the probe (what the regex crate
/// would then match slowly). Regexes the lazy DFA cannot build at all are left to the
/// regex crate's own checks.
pub fn gives_up<S: AsRef<str>>(regexes: &[S]) -> bool {
    let config = DFA::config()
        .match_kind(MatchKind::All)
        .cache_capacity(CACHE_CAPACITY)
        .unicode_word_boundary(true)
        .minimum_cache_clear_count(Some(3))
        .minimum_bytes_per_state(Some(10));
    let Ok(dfa) = DFA::builder().configure(config).build_many(regexes) else {
        return false;
    };
    let mut matched = PatternSet::new(dfa.pattern_len());
    // One cache for every line, as the regex crate keeps one between searches: the
    // clears that make it give up add up across lines.
    let mut cache = dfa.create_cache();
    probe().iter().any(|line| {
        matched.clear();
        let searched =
            dfa.try_which_overlapping_matches(&mut cache, &Input::new(line), &mut matched);
        // `Quit` is the Unicode word boundary on a non-ASCII letter: the regex crate
        // then uses another engine for that search, no slower; only giving up counts.
        matches!(searched, Err(err) if matches!(err.kind(), MatchErrorKind::GaveUp { .. }))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_whose_lazy_dfa_explodes_give_up() {
        let costly: Vec<String> = (0..100)
            .map(|i| format!("[a-z]*a[a-z]{{{}}}\\p{{Greek}}", 10 + i % 7))
            .collect();
        assert!(gives_up(&costly));
    }

    #[test]
    fn ordinary_patterns_do_not() {
        assert!(!gives_up(&[
            "(?i)assertion.*failed",
            r"error\[E\d{4}\]",
            "ECONNRESET",
            r"\bpanicked at\b",
            r"(?i)segmentation fault",
        ]));
    }
}
