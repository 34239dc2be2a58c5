//! Just enough Markdown for the documentation's tests: the pages, their headings as
//! GitHub anchors them, their links, their fenced blocks and their tables. Text inside
//! fenced blocks and code spans is code, never a link or a heading.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// A page of the documentation: its path from the repository root and its text.
pub struct Page {
    pub path: PathBuf,
    pub text: String,
}

/// The repository root.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A file of the repository, by its path from the root.
pub fn read(path: &Path) -> String {
    let full = root().join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|err| panic!("{}: {err}", full.display()))
}

/// README.md and every page under docs/: what a user reads.
pub fn documentation() -> Vec<Page> {
    let mut paths = vec![PathBuf::from("README.md")];
    let mut pages: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .expect("docs/ is there")
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "md"))
        .map(|path| Path::new("docs").join(path.file_name().expect("a file name")))
        .collect();
    pages.sort();
    paths.extend(pages);
    paths
        .into_iter()
        .map(|path| Page {
            text: read(&path),
            path,
        })
        .collect()
}

/// One line of a page, or of a fenced block, told apart.
enum Line<'a> {
    /// Prose (or a heading, or a table row), with its 1-based number.
    Prose(usize, &'a str),
    /// A line inside a fenced block.
    Code,
}

/// The page's lines, each marked as prose or code.
fn lines(text: &str) -> Vec<Line<'_>> {
    let mut fence: Option<(char, usize)> = None;
    let mut out = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let marker = fence_marker(line);
        match (fence, marker) {
            (None, Some((c, n, _))) => {
                fence = Some((c, n));
                out.push(Line::Code);
            }
            (Some((c, n)), Some((c2, n2, info))) if c == c2 && n2 >= n && info.is_empty() => {
                fence = None;
                out.push(Line::Code);
            }
            (Some(_), _) => out.push(Line::Code),
            (None, None) => out.push(Line::Prose(index + 1, line)),
        }
    }
    out
}

/// The fence a line opens or closes: its character, its length and its info string.
fn fence_marker(line: &str) -> Option<(char, usize, &str)> {
    let trimmed = line.trim_start();
    let c = trimmed.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let n = trimmed.chars().take_while(|x| *x == c).count();
    (n >= 3).then(|| (c, n, trimmed[n..].trim()))
}

/// `line` without its code spans (`` `…` ``, ``` `` … `` ```): what is left is prose.
fn without_code_spans(line: &str) -> String {
    let chars: Vec<char> = line.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '`' {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let run = chars[i..].iter().take_while(|c| **c == '`').count();
        // The span closes at the next run of exactly as many backticks.
        let mut j = i + run;
        let mut closed = None;
        while j < chars.len() {
            let next = chars[j..].iter().take_while(|c| **c == '`').count();
            if next == run {
                closed = Some(j + next);
                break;
            }
            j += next.max(1);
        }
        match closed {
            Some(end) => {
                out.push_str("code");
                i = end;
            }
            None => {
                out.extend(&chars[i..i + run]);
                i += run;
            }
        }
    }
    out
}

/// A link of a page: its line and where it points, as written.
pub struct Link {
    pub line: usize,
    pub target: String,
}

/// The inline links and images of a page's prose: `[text](target)`, `![alt](target)`.
pub fn links(text: &str) -> Vec<Link> {
    let pattern = regex::Regex::new(r#"\]\(\s*<?([^)\s>]*)>?(?:\s+"[^"]*")?\s*\)"#)
        .expect("the link pattern");
    let mut found = Vec::new();
    for line in lines(text) {
        let Line::Prose(number, line) = line else {
            continue;
        };
        let prose = without_code_spans(line);
        for capture in pattern.captures_iter(&prose) {
            found.push(Link {
                line: number,
                target: capture[1].to_owned(),
            });
        }
    }
    found
}

/// A heading's anchor as GitHub makes it: lower case, every character that is not a
/// letter, a digit, `-`, `_` or a space dropped, each space a `-`.
pub fn slug(heading: &str) -> String {
    heading
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | ' '))
        .flat_map(char::to_lowercase)
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The text a heading shows: code spans keep their text, links their label.
fn heading_text(raw: &str) -> String {
    let link = regex::Regex::new(r"!?\[([^\]]*)\]\([^)]*\)").expect("the link pattern");
    let text = link.replace_all(raw, "$1");
    text.replace('`', "")
        .trim()
        .trim_end_matches('#')
        .trim()
        .to_owned()
}

/// The page's headings (outside fenced blocks), as written.
pub fn headings(text: &str) -> Vec<(usize, usize, String)> {
    let mut found = Vec::new();
    for line in lines(text) {
        let Line::Prose(number, line) = line else {
            continue;
        };
        let level = line.chars().take_while(|c| *c == '#').count();
        if (1..=6).contains(&level) && line[level..].starts_with(' ') {
            found.push((number, level, heading_text(&line[level..])));
        }
    }
    found
}

