//! The dataset catalogue, version histories and time travel, with property tests.

use proptest::prelude::*;

use super::{
    Content, DatasetKind, History, HistoryError, Moment, Record, RowError, align_rows, catalogue,
    catalogue_id_of, diff,
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

fn course(c: &str) -> Record {
    [("course".to_owned(), c.to_owned())].into()
}

#[test]
fn a_row_changed_or_removed_reads_as_that_row_alone() {
    let table = Content::Table(vec![course("AML"), course("GDPR"), course("Fire")]);
    let changed = table.with_row(2, course("Data protection")).unwrap();
    let changes = diff(&table, &changed);
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].row, Some(2));
    assert_eq!(changes[0].field, "course");
    assert_eq!(
        (changes[0].before.as_deref(), changes[0].after.as_deref()),
        (Some("GDPR"), Some("Data protection"))
    );
    // Removing row 2: row 2 removed, not "row 2 became Fire and row 3 went".
    let removed = table.without_row(2).unwrap();
    assert_eq!(removed, Content::Table(vec![course("AML"), course("Fire")]));
    let changes = diff(&table, &removed);
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!((changes[0].row, changes[0].after.as_deref()), (Some(2), None));
    assert_eq!(changes[0].place, "row 2: course");
    // Bad rows say what is wrong and what is accepted.
    assert_eq!(table.without_row(0), Err(RowError::NoSuchRow { row: 0, rows: 3 }));
    assert_eq!(table.without_row(4), Err(RowError::NoSuchRow { row: 4, rows: 3 }));
    assert_eq!(table.with_row(1, Record::new()), Err(RowError::EmptyRow));
    assert_eq!(form(&[("a", "1")]).without_row(1), Err(RowError::NotATable), "a form has no rows");
    assert!(RowError::NoSuchRow { row: 4, rows: 3 }.to_string().contains("counted from 1"));
}

#[test]
fn any_two_versions_compare_either_way_round() {
    let mut h = History::new(DatasetKind::Form);
    h.append(0, Moment(1), None, form(&[("a", "1")])).unwrap();
    h.append(1, Moment(2), None, form(&[("a", "2"), ("b", "x")])).unwrap();
    h.append(2, Moment(3), None, form(&[("a", "3")])).unwrap();
    let forward = h.compare(1, 3).unwrap();
    assert_eq!(forward.len(), 1);
    assert_eq!((forward[0].before.as_deref(), forward[0].after.as_deref()), (Some("1"), Some("3")));
    let back = h.compare(3, 1).unwrap();
    assert_eq!((back[0].before.as_deref(), back[0].after.as_deref()), (Some("3"), Some("1")));
    assert_eq!(h.compare(2, 2), Some(Vec::new()));
    assert_eq!(h.compare(0, 2), None);
    assert_eq!(h.compare(1, 4), None);
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

    /// Aligning rows pairs every row of each side exactly once, in order, and one change,
    /// addition or removal at any place reads as exactly that row.
    #[test]
    fn rows_align_and_one_edit_reads_as_one_row(
        rows in proptest::collection::vec(0u8..4, 0..8),
        other in proptest::collection::vec(0u8..4, 0..8),
        at in 0usize..8,
        op in 0u8..3,
        value in 10u8..12,
    ) {
        let table: Vec<Record> = rows.iter().map(|v| course(&v.to_string())).collect();
        let second: Vec<Record> = other.iter().map(|v| course(&v.to_string())).collect();
        let pairs = align_rows(&table, &second);
        let lefts: Vec<usize> = pairs.iter().filter_map(|p| p.0).collect();
        let rights: Vec<usize> = pairs.iter().filter_map(|p| p.1).collect();
        prop_assert_eq!(lefts, (0..table.len()).collect::<Vec<_>>());
        prop_assert_eq!(rights, (0..second.len()).collect::<Vec<_>>());

        let content = Content::Table(table.clone());
        let row = at % (table.len() + 1) + 1;
        let (after, expect_row) = match op {
            0 if row <= table.len() => (content.with_row(row, course(&value.to_string())).unwrap(), row),
            1 if row <= table.len() => (content.without_row(row).unwrap(), row),
            _ => {
                let mut more = table.clone();
                more.insert(row - 1, course(&value.to_string()));
                (Content::Table(more), row)
            }
        };
        let changes = diff(&content, &after);
        prop_assert_eq!(changes.len(), 1);
        // Identical neighbours make the exact place ambiguous; the row named holds the
        // same value either way, so the content it describes is the same.
        let named = changes[0].row.unwrap();
        let same = |r: usize| table.get(r - 1) == table.get(expect_row - 1);
        prop_assert!(named == expect_row || same(named), "{changes:?} for row {expect_row}");
    }
}
