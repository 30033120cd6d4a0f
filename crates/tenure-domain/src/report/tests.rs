//! The reports' names and conditions.

use super::{Condition, Report};
use crate::dataset::{Content, DatasetKind, History, Moment};

fn form(pairs: &[(&str, &str)]) -> Content {
    Content::Form(pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect())
}

#[test]
fn names_round_trip_and_each_report_has_its_feature_and_sources() {
    for report in Report::ALL {
        assert_eq!(report.as_str().parse::<Report>(), Ok(*report));
        assert_eq!(Report::of_feature(report.feature()), Some(*report));
        assert_eq!(report.source_ids().len(), report.sources().len(), "{report}: in the catalogue");
    }
    let err = "form-h".parse::<Report>().unwrap_err().to_string();
    assert!(err.contains("unknown report `form-h`") && err.contains("fca-directory"), "{err}");
}

#[test]
fn conditions_read_their_field_in_any_case_and_spacing_and_nothing_else() {
    let c = Condition::AssessedFitAndProper;
    assert!(c.met_by(Some("Fit and proper")) && c.met_by(Some("  FIT   and PROPER ")));
    assert!(!c.met_by(None) && !c.met_by(Some("not fit and proper")) && !c.met_by(Some("")));
    assert!(Condition::SeniorManager.met_by(Some("Senior Manager")));
    assert!(!Condition::SeniorManager.met_by(Some("Certification employee")));
}

#[test]
fn a_condition_holds_as_of_a_moment_on_the_version_current_then() {
    let c = Condition::AssessedFitAndProper;
    let mut h = History::new(DatasetKind::Form);
    assert!(!c.holds(&h, None), "no assessment yet");
    h.append(0, Moment(10), None, form(&[("outcome", "fit and proper")])).unwrap();
    h.append(1, Moment(20), None, form(&[("outcome", "not fit and proper")])).unwrap();
    assert!(!c.holds(&h, None), "the latest assessment decides");
    assert!(c.holds(&h, Some(Moment(15))), "as it was then");
    assert!(!c.holds(&h, Some(Moment(5))), "before the first assessment");
    assert!(!c.explain().contains("not fit"), "the sentence names the rule only");
}