/// Every anchor the page's headings make; a repeated heading gets `-1`, `-2`, … as on
/// GitHub.
pub fn anchors(text: &str) -> BTreeSet<String> {
    let mut made = BTreeSet::new();
    for (_, _, heading) in headings(text) {
        let base = slug(&heading);
        let mut anchor = base.clone();
        let mut n = 0;
        while made.contains(&anchor) {
            n += 1;
            anchor = format!("{base}-{n}");
        }
        made.insert(anchor);
    }
    made
}

/// A fenced block: where it starts, its language and its text.
pub struct Block {
    pub line: usize,
    pub lang: String,
    pub body: String,
    /// The note on the line before it, `<!-- note -->`: `fragment` (a piece of a
    /// file, not a whole one), `refused` (a policy shown for the error it makes).
    pub note: Option<String>,
}

/// The page's fenced blocks, their lines unindented by the fence's own indentation.
pub fn fenced_blocks(text: &str) -> Vec<Block> {
    let all: Vec<&str> = text.lines().collect();
    let mut blocks = Vec::new();
    let mut i = 0;
    while i < all.len() {
        let Some((c, n, info)) = fence_marker(all[i]) else {
            i += 1;
            continue;
        };
        let indent = all[i].len() - all[i].trim_start().len();
        let before = all[..i].iter().rev().find(|line| !line.trim().is_empty());
        let mut body = String::new();
        let mut j = i + 1;
        while j < all.len() {
            if let Some((c2, n2, rest)) = fence_marker(all[j])
                && c2 == c
                && n2 >= n
                && rest.is_empty()
            {
                break;
            }
            let line = all[j];
            let cut = line.len() - line.trim_start().len();
            body.push_str(&line[cut.min(indent)..]);
            body.push('\n');
            j += 1;
        }
        blocks.push(Block {
            line: i + 1,
            lang: info.split_whitespace().next().unwrap_or("").to_owned(),
            body,
            note: before.and_then(|line| {
                let inner = line.trim().strip_prefix("<!--")?.strip_suffix("-->")?;
                Some(inner.trim().to_owned())
            }),
        });
        i = j + 1;
    }
    blocks
}

/// The rows of the first table after the heading `heading` (its text, as written),
/// each cell trimmed; the header row and the separator left out.
pub fn table_after(text: &str, heading: &str) -> Vec<Vec<String>> {
    let start = headings(text)
        .into_iter()
        .find(|(_, _, h)| h == heading)
        .unwrap_or_else(|| panic!("no heading {heading:?}"))
        .0;
    text.lines()
        .skip(start)
        .skip_while(|line| !line.starts_with('|'))
        .take_while(|line| line.starts_with('|'))
        .skip(2)
        .map(|row| {
            let inner = row.trim().trim_start_matches('|').trim_end_matches('|');
            inner
                .split('|')
                .map(|cell| cell.trim().to_owned())
                .collect()
        })
        .collect()
}

/// The text of the section under `heading`, up to the next heading of its level or
/// higher.
pub fn section(text: &str, heading: &str) -> String {
    let all = headings(text);
    let (start, level, _) = all
        .iter()
        .find(|(_, _, h)| h == heading)
        .unwrap_or_else(|| panic!("no heading {heading:?}"));
    let end = all
        .iter()
        .find(|(line, l, _)| line > start && l <= level)
        .map_or(usize::MAX, |(line, _, _)| *line);
    text.lines()
        .enumerate()
        .filter(|(index, _)| index + 1 > *start && index + 1 < end)
        .map(|(_, line)| format!("{line}\n"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_follow_githubs_rules() {
        assert_eq!(
            slug("Trying a policy on past decisions: what-if"),
            "trying-a-policy-on-past-decisions-what-if"
        );
        assert_eq!(
            slug("Judgement on real failures (issue 19)"),
            "judgement-on-real-failures-issue-19"
        );
        let page = "# A\n## With `workflow_run`\n```\n# not a heading\n```\n## A\n";
        let made: Vec<String> = anchors(page).into_iter().collect();
        assert_eq!(made, ["a", "a-1", "with-workflow_run"]);
    }

    #[test]
    fn links_in_code_are_not_links() {
        let page = "see [x](a.md#b) and `[y](c.md)`\n```\n[z](d.md)\n```\n![i](p.png)\n";
        let targets: Vec<String> = links(page).into_iter().map(|l| l.target).collect();
        assert_eq!(targets, ["a.md#b", "p.png"]);
    }
}
