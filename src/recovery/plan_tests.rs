use std::collections::HashSet;

use proptest::prelude::*;

use super::*;

const NOW: u64 = 10 * REDELIVERY_WINDOW_MS;
const MINUTE: u64 = 60_000;

fn attempt(id: u64, guid: &str, minutes_ago: u64, status_code: u16, redelivery: bool) -> Delivery {
    Delivery {
        id,
        guid: guid.to_owned(),
        delivered_at: NOW - minutes_ago * MINUTE,
        status_code,
        redelivery,
        event: "workflow_job".to_owned(),
    }
}

fn ids(plan: &Plan) -> Vec<u64> {
    plan.redeliver.iter().map(|r| r.delivery_id).collect()
}

#[test]
fn only_a_guid_none_of_whose_attempts_got_a_2xx_is_redelivered_by_its_original_attempt() {
    let listed = vec![
        attempt(5, "recovered-later", 10, 202, true),
        attempt(4, "never-delivered", 20, 0, true),
        attempt(3, "recovered-later", 30, 502, false),
        attempt(2, "never-delivered", 40, 503, false),
        attempt(1, "fine", 50, 201, false),
    ];
    let plan = plan(&listed, &HashSet::new(), NOW, 10);
    assert_eq!(ids(&plan), vec![2]);
    assert_eq!(plan.redeliver[0].guid, "never-delivered");
    assert_eq!(plan.seen_until, Some(NOW - 10 * MINUTE));
}

#[test]
fn a_guid_asked_for_before_is_not_asked_again() {
    let listed = vec![attempt(1, "lost", 5, 500, false)];
    let asked: HashSet<String> = ["lost".to_owned()].into();
    assert!(plan(&listed, &asked, NOW, 10).redeliver.is_empty());
}

#[test]
fn a_guid_older_than_three_days_is_left_alone() {
    let three_days_min = REDELIVERY_WINDOW_MS / MINUTE;
    let listed = vec![
        attempt(2, "just-in", three_days_min - 1, 500, false),
        attempt(1, "too-old", three_days_min, 500, false),
    ];
    assert_eq!(ids(&plan(&listed, &HashSet::new(), NOW, 10)), vec![2]);
}

#[test]
fn a_guid_whose_original_attempt_is_out_of_view_is_left_alone() {
    let listed = vec![attempt(9, "half-seen", 5, 500, true)];
    assert!(plan(&listed, &HashSet::new(), NOW, 10).redeliver.is_empty());
}

#[test]
fn events_the_service_does_not_act_on_are_not_asked_for() {
    let mut ping = attempt(1, "ping", 5, 500, false);
    ping.event = "ping".to_owned();
    let mut run = attempt(2, "run", 6, 500, false);
    run.event = "workflow_run".to_owned();
    assert_eq!(ids(&plan(&[ping, run], &HashSet::new(), NOW, 10)), vec![2]);
}

#[test]
fn the_oldest_are_asked_first_and_the_next_sweep_reaches_back_to_the_first_left_out() {
    let listed = vec![
        attempt(4, "d", 1, 500, false),
        attempt(3, "c", 2, 500, false),
        attempt(2, "b", 3, 500, false),
        attempt(1, "a", 4, 500, false),
    ];
    let plan = plan(&listed, &HashSet::new(), NOW, 2);
    assert_eq!(ids(&plan), vec![1, 2]);
    assert_eq!(
        plan.seen_until,
        Some(NOW - 2 * MINUTE),
        "c is left for later"
    );
}

#[test]
fn nothing_listed_plans_nothing_and_moves_no_mark() {
    assert_eq!(plan(&[], &HashSet::new(), NOW, 10), Plan::default());
}

fn any_delivery() -> impl Strategy<Value = Delivery> {
    (
        1u64..40,
        0u8..8,
        0u64..(REDELIVERY_WINDOW_MS * 2),
        prop_oneof![
            Just(0u16),
            Just(200),
            Just(202),
            Just(400),
            Just(500),
            Just(504)
        ],
        any::<bool>(),
        prop_oneof![Just("workflow_job"), Just("workflow_run"), Just("ping")],
    )
        .prop_map(|(id, guid, ago, status_code, redelivery, event)| Delivery {
            id,
            guid: format!("guid-{guid}"),
            delivered_at: NOW - ago,
            status_code,
            redelivery,
            event: event.to_owned(),
        })
}

proptest! {
    #[test]
    fn a_plan_asks_once_per_guid_within_bounds_and_never_for_a_delivered_or_asked_guid(
        listed in prop::collection::vec(any_delivery(), 0..40),
        asked in prop::collection::hash_set((0u8..8).prop_map(|g| format!("guid-{g}")), 0..4),
        max in 0usize..6,
    ) {
        let plan = plan(&listed, &asked, NOW, max);
        prop_assert!(plan.redeliver.len() <= max);
        let guids: HashSet<&str> = plan.redeliver.iter().map(|r| r.guid.as_str()).collect();
        prop_assert_eq!(guids.len(), plan.redeliver.len(), "one request per guid");
        for wanted in &plan.redeliver {
            prop_assert!(!asked.contains(&wanted.guid));
            let attempts: Vec<&Delivery> = listed.iter().filter(|d| d.guid == wanted.guid).collect();
            prop_assert!(attempts.iter().all(|d| !(200..300).contains(&d.status_code)));
            let original = listed
                .iter()
                .any(|d| d.id == wanted.delivery_id && d.guid == wanted.guid && !d.redelivery);
            prop_assert!(original, "an original attempt of the guid is redelivered");
            prop_assert!(NOW - wanted.first_at < REDELIVERY_WINDOW_MS);
        }
        let firsts: Vec<u64> = plan.redeliver.iter().map(|r| r.first_at).collect();
        prop_assert!(firsts.windows(2).all(|w| w[0] <= w[1]), "oldest first");
        if let Some(seen_until) = plan.seen_until {
            prop_assert!(listed.iter().any(|d| d.delivered_at >= seen_until));
        }
    }

    #[test]
    fn planning_again_with_the_asked_guids_remembered_asks_for_nothing_new(
        listed in prop::collection::vec(any_delivery(), 0..40),
    ) {
        let first = plan(&listed, &HashSet::new(), NOW, usize::MAX);
        let asked: HashSet<String> = first.redeliver.iter().map(|r| r.guid.clone()).collect();
        prop_assert!(plan(&listed, &asked, NOW, usize::MAX).redeliver.is_empty());
    }
}
