//! Which field of a webhook body has the wrong type, said when the body cannot be
//! parsed. serde_json's own message gives only a position ("invalid type: string, expected
//! u64 at line 1 column 48"); this names the field (`workflow_job.run_id must be a whole
//! number, not a string`). It runs on the refusal path only: the delivery is parsed again
//! as a `serde_json::Value`, so the hot path pays nothing for it.

use serde_json::Value;

/// What a field the service reads must hold (or be null or absent: all are optional
/// to the parser, the missing ones are refused by name later).
#[derive(Clone, Copy)]
enum Kind {
    Text,
    Whole { max: u64 },
    Object,
    List,
}

impl Kind {
    fn holds(self, value: &Value) -> bool {
        match (self, value) {
            (_, Value::Null) => true,
            (Kind::Text, Value::String(_)) => true,
            (Kind::Whole { max }, Value::Number(n)) => n.as_u64().is_some_and(|n| n <= max),
            (Kind::Object, Value::Object(_)) => true,
            (Kind::List, Value::Array(_)) => true,
            _ => false,
        }
    }

    fn expected(self) -> String {
        match self {
            Kind::Text => "a string".into(),
            Kind::Whole { max } => format!("a whole number from 0 to {max}"),
            Kind::Object => "an object".into(),
            Kind::List => "a list".into(),
        }
    }
}

const ID: Kind = Kind::Whole { max: u64::MAX };

/// The members `payload.rs` and `run_payload.rs` read, parents before their children.
const FIELDS: &[(&str, Kind)] = &[
    ("action", Kind::Text),
    ("sender", Kind::Object),
    ("sender.login", Kind::Text),
    ("repository", Kind::Object),
    ("repository.full_name", Kind::Text),
    ("workflow_job", Kind::Object),
    ("workflow_job.id", ID),
    ("workflow_job.run_id", ID),
    (
        "workflow_job.run_attempt",
        Kind::Whole {
            max: u32::MAX as u64,
        },
    ),
    ("workflow_job.status", Kind::Text),
    ("workflow_job.conclusion", Kind::Text),
    ("workflow_job.head_branch", Kind::Text),
    ("workflow_job.name", Kind::Text),
    ("workflow_job.workflow_name", Kind::Text),
    ("workflow_job.steps", Kind::List),
    // `run_payload.rs`
    ("workflow_run", Kind::Object),
    ("workflow_run.id", ID),
    (
        "workflow_run.run_attempt",
        Kind::Whole {
            max: u32::MAX as u64,
        },
    ),
    ("workflow_run.conclusion", Kind::Text),
    ("workflow_run.head_branch", Kind::Text),
    ("workflow_run.name", Kind::Text),
];

/// Why `text` (which serde refused with `err`) is not a usable payload: the first field
/// of the wrong type, by name; serde's message when none is (not JSON at all).
pub fn explain(text: &str, err: &serde_json::Error) -> String {
    let Ok(value) = serde_json::from_str::<Value>(text) else {
        return err.to_string();
    };
    wrong_field(&value).unwrap_or_else(|| err.to_string())
}

fn wrong_field(value: &Value) -> Option<String> {
    if !value.is_object() {
        return Some(format!(
            "the body must be a JSON object, not {}",
            kind_of(value)
        ));
    }
    for (path, kind) in FIELDS {
        let found = path.split('.').try_fold(value, |at, key| at.get(key));
        if let Some(found) = found.filter(|found| !kind.holds(found)) {
            return Some(mismatch(path, *kind, found));
        }
    }
    let steps = value
        .pointer("/workflow_job/steps")
        .and_then(Value::as_array)?;
    steps.iter().enumerate().find_map(|(index, step)| {
        let path = format!("workflow_job.steps[{index}]");
        if !Kind::Object.holds(step) {
            return Some(mismatch(&path, Kind::Object, step));
        }
        ["name", "conclusion"].into_iter().find_map(|key| {
            let found = step.get(key)?;
            (!Kind::Text.holds(found))
                .then(|| mismatch(&format!("{path}.{key}"), Kind::Text, found))
        })
    })
}

fn mismatch(path: &str, kind: Kind, found: &Value) -> String {
    let expected = kind.expected();
    match (kind, found) {
        // A number is short: shown, since its type alone would not say what is wrong.
        (Kind::Whole { .. }, Value::Number(n)) => format!("{path} must be {expected}, not {n}"),
        _ => format!("{path} must be {expected}, not {}", kind_of(found)),
    }
}

/// The JSON type of `value`, as the message names it (never the value: it may be long).
fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "true or false",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn explained(body: &str) -> String {
        let err = serde_json::from_str::<Value>("{").expect_err("an error to fall back to");
        explain(body, &err)
    }

    #[test]
    fn a_field_of_the_wrong_type_is_named_with_what_it_must_be() {
        for (body, said) in [
            (
                r#"{"workflow_job": {"run_id": "123"}}"#,
                "workflow_job.run_id must be a whole number from 0 to 18446744073709551615, not a string",
            ),
            (
                r#"{"workflow_job": {"run_attempt": 4294967296}}"#,
                "workflow_job.run_attempt must be a whole number from 0 to 4294967295, not 4294967296",
            ),
            (
                r#"{"repository": {"full_name": 7}}"#,
                "repository.full_name must be a string, not a number",
            ),
            (
                r#"{"sender": "bot"}"#,
                "sender must be an object, not a string",
            ),
            (
                r#"{"workflow_job": {"steps": [{"name": "a"}, {"conclusion": false}]}}"#,
                "workflow_job.steps[1].conclusion must be a string, not true or false",
            ),
            (
                r#"{"workflow_run": {"id": "42"}}"#,
                "workflow_run.id must be a whole number from 0 to 18446744073709551615, not a string",
            ),
            ("[1]", "the body must be a JSON object, not a list"),
        ] {
            assert_eq!(explained(body), said, "{body}");
        }
    }

    #[test]
    fn a_body_that_is_not_json_keeps_serdes_message() {
        assert_eq!(
            explained("payload=%7B%7D"),
            "EOF while parsing an object at line 1 column 1"
        );
    }
}
