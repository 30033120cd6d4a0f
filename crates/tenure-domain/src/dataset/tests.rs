//! The dataset catalogue, version histories and time travel, with property tests.

use proptest::prelude::*;

use super::{
    Content, DatasetKind, History, HistoryError, Moment, Record, catalogue, catalogue_id_of,
};

fn form(pairs: &[(&str, &str)]) -> Content {
    Content::Form(pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect())
}

#[test]
fn the_catalogue_has_the_seeds_thirteen_and_embedded_tables_point_at_forms() {
    let all = catalogue();
    for key in [
        "boards_and_committee_details",
        "boards_and_committees",
        "disciplinary_proceedings",
        "firms_providing_regulatory_references",
        "fitness_and_propriety_assessment_record",
        "management_responsibilities_map",
        "performance_reviews",
        "regulated_activities",
        "regulatory_matters",
        "regulatory_reference_requests_received",
        "regulatory_references_obtained",
        "regulatory_references_provided",
        "smcr_classification",
    ] {
        assert!(all.iter().any(|d| d.key == key), "{key} is missing");
    }
    let first: Vec<&str> = all.iter().take(13).map(|d| d.key.as_str()).collect();
    assert_eq!(first, super::NOT_FOR_STANDARD_USERS);
    for d in &all {
        assert_eq!(catalogue_id_of(&d.key), Some(d.id));
        if let Some(parent) = d.embedded_in {
            assert_eq!(d.kind, DatasetKind::Table, "{} is embedded, so a table", d.key);
            let parent = all.iter().find(|p| p.id == parent).expect("parent in catalogue");
            assert_eq!(parent.kind, DatasetKind::Form, "{} sits in a form", d.key);
        }
    }
    let mut ids: Vec<_> = all.iter().map(|d| d.id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), all.len(), "ids are distinct");
}

#[test]
fn versions_number_up_and_say_what_changed() {
    let mut h = History::new(DatasetKind::Form);
    assert!(h.as_of(Moment(5)).is_none(), "nothing before the first version");
    h.append(0, Moment(10), None, form(&[("hours", "4")])).unwrap();
    h.append(1, Moment(20), None, form(&[("hours", "6"), ("completed", "yes")])).unwrap();
    assert_eq!(h.latest_number(), 2);
    let changes = h.changes(2);
    assert_eq!(changes.len(), 2);
    assert_eq!(changes[0].place, "completed");
    assert_eq!((changes[0].before.as_deref(), changes[0].after.as_deref()), (None, Some("yes")));
    assert_eq!((changes[1].before.as_deref(), changes[1].after.as_deref()), (Some("4"), Some("6")));
    assert_eq!(h.as_of(Moment(19)).unwrap().number, 1);
    assert_eq!(h.as_of(Moment(20)).unwrap().number, 2);
}

#[test]
fn stale_backdated_empty_and_mistyped_versions_are_refused_and_change_nothing() {
    let mut h = History::new(DatasetKind::Form);
    h.append(0, Moment(10), None, form(&[("a", "1")])).unwrap();
    let before = h.clone();
    assert_eq!(
        h.append(0, Moment(11), None, form(&[("a", "2")])),
        Err(HistoryError::Stale { expected: 0, latest: 1 })
    );
    assert_eq!(
        h.append(1, Moment(9), None, form(&[("a", "2")])),
        Err(HistoryError::BeforeLatest { latest: 1 })
    );
    assert_eq!(
        h.append(1, Moment(11), None, form(&[("a", "1")])),
        Err(HistoryError::NothingChanged)
    );
    assert_eq!(
        h.append(1, Moment(11), None, Content::Table(Vec::new())),
        Err(HistoryError::WrongKind { expected: DatasetKind::Form })
    );
    assert_eq!(h, before);
}

#[test]
fn a_table_diffs_by_row_and_column() {
    let mut h = History::new(DatasetKind::Table);
    let row = |c: &str| -> Record { [("course".to_owned(), c.to_owned())].into() };
    h.append(0, Moment(1), None, Content::Table(vec![row("AML")])).unwrap();
    h.append(1, Moment(2), None, Content::Table(vec![row("AML"), row("GDPR")])).unwrap();
    let changes = h.changes(2);
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].place, "row 2: course");
}

#[test]
fn a_stored_history_that_was_rewritten_is_refused() {
    let mut h = History::new(DatasetKind::Form);
    h.append(0, Moment(10), None, form(&[("a", "1")])).unwrap();
    h.append(1, Moment(20), None, form(&[("a", "2")])).unwrap();
    let mut versions = h.versions().to_vec();
    assert_eq!(History::from_versions(DatasetKind::Form, versions.clone()), Ok(h));
    versions.swap(0, 1);
    assert!(History::from_versions(DatasetKind::Form, versions).is_err());
}

proptest! {
    /// Time travel: at every moment, the version read is exactly the last one saved at or
    /// before it, and its content is what was saved then.
    #[test]
    fn time_travel_returns_what_was_current(
        steps in proptest::collection::vec((0i64..5, 0u8..4), 1..40),
        probes in proptest::collection::vec(-2i64..250, 1..30),
    ) {
        let mut h = History::new(DatasetKind::Form);
        let mut saved: Vec<(Moment, Content)> = Vec::new();
        let mut now = 0;
        for (gap, value) in steps {
            now += gap;
            let content = form(&[("v", &format!("{value}-{}", saved.len()))]);
            let latest = h.latest_number();
            h.append(latest, Moment(now), None, content.clone()).unwrap();
            saved.push((Moment(now), content));
        }
        for probe in probes {
            let expected = saved.iter().rposition(|(at, _)| at.0 <= probe);
            let got = h.as_of(Moment(probe));
            prop_assert_eq!(got.map(|v| v.number as usize), expected.map(|i| i + 1));
            if let (Some(v), Some(i)) = (got, expected) {
                prop_assert_eq!(&v.content, &saved[i].1);
            }
        }
    }

    /// Versions are append-only: whatever is attempted, every earlier version stays
    /// exactly as it was and numbers only grow by one.
    #[test]
    fn versions_are_append_only(
        attempts in proptest::collection::vec((0u32..6, -3i64..6, 0u8..3, proptest::bool::ANY), 1..60),
    ) {
        let mut h = History::new(DatasetKind::Form);
        let mut now = 0;
        for (based_on, step, value, table) in attempts {
            let before = h.versions().to_vec();
            let content = if table {
                Content::Table(Vec::new())
            } else {
                form(&[("v", &value.to_string())])
            };
            let result = h.append(based_on, Moment(now + step), None, content);
            let ok = result.is_ok();
            prop_assert_eq!(&h.versions()[..before.len()], &before[..]);
            if ok {
                now += step;
                prop_assert_eq!(h.versions().len(), before.len() + 1);
                prop_assert_eq!(h.latest_number() as usize, before.len() + 1);
            } else {
                prop_assert_eq!(h.versions(), &before[..]);
            }
        }
    }
}
