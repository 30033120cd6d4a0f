//! Link kinds: every kind reads back as it is stored, custom kinds are named and bounded.

use super::{LinkKind, LinkKindError};

#[test]
fn every_kind_reads_back_as_stored() {
    let custom = LinkKind::custom("Auditor of").expect("a custom kind");
    for kind in LinkKind::KNOWN.into_iter().chain([custom]) {
        assert_eq!(LinkKind::parse(&kind.as_str()), Ok(kind.clone()), "{kind}");
    }
}

#[test]
fn a_custom_kind_named_like_a_known_one_is_the_known_one() {
    assert_eq!(LinkKind::custom(" regulator of "), Ok(LinkKind::RegulatorOf));
    assert_eq!(LinkKind::parse("custom:Previous employer"), Ok(LinkKind::PreviousEmployer));
    assert_eq!(
        LinkKind::custom("Auditor of").map(|k| k.label().to_owned()),
        Ok("Auditor of".into())
    );
}

#[test]
fn bad_kinds_say_what_is_accepted() {
    assert_eq!(LinkKind::custom("   "), Err(LinkKindError::EmptyLabel));
    assert_eq!(LinkKind::custom(&"x".repeat(61)), Err(LinkKindError::TooLong));
    assert_eq!(LinkKind::custom("a\nb"), Err(LinkKindError::NotOneLine));
    let unknown = LinkKind::parse("boss").expect_err("unknown");
    assert!(unknown.to_string().contains("custom:<name>"), "{unknown}");
}
