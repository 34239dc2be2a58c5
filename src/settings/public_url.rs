//! `PUBLIC_URL` checked at start-up: it goes into every check run (`details_url` and
//! a markdown link in the summary, both `PUBLIC_URL/status`), which anyone who can see
//! the commit reads. So it must be an absolute `http(s)://HOST[:PORT][/PATH]` URL with
//! no user name or password (they would be published), no query or fragment (`/status`
//! is appended), and none of the characters that end a markdown link or an HTML
//! attribute (`( ) [ ] < > " ' \``, blanks): `https://ok.example) [x](https://evil.example`
//! and `"><script>` are refused, each with a one-line reason.

/// Characters that would end the summary's `[…](URL)` link or an attribute quoting it.
const UNSAFE: &[char] = &['(', ')', '[', ']', '<', '>', '"', '\'', '`', '\\', ' '];

/// `raw` as the check runs link it (without a trailing `/`), or why it is refused.
pub fn checked(raw: &str) -> Result<String, String> {
    if let Some(bad) = raw.chars().find(|c| UNSAFE.contains(c) || c.is_control()) {
        return Err(format!(
            "holds {bad:?}, which a markdown link or HTML would read as its end"
        ));
    }
    let url = url::Url::parse(raw)
        .map_err(|err| format!("is not an absolute URL (https://HOST): {err}"))?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err("must start with https:// or http://".into());
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("names no host (https://HOST)".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("holds a user name or password, which every check run would publish".into());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("must have no query or fragment (/status is appended to it)".into());
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_absolute_http_url_is_kept_without_its_trailing_slash() {
        assert_eq!(
            checked("https://rerun.example/").as_deref(),
            Ok("https://rerun.example")
        );
        assert_eq!(
            checked("http://10.0.0.1:8080/rerunner/").as_deref(),
            Ok("http://10.0.0.1:8080/rerunner")
        );
    }

    #[test]
    fn credentials_markdown_html_and_relative_urls_are_refused_with_a_reason() {
        for raw in [
            "https://robot:hunter2@rerun.example",
            "https://robot@rerun.example",
            "https://ok.example) [x](https://evil.example",
            "https://ok.example/a)[x](https://evil.example",
            "\"><script>alert(1)</script>",
            "https://ok.example?next=x",
            "https://ok.example#top",
            "ftp://ok.example",
            "rerun.example",
            "https://",
            "https://ok.example\n",
        ] {
            let why = checked(raw).expect_err(raw);
            assert!(!why.contains('\n') && !why.is_empty(), "{raw}: {why}");
            assert!(!why.contains("hunter2"), "{why}");
        }
    }
}
