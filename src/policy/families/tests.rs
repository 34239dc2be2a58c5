use std::collections::HashSet;

use super::*;

#[test]
fn every_built_in_pattern_compiles_alone_and_in_the_set() {
    assert_eq!(each_regex().count(), COMPILED.origin.len());
}

#[test]
fn every_pattern_has_at_least_one_message_with_a_public_source() {
    for (known, _) in each_regex() {
        let pattern = known.pattern();
        assert!(
            !pattern.examples.is_empty(),
            "{} has no message",
            known.label()
        );
        for example in pattern.examples {
            assert!(
                example.source.starts_with("https://github.com/"),
                "{}: {:?} has no public source",
                known.label(),
                example.text
            );
        }
    }
}

#[test]
fn every_message_is_matched_by_its_own_pattern() {
    for (known, regex) in each_regex() {
        for example in known.pattern().examples {
            assert!(
                regex.is_match(example.text),
                "{} does not match its own message {:?}",
                known.label(),
                example.text
            );
        }
    }
}

#[test]
fn every_message_is_given_to_its_own_family_when_families_are_tried_in_order() {
    for (known, _) in each_regex() {
        for example in known.pattern().examples {
            let first = super::known(example.text).expect("its own pattern matches");
            assert_eq!(
                first.family().name,
                known.family().name,
                "{:?} ({}) is taken first by {}",
                example.text,
                known.label(),
                first.label()
            );
        }
    }
}

#[test]
fn family_pattern_and_group_names_are_unique() {
    let mut words = HashSet::new();
    for word in words_with_groups() {
        assert!(words.insert(word), "{word} is declared twice");
    }
    for family in FAMILIES {
        let mut names = HashSet::new();
        for pattern in family.patterns {
            assert!(
                names.insert(pattern.name),
                "{}:{} twice",
                family.name,
                pattern.name
            );
        }
    }
}

fn words_with_groups() -> Vec<&'static str> {
    words()
}

#[test]
fn every_group_names_known_families_of_its_class() {
    for group in GROUPS {
        let set = resolve(group.name).expect("a group resolves");
        assert!(set != FamilySet::EMPTY, "{}", group.name);
        for name in group.families {
            let family = FAMILIES.iter().find(|f| f.name == *name).expect(name);
            let class = match group.name {
                "broken" => Class::Broken,
                _ => Class::Transient,
            };
            assert_eq!(family.class, class, "{} in @{}", name, group.name);
        }
    }
}

#[test]
fn transient_names_every_transient_family_but_resources_and_broken_every_broken_one() {
    let transient = resolve("transient").expect("known");
    let broken = resolve("broken").expect("known");
    for (index, family) in FAMILIES.iter().enumerate() {
        match family.class {
            Class::Transient if family.name == "resources" => {
                assert!(!transient.contains(index));
            }
            Class::Transient => assert!(transient.contains(index), "{}", family.name),
            Class::Broken => assert!(broken.contains(index), "{}", family.name),
            Class::NotStarted => {
                assert!(!transient.contains(index) && !broken.contains(index));
            }
        }
    }
}

#[test]
fn infra_is_the_old_name_of_runner() {
    assert_eq!(resolve("infra"), resolve("runner"));
    assert_eq!(resolve("flaky"), None);
}

#[test]
fn a_set_finds_only_its_own_families() {
    let runner = resolve("runner").expect("known");
    let line = "The runner has received a shutdown signal. This can happen when the runner service is stopped, or a manually started runner is canceled.";
    assert_eq!(
        known_in(line, runner).map(Known::label).as_deref(),
        Some("runner:runner_shutdown")
    );
    let network = resolve("network").expect("known");
    assert_eq!(known_in(line, network), None);
}

#[test]
fn there_are_fewer_families_than_a_set_has_bits() {
    assert!(FAMILIES.len() <= 32);
}
