//! serde's type errors in the words of the person who wrote the policy: what the value
//! is, what the field takes, and the line to write instead. `attempts: invalid type:
//! string "3", expected i64` becomes `attempts: "3" is text; write a whole number
//! without quotes: attempts = 3`.

/// What was written, as serde names it.
enum Found<'a> {
    Text(&'a str),
    Whole(&'a str),
    Fraction(&'a str),
    YesNo(&'a str),
    List,
    Table,
}

/// What the field takes, as serde names it.
enum Wanted {
    Whole,
    Number,
    YesNo,
    Text,
    List,
    Duration,
    Table,
}

/// `problem` (serde's message) in plain words for `field` (`[defaults] attempts`,
/// `[[rule]] 2 branches[0]`), or `None` when it is not a type error this knows.
pub(super) fn plain(field: &str, problem: &str) -> Option<String> {
    let rest = problem.strip_prefix("invalid type: ")?;
    let (found, wanted) = rest.split_once(", expected ")?;
    let found = found_of(found)?;
    let wanted = wanted_of(wanted)?;
    // `[[rule]] 2 branches[0]`: the key is `branches`, and the value one of its items.
    let last = field.rsplit(' ').next().unwrap_or(field);
    let (key, in_list) = match last.split_once('[') {
        Some((key, _)) if !key.is_empty() => (key, true),
        // A table's own header: `[defaults]`.
        _ => (last.trim_matches(|c| c == '[' || c == ']'), false),
    };
    if key.is_empty() || key.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    if key == "rule" && matches!(found, Found::Table) {
        return Some(
            "[rule] makes one table; write [[rule]], with double brackets: each rule is one item of a list"
                .into(),
        );
    }
    Some(format!(
        "{}; {}",
        what_it_is(&found, &wanted),
        what_to_write(key, in_list, &found, &wanted)
    ))
}

fn found_of(text: &str) -> Option<Found<'_>> {
    let quoted = |prefix: &str, open: char, close: char| {
        text.strip_prefix(prefix)
            .and_then(|rest| rest.strip_prefix(open))
            .and_then(|rest| rest.strip_suffix(close))
    };
    if let Some(value) = quoted("string ", '"', '"') {
        return Some(Found::Text(value));
    }
    if let Some(value) = quoted("integer ", '`', '`') {
        return Some(Found::Whole(value));
    }
    if let Some(value) = quoted("floating point ", '`', '`') {
        return Some(Found::Fraction(value));
    }
    if let Some(value) = quoted("boolean ", '`', '`') {
        return Some(Found::YesNo(value));
    }
    match text {
        "sequence" => Some(Found::List),
        "map" => Some(Found::Table),
        _ => None,
    }
}

fn wanted_of(text: &str) -> Option<Wanted> {
    let integer = [
        "i8", "i16", "i32", "i64", "i128", "u8", "u16", "u32", "u64", "u128", "usize",
    ];
    match text {
        _ if integer.contains(&text) => Some(Wanted::Whole),
        "a number" | "f32" | "f64" => Some(Wanted::Number),
        "a boolean" => Some(Wanted::YesNo),
        "a string" => Some(Wanted::Text),
        "a sequence" => Some(Wanted::List),
        _ if text.starts_with("a duration") => Some(Wanted::Duration),
        _ if text.starts_with("struct ") => Some(Wanted::Table),
        _ => None,
    }
}

fn what_it_is(found: &Found<'_>, wanted: &Wanted) -> String {
    match found {
        Found::Text(value) => format!("\"{value}\" is text"),
        Found::Whole(value) => format!("{value} is a number"),
        Found::Fraction(value) if matches!(wanted, Wanted::Whole) => {
            format!("{value} is not a whole number")
        }
        Found::Fraction(value) => format!("{value} is a number"),
        Found::YesNo(value) => format!("{value} is a yes-or-no value"),
        Found::List => "a list is written here".into(),
        Found::Table => "a table is written here".into(),
    }
}

/// What to write, with the line itself: made from the value written when it says what
/// was meant (`"3"` for a whole number), else an example.
fn what_to_write(key: &str, in_list: bool, found: &Found<'_>, wanted: &Wanted) -> String {
    let text = match found {
        Found::Text(value) => Some(*value),
        _ => None,
    };
    let written = match found {
        Found::Text(value) | Found::Whole(value) | Found::Fraction(value) | Found::YesNo(value) => {
            Some(*value)
        }
        Found::List | Found::Table => None,
    };
    match wanted {
        Wanted::Whole => {
            let meant = text.filter(|value| value.trim().parse::<i64>().is_ok());
            line(
                key,
                "a whole number without quotes",
                meant.map(str::trim),
                "3",
            )
        }
        Wanted::Number => {
            let meant = text.filter(|value| value.trim().parse::<f64>().is_ok());
            line(key, "a number without quotes", meant.map(str::trim), "2.0")
        }
        Wanted::YesNo => {
            let meant =
                written
                    .map(|value| value.to_ascii_lowercase())
                    .and_then(|value| match value.as_str() {
                        "true" | "yes" | "on" | "1" => Some("true"),
                        "false" | "no" | "off" | "0" => Some("false"),
                        _ => None,
                    });
            line(key, "true or false without quotes", meant, "true")
        }
        Wanted::Text => {
            let meant = written.map(|value| format!("\"{value}\""));
            let item = |value: String| {
                if in_list {
                    format!("[{value}, …]")
                } else {
                    value
                }
            };
            line(key, "text in quotes", meant.map(item).as_deref(), "\"…\"")
        }
        Wanted::List => {
            let meant = written.map(|value| format!("[\"{value}\"]"));
            line(key, "a list in brackets", meant.as_deref(), "[\"…\"]")
        }
        Wanted::Duration => format!(
            "write a duration in quotes, such as {key} = \"30s\" or \"1h 30m\", or a number of seconds: {key} = 30"
        ),
        Wanted::Table => {
            format!(
                "write a table: [{key}] on a line of its own, and its fields on the lines below"
            )
        }
    }
}

/// `write {what}: key = meant`, or `write {what}, for example key = example`.
fn line(key: &str, what: &str, meant: Option<&str>, example: &str) -> String {
    match meant {
        Some(value) => format!("write {what}: {key} = {value}"),
        None => format!("write {what}, for example {key} = {example}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn said(field: &str, problem: &str) -> String {
        plain(field, problem).unwrap_or_else(|| panic!("not plain: {problem}"))
    }

    #[test]
    fn a_quoted_number_is_told_to_lose_its_quotes() {
        assert_eq!(
            said(
                "[defaults] attempts",
                r#"invalid type: string "3", expected i64"#
            ),
            r#""3" is text; write a whole number without quotes: attempts = 3"#
        );
        assert_eq!(
            said(
                "[defaults] backoff",
                r#"invalid type: string "2", expected a number"#
            ),
            r#""2" is text; write a number without quotes: backoff = 2"#
        );
    }

    #[test]
    fn a_word_where_a_number_goes_gets_an_example() {
        assert_eq!(
            said(
                "[[rule]] 2 stop_when_useless",
                r#"invalid type: string "three", expected i64"#
            ),
            r#""three" is text; write a whole number without quotes, for example stop_when_useless = 3"#
        );
        assert_eq!(
            said(
                "[defaults] attempts",
                "invalid type: floating point `2.5`, expected i64"
            ),
            "2.5 is not a whole number; write a whole number without quotes, for example attempts = 3"
        );
    }

    #[test]
    fn yes_or_no_lists_and_text_say_how_they_are_written() {
        assert_eq!(
            said(
                "[defaults] timed_out",
                r#"invalid type: string "true", expected a boolean"#
            ),
            r#""true" is text; write true or false without quotes: timed_out = true"#
        );
        assert_eq!(
            said(
                "[defaults] branches",
                r#"invalid type: string "main", expected a sequence"#
            ),
            r#""main" is text; write a list in brackets: branches = ["main"]"#
        );
        assert_eq!(
            said(
                "[defaults] branches[0]",
                "invalid type: integer `3`, expected a string"
            ),
            r#"3 is a number; write text in quotes: branches = ["3", …]"#
        );
        assert_eq!(
            said(
                "[defaults] mode",
                "invalid type: integer `3`, expected a string"
            ),
            r#"3 is a number; write text in quotes: mode = "3""#
        );
    }

    #[test]
    fn durations_and_tables_get_their_own_line() {
        assert_eq!(
            said(
                "[defaults] delay",
                r#"invalid type: boolean `true`, expected a duration such as "5s" or "30m", or a number of seconds"#
            ),
            r#"true is a yes-or-no value; write a duration in quotes, such as delay = "30s" or "1h 30m", or a number of seconds: delay = 30"#
        );
        assert_eq!(
            said(
                "[defaults]",
                "invalid type: integer `3`, expected struct RawSection"
            ),
            "3 is a number; write a table: [defaults] on a line of its own, and its fields on the lines below"
        );
        assert_eq!(
            said("rule", "invalid type: map, expected a sequence"),
            "[rule] makes one table; write [[rule]], with double brackets: each rule is one item of a list"
        );
    }

    #[test]
    fn other_errors_are_left_as_they_are() {
        assert!(plain("[defaults] atempts", "unknown field `atempts`").is_none());
        assert!(plain("x", "invalid type: unit value, expected i64").is_none());
    }
}
