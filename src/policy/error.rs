//! Policy errors: one line that says where the policy came from, the line and column
//! of the offending value and the field it belongs to, so that a person fixing a
//! `dokku config:set RULES=…` or a `policy.toml` knows exactly what to change.
//!
//! serde reports a byte span but not the key path; [`field_at`] finds the path from
//! the span in the document's spanned tree, so serde's own errors (unknown field,
//! wrong type) name the field like ours do. When the text is not even TOML (a
//! duplicate key, a bad escape) there is no tree: [`field_by_line`] then reads the
//! key that starts the line and the nearest table header above it. The usual slips
//! get a hint (`[rule]` for `[[rule]]`, a regex's backslash in double quotes), and a
//! value of the wrong type says what it is and what to write (`type_words`).

use std::fmt;
use std::ops::Range;
use std::path::PathBuf;

use toml::de::{DeTable, DeValue};

mod type_words;

/// Where a policy's text came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PolicySource {
    /// No `RULES` nor `RULES_FILE`: the environment's defaults alone.
    Environment,
    /// `RULES`: the TOML text itself.
    Inline,
    /// `RULES_FILE`: a path.
    File(PathBuf),
}

impl fmt::Display for PolicySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Environment => f.write_str("environment"),
            Self::Inline => f.write_str("RULES"),
            Self::File(path) => write!(f, "RULES_FILE {}", path.display()),
        }
    }
}

/// A position in the policy text, 1-based as editors show it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Location {
    /// Line number.
    pub line: usize,
    /// Column, in characters.
    pub column: usize,
}

impl Location {
    /// The position of byte `offset` of `text`.
    pub fn of(text: &str, offset: usize) -> Self {
        let offset = floor_char_boundary(text, offset.min(text.len()));
        let before = &text[..offset];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        Self {
            line: before.matches('\n').count() + 1,
            column: before[line_start..].chars().count() + 1,
        }
    }
}

/// Why a policy was refused. Its `Display` is the one line logged and printed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct PolicyError {
    /// Where the text came from; `None` when the error is about the sources
    /// themselves (both `RULES` and `RULES_FILE` set).
    pub origin: Option<PolicySource>,
    /// Where in the text, when the error is about a value.
    pub location: Option<Location>,
    /// The field at fault, as `[defaults] delay` or `[[rule]] 2 never_when[0]`.
    pub field: Option<String>,
    /// What is wrong. Never holds a secret: a policy has none.
    pub problem: String,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.origin {
            Some(source) => write!(f, "{source}")?,
            None => f.write_str("RULES, RULES_FILE")?,
        }
        if let Some(at) = self.location {
            write!(f, ":{}:{}", at.line, at.column)?;
        }
        f.write_str(": ")?;
        if let Some(field) = &self.field {
            write!(f, "{field}: ")?;
        }
        f.write_str(&self.problem)
    }
}

impl PolicyError {
    /// An error about the sources, not about a value (both set, unreadable file).
    pub(crate) fn sources(origin: Option<PolicySource>, problem: impl Into<String>) -> Self {
        Self {
            origin,
            location: None,
            field: None,
            problem: problem.into(),
        }
    }

    /// An error about the value at `span` of `text`, in `field`.
    pub(crate) fn at(
        source: &PolicySource,
        text: &str,
        span: Range<usize>,
        field: impl Into<String>,
        problem: impl Into<String>,
    ) -> Self {
        let field = field.into();
        Self {
            origin: Some(source.clone()),
            location: Some(Location::of(text, span.start)),
            field: (!field.is_empty()).then_some(field),
            problem: one_line(&problem.into()),
        }
    }

    /// serde's error, with the field found from its span.
    pub(crate) fn from_toml(source: &PolicySource, text: &str, err: &toml::de::Error) -> Self {
        let problem = one_line(err.message());
        match err.span() {
            Some(span) => {
                let field = field_at(text, span.start)
                    .or_else(|| field_by_line(text, span.start))
                    .unwrap_or_default();
                let problem = type_words::plain(&field, &problem).unwrap_or(problem);
                let problem = with_hint(&field, problem);
                Self::at(source, text, span, field, problem)
            }
            None => Self::sources(Some(source.clone()), problem),
        }
    }
}

/// Multi-line messages (the regex crate draws a caret under the pattern) folded into
/// one line: the log and the exit message are one line each.
pub(crate) fn one_line(message: &str) -> String {
    let lines: Vec<&str> = message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    // The regex crate's last line is "error: what"; the pattern and caret above it
    // repeat what the field already shows.
    if let Some(last) = lines.last().and_then(|l| l.strip_prefix("error: ")) {
        return last.to_owned();
    }
    lines.join("; ")
}

/// `problem` with a hint for the slips people make most.
fn with_hint(field: &str, problem: String) -> String {
    let hint = if problem.contains("escape") {
        "write regexes in single quotes ('\\d'): a backslash then means itself"
    } else if field == "rule" && problem.contains("expected a sequence") {
        "write [[rule]], with double brackets: each rule is one item of a list"
    } else if field == "defaults" && problem.contains("expected struct") {
        "write [defaults], with single brackets: there is one"
    } else {
        return problem;
    };
    format!("{problem}; {hint}")
}

