use super::*;

const SETTINGS: StormSettings = StormSettings {
    repos: 3,
    window_ms: 600_000,
};
const RESET: &str = "npm err! network read econnreset";

fn started(events: &[StormEvent]) -> bool {
    events
        .iter()
        .any(|event| matches!(event, StormEvent::Started { .. }))
}

#[test]
fn failures_in_fewer_repositories_than_the_threshold_are_not_held() {
    let mut storms = Storms::new(SETTINGS);
    // One repository failing again and again is that repository's trouble.
    for run in 0..10 {
        let (until, events) = storms.consider(&format!("a#{run}"), "org/a", &[RESET], run);
        assert_eq!(until, None);
        assert!(events.is_empty());
    }
    let (until, _) = storms.consider("b#1", "org/b", &[RESET], 20);
    assert_eq!(until, None, "two repositories");
    assert_eq!(storms.active(), 0);
}

#[test]
fn the_repository_that_reaches_the_threshold_starts_a_storm_and_its_re_run_is_held() {
    let mut storms = Storms::new(SETTINGS);
    storms.consider("a#1", "org/a", &[RESET], 0);
    storms.consider("b#1", "org/b", &[RESET], 1_000);
    let (until, events) = storms.consider("c#1", "org/c", &[RESET], 2_000);
    assert_eq!(
        events,
        vec![StormEvent::Started {
            signature: RESET.to_owned(),
            repos: 3
        }]
    );
    assert_eq!(until, Some(2_000 + SETTINGS.recheck_ms()));
    let (until, events) = storms.consider("d#1", "org/d", &[RESET], 3_000);
    assert_eq!(until, Some(3_000 + SETTINGS.recheck_ms()));
    assert!(events.is_empty(), "one storm, started once");
    // Another signature is not held by it.
    let (until, _) = storms.consider("e#1", "org/e", &["docker: tls handshake timeout"], 3_000);
    assert_eq!(until, None);
    assert_eq!((storms.active(), storms.held()), (1, 2));
}

#[test]
fn held_re_runs_looking_again_do_not_keep_a_storm_going() {
    let mut storms = Storms::new(SETTINGS);
    for (run, repo) in [("a#1", "org/a"), ("b#1", "org/b"), ("c#1", "org/c")] {
        storms.consider(run, repo, &[RESET], 0);
    }
    // The held run looks again after half a window, and again: the storm ends one
    // window after the last new failure all the same.
    let half = SETTINGS.recheck_ms();
    let (until, _) = storms.consider("c#1", "org/c", &[RESET], half);
    assert_eq!(until, Some(2 * half), "still held");
    assert!(
        storms.tick(SETTINGS.window_ms).is_empty(),
        "the window still holds them"
    );
    let events = storms.tick(SETTINGS.window_ms + 1);
    assert_eq!(
        events,
        vec![StormEvent::Ended {
            signature: RESET.to_owned(),
            held: 1,
            lasted_ms: SETTINGS.window_ms + 1
        }]
    );
    assert_eq!(storms.active(), 0);
}

#[test]
fn after_the_storm_held_re_runs_are_released_one_pace_apart() {
    let mut storms = Storms::new(SETTINGS);
    let runs = ["a#1", "b#1", "c#1", "d#1", "e#1"];
    for (i, run) in runs.iter().enumerate() {
        let repo = format!("org/{i}");
        storms.consider(run, &repo, &[RESET], 10);
    }
    assert_eq!(storms.held(), 3, "the third repository started it");
    let end = SETTINGS.window_ms + 11;
    assert!(
        storms
            .tick(end)
            .iter()
            .any(|e| matches!(e, StormEvent::Ended { held: 3, .. }))
    );
    let pace = SETTINGS.pace_ms();
    let slots: Vec<_> = ["c#1", "d#1", "e#1"]
        .iter()
        .map(|run| storms.consider(run, "org/x", &[RESET], end).0)
        .collect();
    assert_eq!(slots, vec![None, Some(end + pace), Some(end + 2 * pace)]);
    assert_eq!(storms.held(), 0);
    // Released, a run goes ahead when it looks again; so does a run never held.
    assert_eq!(
        storms.consider("d#1", "org/3", &[RESET], end + pace).0,
        None
    );
    assert_eq!(
        storms.consider("f#1", "org/f", &[RESET], end + pace).0,
        None
    );
}

#[test]
fn a_storm_that_ended_starts_again_when_the_threshold_is_reached_again() {
    let mut storms = Storms::new(SETTINGS);
    for (run, repo) in [("a#1", "org/a"), ("b#1", "org/b"), ("c#1", "org/c")] {
        storms.consider(run, repo, &[RESET], 0);
    }
    storms.consider("d#1", "org/d", &[RESET], 0);
    let end = SETTINGS.window_ms + 1;
    storms.tick(end);
    let mut events = Vec::new();
    for (run, repo) in [("x#1", "org/x"), ("y#1", "org/y"), ("z#1", "org/z")] {
        events.extend(storms.consider(run, repo, &[RESET], end + 5).1);
    }
    assert!(started(&events), "{events:?}");
    assert_eq!(storms.active(), 1);
}

#[test]
fn a_threshold_of_zero_never_holds() {
    let mut storms = Storms::new(StormSettings {
        repos: 0,
        ..SETTINGS
    });
    for i in 0..50 {
        let (until, events) = storms.consider(&format!("r#{i}"), &format!("org/{i}"), &[RESET], i);
        assert_eq!(until, None);
        assert!(events.is_empty());
    }
}
