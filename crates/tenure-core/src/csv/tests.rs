//! The CSV writer: formulas are defused, harmless values survive a round trip through a
//! real CSV reader.

use crate::csv::{CsvWriter, record};

#[track_caller]
fn check(cells: &[&str], expected: &str) {
    assert_eq!(record(cells), expected, "{cells:?}");
}

#[test]
fn cells_that_would_start_a_formula_are_defused() {
    check(&["=1+2"], "'=1+2\r\n");
    check(&["+44 20 7946 0000"], "'+44 20 7946 0000\r\n");
    check(&["-2+3"], "'-2+3\r\n");
    check(&["@SUM(A1:A9)"], "'@SUM(A1:A9)\r\n");
    check(&["\tcmd"], "'\tcmd\r\n");
    check(&["\r=cmd"], "\"'\r=cmd\"\r\n");
    // Quoting does not hide a formula: the quote is inside the quoted cell.
    check(
        &["=HYPERLINK(\"http://x\",\"a,b\")"],
        "\"'=HYPERLINK(\"\"http://x\"\",\"\"a,b\"\")\"\r\n",
    );
    // Only the start counts.
    check(&["a=b", "1-2", "x@example.com"], "a=b,1-2,x@example.com\r\n");
}

#[test]
fn cells_are_quoted_only_when_they_must_be() {
    check(&["a", "b c", ""], "a,b c,\r\n");
    check(&["a,b", "say \"hi\"", "two\nlines"], "\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\"\r\n");
    check(&[""], "\"\"\r\n");
}

#[test]
fn harmless_values_survive_a_round_trip() {
    let rows: Vec<Vec<String>> = vec![
        vec!["name".into(), "email".into(), "note".into(), "empty".into()],
        vec![
            "Ada Lovelace".into(),
            "ada@example.com".into(),
            "a, b and \"c\"".into(),
            String::new(),
        ],
        vec![
            "Zoë O'Brien".into(),
            "zoe@example.com".into(),
            "line one\nline two".into(),
            " ".into(),
        ],
        vec!["12".into(), "3.5".into(), "2026-01-15".into(), "x=y".into()],
    ];
    let mut writer = CsvWriter::new(Vec::new());
    for row in &rows {
        writer.write_record(row).unwrap();
    }
    let bytes = writer.finish().unwrap();
    let mut reader = ::csv::ReaderBuilder::new().has_headers(false).from_reader(bytes.as_slice());
    let read: Vec<Vec<String>> =
        reader.records().map(|r| r.unwrap().iter().map(str::to_owned).collect()).collect();
    assert_eq!(read, rows);
}

#[test]
fn a_users_row_names_roles_and_status_under_the_shared_columns() {
    use tenure_domain::role::builtin::{DATA_COORDINATOR, DATA_PROVIDER};
    use tenure_domain::{Email, Name, OrgId, Organisation, RoleCatalogue, User, UserId};

    use crate::AccountStatus;
    use crate::csv::users::{COLUMNS, row};

    let org = Organisation::new(
        OrgId::from_uuid(uuid::Uuid::from_u128(1)),
        Name::parse("=Northbridge Homes").unwrap(),
    );
    let mut user = User::new(
        UserId::from_uuid(uuid::Uuid::from_u128(2)),
        Name::parse("Pete, Provider").unwrap(),
        Email::parse("pete@example.com").unwrap(),
        org.id,
        vec![DATA_COORDINATOR, DATA_PROVIDER],
    );
    user.key_contact = true;
    let cells = row(&user, &org, AccountStatus::Invited { expired: true }, &RoleCatalogue::core());
    assert_eq!(
        record(COLUMNS),
        "name,email,telephone,organisation,role,status,id,data_protection_officer,key_contact\r\n"
    );
    assert_eq!(
        record(&cells),
        "\"Pete, Provider\",pete@example.com,,'=Northbridge Homes,\"Data coordinator, Data provider\",\
         Invitation expired,00000000-0000-0000-0000-000000000002,false,true\r\n"
    );
}
