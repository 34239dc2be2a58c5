//! Text from outside made safe to log, store and show.
//!
//! GitHub's error messages, the bodies of proxies that answer in its place, error
//! messages that quote what they could not read, and URLs given in the configuration all
//! end up in log lines, the `reruns` table and the status page. They may carry
//! credentials (a token quoted back, `user:password@` in a URL, a signed query string)
//! and anything a log viewer would interpret (escape sequences, bidirectional overrides,
//! line breaks that forge a second log line). Everything such is passed through
//! [`message`] or [`url`] where it is first turned into our text, so that no path to a
//! log line or a row can forget it.

/// Longest message kept, in characters (GitHub's own messages are one short sentence).
pub const MAX_MESSAGE_CHARS: usize = 200;

/// Put in place of anything that looks like a credential.
const REDACTED: &str = "[redacted]";

/// Prefixes of GitHub's tokens: personal (classic and fine-grained), OAuth, user-to-server,
/// server-to-server (an installation's, or Actions' `GITHUB_TOKEN`) and refresh tokens.
const TOKEN_PREFIXES: [&str; 6] = ["ghp_", "github_pat_", "gho_", "ghu_", "ghs_", "ghr_"];

/// Authorization schemes whose next word is a credential.
const SCHEMES: [&str; 2] = ["bearer", "basic"];

/// `raw` as one short line: control and invisible formatting characters become spaces,
/// runs of whitespace one space, the service's own secret values
/// ([`crate::own_secrets`]), the catalogue's token shapes ([`crate::token_shapes`]),
/// token-shaped words (GitHub's token prefixes, JSON Web Tokens) and the word after
/// `Bearer`/`Basic` `[redacted]`, and the result at most [`MAX_MESSAGE_CHARS`]
/// characters (cut with `…`).
pub fn message(raw: &str) -> String {
    let visible: String = raw
        .chars()
        .map(|c| if is_hidden(c) { ' ' } else { c })
        .collect();
    let visible = crate::own_secrets::mask(&visible, REDACTED);
    let visible = crate::token_shapes::redact(&visible, REDACTED);
    let mut words = Vec::new();
    let mut after_scheme = false;
    for word in visible.split_whitespace() {
        if after_scheme {
            words.push(REDACTED.to_owned());
            after_scheme = false;
            continue;
        }
        let bare = word.trim_matches(|c: char| !c.is_ascii_alphanumeric());
        // `ends_with`: an escape sequence's remains may be glued to it (`[31mBearer`).
        let lower = bare.to_ascii_lowercase();
        after_scheme = SCHEMES.iter().any(|s| lower.ends_with(s));
        if bare.starts_with("eyJ") && bare.contains('.') {
            // A JSON Web Token (a GitHub App's): base64 JSON header, dot, claims, dot, signature.
            words.push(REDACTED.to_owned());
        } else {
            words.push(without_tokens(word));
        }
    }
    let line = words.join(" ");
    if line.chars().count() <= MAX_MESSAGE_CHARS {
        return line;
    }
    let mut cut: String = line.chars().take(MAX_MESSAGE_CHARS - 1).collect();
    cut.push('…');
    cut
}

/// `raw` (an absolute URL or a path) without its user name, password, query and
/// fragment, then made a safe [`message`]: `https://u:p@ghe.example/api/v3?t=x` is
/// shown as `https://ghe.example/api/v3`.
pub fn url(raw: &str) -> String {
    let end = raw.find(['?', '#']).unwrap_or(raw.len());
    let base = &raw[..end];
    let shown = match base.split_once("://") {
        Some((scheme, rest)) => {
            let path_at = rest.find('/').unwrap_or(rest.len());
            let (authority, path) = rest.split_at(path_at);
            let host = authority
                .rsplit_once('@')
                .map_or(authority, |(_, host)| host);
            format!("{scheme}://{host}{path}")
        }
        None => base.to_owned(),
    };
    message(&shown)
}

/// Characters a terminal or log viewer would act on rather than show: C0/C1 controls
/// (escape sequences, line breaks), zero-width characters and bidirectional overrides.
fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{200B}'..='\u{200F}'
            | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{FEFF}')
}

/// `word` with every token-shaped part (a run of letters, digits and `_` that starts like
/// a GitHub token) replaced.
fn without_tokens(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    let mut rest = word;
    while let Some(start) = rest.find(is_token_char) {
        out.push_str(&rest[..start]);
        let tail = &rest[start..];
        let len = tail.find(|c| !is_token_char(c)).unwrap_or(tail.len());
        let part = &tail[..len];
        if TOKEN_PREFIXES.iter().any(|p| part.starts_with(p)) {
            out.push_str(REDACTED);
        } else {
            out.push_str(part);
        }
        rest = &tail[len..];
    }
    out.push_str(rest);
    out
}

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_tokens_are_redacted_wherever_they_stand_in_a_word() {
        let shown = message(
            r#"invalid type: string "ghs_0123456789abcdefghij", expected u32; token=ghp_ABC github_pat_11AA_bb"#,
        );
        assert_eq!(
            shown,
            r#"invalid type: string "[redacted]", expected u32; token=[redacted] [redacted]"#
        );
    }

    #[test]
    fn the_word_after_an_authorization_scheme_is_redacted() {
        assert_eq!(
            message("sent Authorization: Bearer abc.def-ghi, got 401"),
            "sent Authorization: Bearer [redacted] got 401"
        );
        assert_eq!(message("basic dXNlcjpwYXNz"), "basic [redacted]");
        assert_eq!(message("\x1b[31mBearer abc"), "[31mBearer [redacted]");
        assert_eq!(
            message("a JWT eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOjF9.c2ln here"),
            "a JWT [redacted] here"
        );
    }

    #[test]
    fn controls_and_invisible_characters_become_spaces_and_lines_join() {
        assert_eq!(
            message("one\nforged=line\r\n\x1b[31mred\x1b[0m \u{202e}txet\u{200b}x\0"),
            "one forged=line [31mred [0m txet x"
        );
    }

    #[test]
    fn a_long_message_is_cut_to_the_limit_on_a_character_boundary() {
        let shown = message(&"é".repeat(500));
        assert_eq!(shown.chars().count(), MAX_MESSAGE_CHARS);
        assert!(shown.ends_with('…'));
        assert_eq!(message("short"), "short");
    }

    #[test]
    fn a_url_loses_its_credentials_query_and_fragment() {
        assert_eq!(
            url("https://robot:hunter2@ghe.example:8443/api/v3?access_token=x#top"),
            "https://ghe.example:8443/api/v3"
        );
        assert_eq!(url("https://ghp_TOKEN@ghe.example"), "https://ghe.example");
        assert_eq!(url("/sso/login?state=abc"), "/sso/login");
        assert_eq!(url("https://api.github.com"), "https://api.github.com");
    }

    #[test]
    fn the_catalogues_shapes_and_the_services_own_secrets_are_redacted() {
        crate::own_secrets::register("redact-test-own-secret");
        let shown = message(
            "npm ERR! 403 npm_abcdefghijklmnopqrstuvwxyz0123456789 xoxb-1234567890-abcdefghij echo redact-test-own-secret",
        );
        assert!(!shown.contains("abcdefghijklmnop"), "{shown}");
        assert!(!shown.contains("1234567890-abc"), "{shown}");
        assert!(!shown.contains("redact-test-own-secret"), "{shown}");
    }
}
