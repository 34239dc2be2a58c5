//! The status page's HTML pieces: the style sheet, escaping, durations, the chart, and
//! tables that read on a phone. On a narrow screen (under 40em, a 390 px phone) each
//! table row becomes a block of `column: value` lines, so that no column (the long
//! "why not" evidence above all) is pushed off-screen; on a wide one they are tables.

use std::fmt::Write as _;

/// The page's head: the style sheet, the narrow-screen layout included.
pub const HEAD: &str = r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>job-rerunner status</title><style>
body{font:15px/1.4 system-ui,sans-serif;margin:0 auto;max-width:70em;padding:1em;color:#1b1f24}
h1{font-size:1.4em}h2{font-size:1.1em;margin-top:1.6em}
.wrap{overflow-x:auto}table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.3em .5em;border-bottom:1px solid #d0d7de;vertical-align:top}
td{overflow-wrap:anywhere}
th{font-weight:600;background:#f6f8fa}.num{text-align:right}.muted{color:#57606a}
.chart{width:100%;max-width:36em;height:auto}.chart rect{fill:#2da44e}.chart line{stroke:#57606a;stroke-width:.5}.chart text{font-size:6px;fill:#57606a}
.started{color:#1a7f37}.refused,.gave_up{color:#cf222e}
@media (max-width:40em){
.wrap table,.wrap tbody,.wrap tr,.wrap td{display:block;width:auto}
.wrap tr:first-child{display:none}
.wrap tr{border-bottom:1px solid #d0d7de;padding:.4em 0}
.wrap td{border:0;padding:.1em 0;text-align:left}
.wrap td:empty{display:none}
.wrap td[data-label]:not([data-label=""])::before{content:attr(data-label) ": ";color:#57606a}
}
</style></head><body><h1>job-rerunner</h1>"#;

/// `text` safe to put in HTML, in an element or an attribute.
pub fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            _ => escaped.push(c),
        }
    }
    escaped
}

/// A duration as people read it: `40 s`, `12 min`, `3 h 20 min`.
pub fn age(seconds: u64) -> String {
    match seconds {
        0..60 => format!("{seconds} s"),
        60..3600 => format!("{} min", seconds / 60),
        _ => format!("{} h {} min", seconds / 3600, seconds % 3600 / 60),
    }
}

/// Names joined by commas, escaped.
pub fn list(names: &[String]) -> String {
    escape(&names.join(", "))
}

/// `n thing` or `n things`.
pub fn count(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A bar per hour, the newest on the right.
pub fn chart(per_hour: &[u32]) -> String {
    let peak = per_hour.iter().copied().max().unwrap_or(0).max(1);
    let mut svg = String::from(
        r#"<svg viewBox="0 0 240 74" role="img" aria-label="re-runs per hour over the last day" class="chart">"#,
    );
    for (hour, count) in per_hour.iter().enumerate() {
        let height = (*count as f64 / peak as f64 * 60.0).round();
        let _ = write!(
            svg,
            r#"<rect x="{}" y="{}" width="8" height="{}"><title>{} re-runs, {} h ago</title></rect>"#,
            hour * 10 + 1,
            62.0 - height,
            height,
            count,
            23 - hour
        );
    }
    svg.push_str(r#"<line x1="0" y1="62.5" x2="240" y2="62.5"/>"#);
    let _ = write!(
        svg,
        r#"<text x="0" y="70">24 h ago</text><text x="240" y="70" text-anchor="end">now · peak {peak}/h</text></svg>"#
    );
    svg
}

/// A column of a table: its heading, and whether its figures align right.
#[derive(Clone, Copy)]
pub struct Column {
    name: &'static str,
    numeric: bool,
}

/// A column of words.
pub const fn text(name: &'static str) -> Column {
    Column {
        name,
        numeric: false,
    }
}

/// A column of figures.
pub const fn figures(name: &'static str) -> Column {
    Column {
        name,
        numeric: true,
    }
}

/// A table being written: its header row is out, rows follow, [`Table::end`] closes it.
pub struct Table<'a> {
    html: &'a mut String,
    columns: &'a [Column],
}

impl<'a> Table<'a> {
    /// Opens a table with `columns` as its header row.
    pub fn start(html: &'a mut String, columns: &'a [Column]) -> Self {
        html.push_str(r#"<div class="wrap"><table><tr>"#);
        for column in columns {
            let class = if column.numeric {
                r#" class="num""#
            } else {
                ""
            };
            let _ = write!(html, "<th{class}>{}</th>", column.name);
        }
        html.push_str("</tr>");
        Self { html, columns }
    }

    /// One row: `cells` are HTML already (escaped), one per column; `class` (a word)
    /// marks a cell for its colour, as `started` or `refused` do.
    pub fn row(&mut self, cells: &[(&str, String)]) {
        self.html.push_str("<tr>");
        for (column, (class, cell)) in self.columns.iter().zip(cells) {
            let classes = [column.numeric.then_some("num"), Some(*class)]
                .into_iter()
                .flatten()
                .filter(|c| !c.is_empty())
                .collect::<Vec<_>>()
                .join(" ");
            let class = if classes.is_empty() {
                String::new()
            } else {
                format!(r#" class="{classes}""#)
            };
            let _ = write!(
                self.html,
                r#"<td data-label="{}"{class}>{cell}</td>"#,
                column.name
            );
        }
        self.html.push_str("</tr>");
    }

    /// Closes the table.
    pub fn end(self) {
        self.html.push_str("</table></div>");
    }
}

/// A cell without a class of its own.
pub fn cell(html: String) -> (&'static str, String) {
    ("", html)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_names_is_escaped() {
        assert_eq!(
            escape(r#"<script>"x"&'y'"#),
            "&lt;script&gt;&quot;x&quot;&amp;&#39;y&#39;"
        );
    }

    #[test]
    fn the_chart_has_a_bar_per_hour() {
        let svg = chart(&[1; 24]);
        assert_eq!(svg.matches("<rect").count(), 24);
    }

    #[test]
    fn every_cell_carries_its_columns_name_for_narrow_screens() {
        let mut html = String::new();
        let columns = [text("repository"), figures("times")];
        let mut table = Table::start(&mut html, &columns);
        table.row(&[cell("org/a".into()), ("started", "3".into())]);
        table.end();
        assert!(
            html.contains(
                r#"<td data-label="repository">org/a</td><td data-label="times" class="num started">3</td>"#
            ),
            "{html}"
        );
        assert!(html.contains(r#"<th class="num">times</th>"#), "{html}");
    }

    #[test]
    fn counts_read_in_the_singular_and_the_plural() {
        assert_eq!(count(1, "re-run", "re-runs"), "1 re-run");
        assert_eq!(count(0, "re-run", "re-runs"), "0 re-runs");
    }
}
