//! The families as people read them: `docs/families.md` is this module's output,
//! and a test fails (and writes the file anew) when the declarations changed and the
//! page did not, so the page can never say what the code does not do.

use std::fmt::Write;

use super::{Class, FAMILIES, GROUPS, Weight};

/// The page `docs/families.md`.
pub fn markdown() -> String {
    let mut page = String::from(
        "# Built-in failure families\n\n\
         <!-- Written by `cargo test` from src/policy/families/: edit the declarations, not this page. -->\n\n\
         A policy names a family with `@` in `only_when` or `never_when` \
         (`only_when = [\"@transient\"]`). A family is matched against the failed job's \
         *decisive line*: the line that failed the step (docs/policy.md, \"Families\"), \
         not any line that happens to contain a word. Each message below was copied from the \
         public thread it links to; the tests check that every message is matched by its \
         pattern.\n\n\
         | word | stands for |\n|---|---|\n",
    );
    for group in GROUPS {
        let families: Vec<String> = group.families.iter().map(|f| format!("`@{f}`")).collect();
        let _ = writeln!(
            page,
            "| `@{}` | {}: {} |",
            group.name,
            group.doc,
            families.join(", ")
        );
    }
    for class in [Class::Transient, Class::Broken, Class::NotStarted] {
        let _ = write!(
            page,
            "\n## {} families\n",
            match class {
                Class::Transient => "Transient",
                Class::Broken => "Broken",
                Class::NotStarted => "Not started",
            }
        );
        for family in FAMILIES.iter().filter(|f| f.class == class) {
            let _ = write!(
                page,
                "\n### `@{}`\n\n{}.\n\n",
                family.name,
                capitalised(family.doc)
            );
            page.push_str("| pattern | weight | message | source |\n|---|---|---|---|\n");
            for pattern in family.patterns {
                let weight = match pattern.weight {
                    Weight::EndsJob => "ends the job",
                    Weight::Cause => "cause",
                    Weight::Summary => "summary",
                };
                for example in pattern.examples {
                    let _ = writeln!(
                        page,
                        "| `{}` | {weight} | {} | <{}> |",
                        pattern.name,
                        code(example.text),
                        example.source
                    );
                }
            }
        }
    }
    page
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// `text` as inline code in a table cell: pipes escaped, backticks fenced.
fn code(text: &str) -> String {
    let cell = text.replace('|', "\\|");
    let fence = if cell.contains('`') { "`` " } else { "`" };
    let close = if cell.contains('`') { " ``" } else { "`" };
    format!("{fence}{cell}{close}")
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    #[test]
    fn docs_families_md_is_written_from_the_declarations() {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/families.md");
        let want = super::markdown();
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        if have != want {
            std::fs::write(&path, &want).expect("docs/families.md can be written");
            panic!("docs/families.md was out of date; it has been written anew: commit it");
        }
    }
}
