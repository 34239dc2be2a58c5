//! Text from outside quoted in the markdown a check run's summary is (GitHub renders
//! `output.summary` as markdown; `output.title` it shows as plain text). A job name or
//! a line of evidence goes in as one inline code span, so that a link, an image, an
//! `@mention`, a heading, HTML or an emoji code in it is shown as written and never
//! acted on: the span's fence is one backtick longer than the longest run of backticks
//! inside (a backtick in the text cannot close it), the text is padded with a space
//! when it starts or ends with a backtick or a space (CommonMark strips one space each
//! side), and line breaks become spaces (a span is one line).

/// `text` as one inline code span.
pub fn code(text: &str) -> String {
    let one_line: String = text
        .chars()
        .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
        .collect();
    let longest_run = one_line
        .split(|c| c != '`')
        .map(str::len)
        .max()
        .unwrap_or(0);
    let fence = "`".repeat(longest_run + 1);
    let pad = if one_line.is_empty()
        || one_line.starts_with(['`', ' '])
        || one_line.ends_with(['`', ' '])
    {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{one_line}{pad}{fence}")
}

/// The text outside the code spans of `markdown` (its inline code removed): what
/// GitHub would render as markdown. For tests and the fuzz target; a backtick run with
/// no closing run of the same length is text, as in CommonMark.
pub fn outside_code(markdown: &str) -> String {
    let mut out = String::new();
    let mut rest = markdown;
    while let Some(start) = rest.find('`') {
        out.push_str(&rest[..start]);
        let after = &rest[start..];
        let run = after.len() - after.trim_start_matches('`').len();
        let body = &after[run..];
        match closing(body, run) {
            Some(end) => rest = &body[end + run..],
            None => {
                out.push_str(&after[..run]);
                rest = body;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Where in `body` a run of exactly `run` backticks starts, if one does.
fn closing(body: &str, run: usize) -> Option<usize> {
    let mut at = 0;
    while let Some(found) = body[at..].find('`') {
        let start = at + found;
        let len = body[start..].len() - body[start..].trim_start_matches('`').len();
        if len == run {
            return Some(start);
        }
        at = start + len;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_fenced_with_one_backtick() {
        assert_eq!(code("test (5, 1)"), "`test (5, 1)`");
    }

    #[test]
    fn markdown_in_the_text_ends_up_inside_the_span() {
        for text in [
            "[x](https://evil.example) ![i](https://evil.example/i.png) @octocat",
            "# Heading <script>alert(1)</script> :tada:",
            "a ` b `` c",
            "`starts and ends with a backtick`",
            "two\nlines",
            "",
            " ",
        ] {
            let quoted = code(text);
            assert_eq!(outside_code(&quoted), "", "{text:?} -> {quoted:?}");
            assert!(!quoted.contains('\n'), "{quoted:?}");
        }
    }

    #[test]
    fn text_around_spans_is_kept_and_an_unclosed_run_is_text() {
        assert_eq!(outside_code("a `b` c ``d`` e `f"), "a  c  e `f");
    }
}