/// The field of byte `offset` read from the text alone, for text that does not
/// parse: the key that starts its line (or the nearest one above, for a value inside
/// a multi-line array), after the nearest table header above, in the words of
/// [`field_at`].
pub(crate) fn field_by_line(text: &str, offset: usize) -> Option<String> {
    let offset = floor_char_boundary(text, offset.min(text.len()));
    let line_end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
    let mut header: Option<String> = None;
    let mut key: Option<&str> = None;
    let mut rules = 0;
    for line in text[..line_end].lines() {
        let line = line.trim();
        if let Some(name) = line.strip_prefix("[[").and_then(|l| l.split("]]").next()) {
            let name = name.trim();
            header = Some(if name == "rule" {
                rules += 1;
                format!("[[rule]] {rules}")
            } else {
                name.to_owned()
            });
            key = None;
        } else if let Some(name) = line.strip_prefix('[').and_then(|l| l.split(']').next()) {
            let name = name.trim();
            header = Some(if name == "defaults" {
                "[defaults]".to_owned()
            } else {
                name.to_owned()
            });
            key = None;
        } else {
            let bare = line
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
                .map_or(line, |end| &line[..end]);
            if !bare.is_empty() && line[bare.len()..].trim_start().starts_with('=') {
                key = Some(bare);
            }
        }
    }
    match (header, key) {
        (Some(h), Some(k)) => Some(format!("{h} {k}")),
        (h, k) => h.or(k.map(str::to_owned)),
    }
}

/// The key path of the value at byte `offset`, in the words the errors use:
/// `[defaults] delay`, `[[rule]] 2 skip_jobs[1]`, or a top-level key.
pub(crate) fn field_at(text: &str, offset: usize) -> Option<String> {
    let root = DeTable::parse(text).ok()?;
    let mut path = Vec::new();
    walk_table(root.get_ref(), offset, &mut path);
    if path.is_empty() {
        return None;
    }
    Some(render_path(&path))
}

enum Step {
    Key(String),
    Index(usize),
}

fn walk_table(table: &DeTable<'_>, offset: usize, path: &mut Vec<Step>) -> bool {
    for (key, value) in table.iter() {
        let in_key = key.span().contains(&offset);
        let depth = path.len();
        path.push(Step::Key(key.get_ref().to_string()));
        // A table's own span may cover only its header: look inside whatever it says.
        if walk_value(value.get_ref(), offset, path) || in_key || value.span().contains(&offset) {
            return true;
        }
        path.truncate(depth);
    }
    false
}

fn walk_value(value: &DeValue<'_>, offset: usize, path: &mut Vec<Step>) -> bool {
    match value {
        DeValue::Table(table) => walk_table(table, offset, path),
        DeValue::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                let depth = path.len();
                path.push(Step::Index(index));
                if walk_value(item.get_ref(), offset, path) || item.span().contains(&offset) {
                    return true;
                }
                path.truncate(depth);
            }
            false
        }
        _ => false,
    }
}

fn render_path(path: &[Step]) -> String {
    let mut out = String::new();
    let mut steps = path.iter().peekable();
    // The two tables users write get the spelling of their headers.
    match (steps.next(), steps.peek()) {
        (Some(Step::Key(k)), Some(Step::Index(i))) if k == "rule" => {
            out.push_str(&format!("[[rule]] {}", i + 1));
            steps.next();
        }
        (Some(Step::Key(k)), _) if k == "defaults" => out.push_str("[defaults]"),
        (Some(Step::Key(k)), _) => out.push_str(k),
        (Some(Step::Index(i)), _) => out.push_str(&format!("[{i}]")),
        (None, _) => {}
    }
    for step in steps {
        match step {
            Step::Key(k) => {
                if !out.is_empty() {
                    out.push(' ');
                }
                out.push_str(k);
            }
            Step::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

fn floor_char_boundary(text: &str, mut index: usize) -> usize {
    while !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_location_counts_lines_and_characters_from_one() {
        let text = "a = 1\n[defaults]\ndelay = \"é5x\"\n";
        let offset = text.find("\"é5x").expect("present") + 2;
        assert_eq!(
            Location::of(text, offset),
            Location {
                line: 3,
                column: 10
            }
        );
        assert_eq!(Location::of(text, 0), Location { line: 1, column: 1 });
    }

    #[test]
    fn the_field_of_an_offset_is_named_as_users_write_it() {
        let text = "[defaults]\ndelay = \"5s\"\n\n[[rule]]\nrepos = [\"a/*\"]\n\n[[rule]]\nskip_jobs = [\"x\", \"y\"]\n";
        let at = |needle: &str| field_at(text, text.find(needle).expect("present"));
        assert_eq!(at("\"5s\"").as_deref(), Some("[defaults] delay"));
        assert_eq!(at("\"a/*\"").as_deref(), Some("[[rule]] 1 repos[0]"));
        assert_eq!(at("\"y\"").as_deref(), Some("[[rule]] 2 skip_jobs[1]"));
        assert_eq!(at("skip_jobs").as_deref(), Some("[[rule]] 2 skip_jobs"));
    }

    #[test]
    fn a_regex_error_becomes_one_line() {
        let unclosed = String::from("a(");
        let err = regex::Regex::new(&unclosed).expect_err("invalid");
        assert_eq!(one_line(&err.to_string()), "unclosed group");
    }

    #[test]
    fn the_message_names_source_line_and_field() {
        let text = "\n[defaults]\ndelay = \"soon\"\n";
        let span = text.find("\"soon\"").expect("present");
        let err = PolicyError::at(
            &PolicySource::File("policy.toml".into()),
            text,
            span..span + 6,
            "[defaults] delay",
            "bad",
        );
        assert_eq!(
            err.to_string(),
            "RULES_FILE policy.toml:3:9: [defaults] delay: bad"
        );
    }
}
