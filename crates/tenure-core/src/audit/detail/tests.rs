//! Tests of typed audit details: every variant round-trips through JSON, and rows written
//! before the types existed read back as they were stored.

use super::*;

fn change<T>(before: T, after: T) -> Change<T> {
    Change { before, after }
}

fn organisation(name: &str, active: bool) -> OrganisationDetail {
    OrganisationDetail {
        name: name.to_owned(),
        address: None,
        telephone: Some("01632 960 001".to_owned()),
        provider_type: "local_authority".to_owned(),
        registration_number: None,
        holds_stock: true,
        active,
    }
}

fn entity(name: &str) -> EntityDetail {
    EntityDetail {
        name: name.to_owned(),
        entity_type: "person".to_owned(),
        fields: vec!["date_of_birth".to_owned()],
        companies: 1,
        links: vec!["previous_employer 00000000-0000-7000-8000-000000000001".to_owned()],
    }
}

/// One of every variant (names with quotes, line breaks and a combining accent).
fn every_variant() -> Vec<AuditDetail> {
    let stored = |text: &str| Stored { text: text.to_owned() };
    vec![
        AuditDetail::Empty,
        AuditDetail::Refusal(Refusal {
            action: "user.invite".to_owned(),
            reason: "nobody gives a role above their own".to_owned(),
        }),
        AuditDetail::SignInFailure(SignInFailure { reason: FailureReason::UnknownEmail }),
        AuditDetail::Lock(Lock { until: 1_700_000_000_000 }),
        AuditDetail::Invite(Invite {
            role: Some("provider".to_owned()),
            first: true,
            resend: true,
        }),
        AuditDetail::LinkUse(LinkUse { purpose: "invitation".to_owned() }),
        AuditDetail::FieldsChange(FieldsChange { fields: vec!["name".to_owned()] }),
        AuditDetail::RoleChange(RoleChange {
            role: Some(change("provider".to_owned(), "data-coordinator".to_owned())),
            data_protection_officer: None,
            key_contact: Some(change(false, true)),
        }),
        AuditDetail::UserMove(UserMove { from: "a".to_owned(), to: "b".to_owned() }),
        AuditDetail::OrganisationCreate(OrganisationCreate { name: "Alpha \"A\"".to_owned() }),
        AuditDetail::OrganisationChange(change(
            organisation("Alpha", true),
            organisation("Alpha\nHomes", false),
        )),
        AuditDetail::MergedInto(MergedInto { into: "b".to_owned(), into_name: "Beta".to_owned() }),
        AuditDetail::MergedFrom(MergedFrom { from: "a".to_owned(), from_name: "Alpha".to_owned() }),
        AuditDetail::Relationship(RelationshipDetail {
            stock_owner: "a".to_owned(),
            managing_agent: "b".to_owned(),
        }),
        AuditDetail::SessionsEnd(SessionsEnd { all: true }),
        AuditDetail::LogDelete(LogDetail {
            log: "l".to_owned(),
            owner: "a".to_owned(),
            owner_name: "Alpha".to_owned(),
            manager: "b".to_owned(),
            manager_name: "Beta \\ \"B\"".to_owned(),
            assigned_to: Some("u".to_owned()),
            created_by: None,
        }),
        AuditDetail::DemoSeed(DemoSeed { demo: true }),
        AuditDetail::AccountCreate(AccountCreate {
            username: "jose\u{301}".to_owned(),
            roles: 2,
            companies: 1,
        }),
        AuditDetail::AccountChange(AccountChange {
            username: "jose\u{301}".to_owned(),
            roles: change(vec!["r1".to_owned()], vec!["r1".to_owned(), "r2".to_owned()]),
            companies: change(1, 2),
        }),
        AuditDetail::EntitySave(EntitySave {
            entity: "e".to_owned(),
            before: Some(entity("Jose\u{301}")),
            after: entity("Jose\u{301}\0"),
        }),
        AuditDetail::GroupSave(GroupSave {
            group: "g".to_owned(),
            name: "Team \\ One".to_owned(),
            members: 3,
        }),
        AuditDetail::RoleSave(RoleSave {
            role: "r".to_owned(),
            name: "Line manager".to_owned(),
            grants: 4,
        }),
        AuditDetail::InstanceSave(InstanceSave {
            dataset: "contact-details".to_owned(),
            entity: "e".to_owned(),
            version: 2,
            changed: vec!["telephone".to_owned()],
        }),
        AuditDetail::LegacyJson(stored(r#"{"role":"provider","first":true}"#)),
        AuditDetail::LegacyText(stored("\"Jose\\u{301}\\0\"")),
    ]
}

/// The variant's place in the list above: a new variant does not compile until it is
/// added there.
fn index(d: &AuditDetail) -> usize {
    match d {
        AuditDetail::Empty => 0,
        AuditDetail::Refusal(_) => 1,
        AuditDetail::SignInFailure(_) => 2,
        AuditDetail::Lock(_) => 3,
        AuditDetail::Invite(_) => 4,
        AuditDetail::LinkUse(_) => 5,
        AuditDetail::FieldsChange(_) => 6,
        AuditDetail::RoleChange(_) => 7,
        AuditDetail::UserMove(_) => 8,
        AuditDetail::OrganisationCreate(_) => 9,
        AuditDetail::OrganisationChange(_) => 10,
        AuditDetail::MergedInto(_) => 11,
        AuditDetail::MergedFrom(_) => 12,
        AuditDetail::Relationship(_) => 13,
        AuditDetail::SessionsEnd(_) => 14,
        AuditDetail::LogDelete(_) => 15,
        AuditDetail::DemoSeed(_) => 16,
        AuditDetail::AccountCreate(_) => 17,
        AuditDetail::AccountChange(_) => 18,
        AuditDetail::EntitySave(_) => 19,
        AuditDetail::GroupSave(_) => 20,
        AuditDetail::RoleSave(_) => 21,
        AuditDetail::InstanceSave(_) => 22,
        AuditDetail::LegacyJson(_) => 23,
        AuditDetail::LegacyText(_) => 24,
    }
}

#[test]
fn every_variant_round_trips_through_its_stored_json() {
    let all = every_variant();
    let places: Vec<usize> = all.iter().map(index).collect();
    assert_eq!(places, (0..all.len()).collect::<Vec<_>>(), "one of each variant, in order");
    for d in all {
        let stored = d.to_stored();
        let value: serde_json::Value = serde_json::from_str(&stored).unwrap();
        assert!(value.get("kind").is_some_and(serde_json::Value::is_string), "{stored}");
        assert_eq!(serde_json::from_str::<AuditDetail>(&stored).unwrap(), d, "{stored}");
        assert_eq!(AuditDetail::parse_stored(&stored), d, "{stored}");
    }
}

#[test]
fn typed_details_show_as_the_trail_showed_them_before() {
    #[track_caller]
    fn check(d: &AuditDetail, shown: &str) {
        assert_eq!(d.to_string(), shown);
    }
    check(&AuditDetail::Empty, "{}");
    check(&AuditDetail::Invite(Invite::default()), "{}");
    check(
        &AuditDetail::Invite(Invite { role: Some("provider".to_owned()), ..Invite::default() }),
        r#"{"role":"provider"}"#,
    );
    check(
        &AuditDetail::Invite(Invite {
            role: Some("administrator".to_owned()),
            first: true,
            resend: true,
        }),
        r#"{"role":"administrator","first":true,"resend":true}"#,
    );
    check(&AuditDetail::Invite(Invite { resend: true, ..Invite::default() }), r#"{"resend":true}"#);
    check(
        &AuditDetail::SignInFailure(SignInFailure { reason: FailureReason::WrongCurrentPassword }),
        r#"{"reason":"wrong current password"}"#,
    );
    check(
        &AuditDetail::RoleChange(RoleChange {
            role: Some(change("provider".to_owned(), "data-coordinator".to_owned())),
            data_protection_officer: Some(change(false, true)),
            key_contact: None,
        }),
        r#"{"role":{"before":"provider","after":"data-coordinator"},"data_protection_officer":{"before":false,"after":true}}"#,
    );
    check(
        &AuditDetail::OrganisationChange(change(
            organisation("Alpha", true),
            organisation("Alpha Homes", true),
        )),
        concat!(
            r#"{"before":{"name":"Alpha","address":null,"telephone":"01632 960 001","provider_type":"local_authority","registration_number":null,"holds_stock":true,"active":true},"#,
            r#""after":{"name":"Alpha Homes","address":null,"telephone":"01632 960 001","provider_type":"local_authority","registration_number":null,"holds_stock":true,"active":true}}"#
        ),
    );
    // Quotes, backslashes and line breaks are escaped as JSON; `{:?}` wrote `\u{301}`.
    check(
        &AuditDetail::GroupSave(GroupSave {
            group: "g".to_owned(),
            name: "\"Jose\u{301}\"\\\n\0".to_owned(),
            members: 1,
        }),
        "{\"group\":\"g\",\"name\":\"\\\"Jose\u{301}\\\"\\\\\\n\\u0000\",\"members\":1}",
    );
}

#[test]
fn old_rows_read_as_legacy_details_and_show_as_stored() {
    // As `format!` built them before details were typed (keys in their own order).
    let organisation = concat!(
        r#"{"before":{"name":"Alpha","address":null,"telephone":null,"provider_type":"local_authority","registration_number":null,"holds_stock":true,"active":true},"#,
        r#""after":{"name":"Alpha Homes","address":null,"telephone":null,"provider_type":"local_authority","registration_number":null,"holds_stock":true,"active":true}}"#
    );
    // As Corterum built some with `{:?}`, which is not JSON.
    let name = "Jose\u{301}\0";
    let corterum = format!(r#"{{"group":"g","name":{name:?},"members":1}}"#);
    assert!(corterum.contains(r"\u{301}\0"), "{corterum}");
    let rows = [
        (r#"{"role":"provider","first":true}"#, true),
        (r#"{"reason":"wrong password"}"#, true),
        (r"{}", true),
        (organisation, true),
        (r#"{"fields":["name","telephone"]}"#, true),
        (r#"{"role":"x","name":"a\u000ab"}"#, true),
        (corterum.as_str(), false),
        ("", false),
        ("not json", false),
    ];
    for (text, json) in rows {
        let detail = AuditDetail::parse_stored(text);
        let stored = Stored { text: text.to_owned() };
        let expected =
            if json { AuditDetail::LegacyJson(stored) } else { AuditDetail::LegacyText(stored) };
        assert_eq!(detail, expected, "{text}");
        assert_eq!(detail.to_string(), text);
        // Written again (a store copying rows), it reads back the same.
        assert_eq!(AuditDetail::parse_stored(&detail.to_stored()), detail, "{text}");
    }
}
