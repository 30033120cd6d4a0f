//! Corterum's editable tables and readable history through the router (issue 15, items 4
//! and 5): a table's row changed and removed, each as a new version, and the table as it
//! was at a moment; the history in words, as the form labels its fields; two versions
//! side by side; "view as of" from a GOV.UK date input and a time, before the first
//! version and with bad input; a stale edit is a conflict; a table embedded in a form
//! shows inside the form's page only to someone who may read both. As an administrator
//! of one company: nothing of another company's rows, versions or tables through ids in
//! the address (kept as regression tests of the attack).

use axum::http::StatusCode;
use tenure_core::{
    AuditDetail, AuditName, AuditQuery, ChangeStore as _, Clock as _, CorterumStore as _, Page,
};
use tenure_domain::RoleId;
use tenure_domain::dataset::catalogue_id_of;
use tenure_domain::role::builtin::CORTERUM_ADMINISTRATOR;

use crate::corterum::{FCA, accept, corterum_site, create_account, entity};
use crate::{Client, Site};

const PSR: u128 = 2;

fn company(n: u128) -> String {
    uuid::Uuid::from_u128(n).to_string()
}

/// The root adds a role reaching "All People" (within the holder's companies) that reads
/// the `read` datasets and edits and creates the `write` ones, by key.
async fn role(root: &mut Client<'_>, name: &str, read: &[&str], write: &[&str]) -> RoleId {
    root.get("/administration/roles/new").await;
    let mut fields: Vec<(String, String)> = vec![
        ("name".into(), name.into()),
        ("description".into(), format!("{name} for the tables tests")),
        ("groups".into(), tenure_domain::ALL_PEOPLE.to_string()),
    ];
    for key in read.iter().chain(write) {
        fields.push((format!("read_{}", catalogue_id_of(key).unwrap()), "1".into()));
    }
    for key in write {
        let id = catalogue_id_of(key).unwrap();
        fields.push((format!("edit_{id}"), "1".into()));
        fields.push((format!("create_{id}"), "1".into()));
    }
    let form: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let page = root.post("/administration/roles/new", &form).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let id = page.location().rsplit('/').next().unwrap().split('?').next().unwrap();
    RoleId::from_uuid(id.parse().unwrap())
}

/// An account of `company` with `role`, invitation accepted, signed in.
async fn person<'a>(
    site: &'a Site,
    root: &mut Client<'_>,
    name: &str,
    role: RoleId,
    company: u128,
) -> Client<'a> {
    create_account(root, name, role, company).await;
    let email = format!("{name}@example.com");
    accept(site, &email).await;
    let mut c = Client::new(site);
    c.sign_in(&email).await;
    c
}

/// Posts a form to `path` after opening it (for its CSRF token); the answer.
async fn send(c: &mut Client<'_>, path: &str, fields: &[(&str, &str)]) -> crate::Page {
    c.get(path).await;
    c.post(path, fields).await
}

/// The date input's query for a moment, in London's time.
fn as_of(ms: i64) -> String {
    let z = jiff::Timestamp::from_millisecond(ms)
        .unwrap()
        .to_zoned(jiff::tz::TimeZone::get("Europe/London").unwrap());
    format!(
        "day={}&month={}&year={}&time={}",
        z.day(),
        z.month(),
        z.year(),
        query(&z.strftime("%H:%M").to_string())
    )
}

fn query(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

const TEN_MINUTES: i64 = 10 * 60 * 1000;

#[tokio::test]
async fn rows_change_and_go_as_new_versions_and_time_travel_shows_the_table_as_it_was() {
    let site = corterum_site().await;
    let mut root = Client::new(&site);
    root.sign_in("root@example.com").await;
    let joe = entity(&mut root, "Joe Bloggs", &company(FCA)).await;
    let trainer = role(&mut root, "Trainer", &[], &["training_record", "training_courses"]).await;
    let mut t = person(&site, &mut root, "trainer", trainer, FCA).await;
    let reader = role(&mut root, "Reader", &["training_record", "training_courses"], &[]).await;
    let mut r = person(&site, &mut root, "reader", reader, FCA).await;
    // (Signed in again below, after an hour has passed: sessions end when idle.)
    let table = format!("/records/{joe}/training_courses");

    // Three rows, each a version, ten minutes apart.
    let mut moments = Vec::new();
    for (n, (course, hours)) in
        [("AML", "3"), ("GDPR", "2"), ("Fire safety", "1")].iter().enumerate()
    {
        let based_on = n.to_string();
        let page = send(
            &mut t,
            &table,
            &[("based_on", &based_on), ("field_course", course), ("field_hours", hours)],
        )
        .await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
        moments.push(site.clock.now().0);
        site.clock.advance(TEN_MINUTES);
    }
    let page = t.get(&table).await;
    assert!(page.body.contains("Current version (3 of 3)"), "{}", page.body);
    assert!(page.body.contains(&format!("href=\"{table}/rows/2\"")), "a Change link a row");
    assert!(page.body.contains(&format!("href=\"{table}/rows/3/remove\"")), "a Remove link a row");

    // Change row 2: the form holds its values; saving makes version 4.
    let form = t.get(&format!("{table}/rows/2")).await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.body.contains("Change row 2") && form.body.contains("value=\"GDPR\""));
    let changed = t
        .post(
            &format!("{table}/rows/2"),
            &[("based_on", "3"), ("field_course", "Data protection"), ("field_hours", "2")],
        )
        .await;
    assert_eq!(changed.status, StatusCode::SEE_OTHER, "{}", changed.body);
    moments.push(site.clock.now().0);
    site.clock.advance(TEN_MINUTES);

    // Remove row 1, after a confirmation: version 5.
    let confirm = t.get(&format!("{table}/rows/1/remove")).await;
    assert!(confirm.body.contains("Remove row 1?") && confirm.body.contains(">AML</dd>"));
    let removed = t.post(&format!("{table}/rows/1/remove"), &[("based_on", "4")]).await;
    assert_eq!(removed.status, StatusCode::SEE_OTHER, "{}", removed.body);
    assert_eq!(removed.location(), format!("{table}?saved=1"));

    let now = t.get(removed.location()).await;
    assert!(
        now.body.contains("New version saved") && now.body.contains("Current version (5 of 5)")
    );
    assert!(!now.body.contains(">AML<") && now.body.contains(">Data protection<"));
    // The history in words, as the table labels its columns.
    for said in [
        "Row 1 removed: Course \u{201c}AML\u{201d}, Hours \u{201c}3\u{201d}",
        "Row 2: Course changed from \u{201c}GDPR\u{201d} to \u{201c}Data protection\u{201d}",
        "Row 3 added: Course \u{201c}Fire safety\u{201d}, Hours \u{201c}1\u{201d}",
    ] {
        assert!(now.body.contains(said), "{said}: {}", now.body);
    }

    // Time travel: as of a moment between versions 3 and 4, the table as it was.
    let then = t.get(&format!("{table}?{}", as_of(moments[2] + 60_000))).await;
    assert!(then.body.contains("Version 3 of 5"), "{}", then.body);
    assert!(then.body.contains(">AML<") && then.body.contains(">GDPR<"));
    assert!(!then.body.contains("/rows/1\""), "no row links on a past version");
    // Version 1 by number.
    let first = t.get(&format!("{table}?version=1")).await;
    assert!(first.body.contains("Version 1 of 5") && !first.body.contains(">GDPR<"));

    // A stale edit (from version 4, after 5 was saved) is a conflict, and changes nothing.
    let stale = t
        .post(&format!("{table}/rows/1"), &[("based_on", "4"), ("field_course", "Overwritten")])
        .await;
    assert_eq!(stale.status, StatusCode::CONFLICT, "{}", stale.body);
    assert!(stale.body.contains("Someone else changed this"));
    let stale = t.post(&format!("{table}/rows/1/remove"), &[("based_on", "3")]).await;
    assert_eq!(stale.status, StatusCode::CONFLICT);
    assert!(t.get(&table).await.body.contains("Current version (5 of 5)"));
    // A row with nothing in it is refused with what to do instead; a row that is not
    // there has no page.
    let empty = t.post(&format!("{table}/rows/1"), &[("based_on", "5")]).await;
    assert_eq!(empty.status, StatusCode::OK);
    assert!(empty.body.contains("There is a problem") && empty.body.contains("remove it"));
    for path in [format!("{table}/rows/3"), format!("{table}/rows/0"), format!("{table}/rows/x")] {
        assert_eq!(t.get(&path).await.status, StatusCode::NOT_FOUND, "{path}");
    }
    // A form has no rows.
    let form_rows = t.get(&format!("/records/{joe}/training_record/rows/1")).await;
    assert_eq!(form_rows.status, StatusCode::NOT_FOUND);

    // Every change is audited, with the places it changed.
    let query = AuditQuery { name: Some(AuditName::InstanceSave), ..AuditQuery::default() };
    let entries = site.store.audit(&query, Page::numbered(1, 20)).await.unwrap();
    assert_eq!(entries.len(), 5, "{entries:?}");
    let AuditDetail::InstanceSave(last) = &entries[0].detail else { panic!("{entries:?}") };
    assert_eq!(last.version, 5);
    assert_eq!(last.changed, vec!["row 1: course", "row 1: hours"]);

    // A reader who may not edit gets no row links, and the row pages refuse with why.
    r.sign_in("reader@example.com").await;
    let page = r.get(&table).await;
    assert!(page.status == StatusCode::OK && !page.body.contains("/rows/1"));
    assert_eq!(r.get(&format!("{table}/rows/1")).await.status, StatusCode::FORBIDDEN);
    let refused = r.post(&format!("{table}/rows/1/remove"), &[("based_on", "5")]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(t.get(&table).await.body.contains("Current version (5 of 5)"));
}

#[tokio::test]
async fn history_reads_in_words_versions_compare_and_view_as_of_takes_a_date_and_time() {
    let site = corterum_site().await;
    let mut root = Client::new(&site);
    root.sign_in("root@example.com").await;
    let joe = entity(&mut root, "Joe Bloggs", &company(FCA)).await;
    let trainer = role(&mut root, "Trainer", &[], &["training_record", "training_courses"]).await;
    let mut t = person(&site, &mut root, "trainer", trainer, FCA).await;
    let record = format!("/records/{joe}/training_record");

    let start = site.clock.now().0;
    let page = send(&mut t, &record, &[("based_on", "0"), ("field_hours_this_year", "4")]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    site.clock.advance(TEN_MINUTES);
    let page = send(
        &mut t,
        &record,
        &[("based_on", "1"), ("field_hours_this_year", "6"), ("field_completed", "yes")],
    )
    .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);

    let now = t.get(&record).await;
    for said in [
        "Hours this year set to \u{201c}4\u{201d}",
        "Hours this year changed from \u{201c}4\u{201d} to \u{201c}6\u{201d}",
        "Completed set to \u{201c}yes\u{201d}",
        "Compare two versions",
        "Europe/London time",
    ] {
        assert!(now.body.contains(said), "{said}: {}", now.body);
    }

    // As of a moment between the versions, through the date input and a time.
    let then = t.get(&format!("{record}?{}", as_of(start + 60_000))).await;
    assert!(then.body.contains("Version 1 of 2") && then.body.contains(">4</dd>"), "{}", then.body);
    // A date alone: the end of that day (both versions were saved on it).
    let z = jiff::Timestamp::from_millisecond(start)
        .unwrap()
        .to_zoned(jiff::tz::TimeZone::get("Europe/London").unwrap());
    let day =
        t.get(&format!("{record}?day={}&month={}&year={}", z.day(), z.month(), z.year())).await;
    assert!(day.body.contains("Current version (2 of 2)"), "{}", day.body);
    // Before the first version: said plainly, with when the first was saved.
    let before = t.get(&format!("{record}?day=1&month=1&year=2020&time=09:00")).await;
    assert_eq!(before.status, StatusCode::OK);
    assert!(
        before.body.contains("Nothing had been recorded by then")
            && before.body.contains("before the first version of this record")
            && before.body.contains("1 January 2020 at 9:00am GMT"),
        "{}",
        before.body
    );
    assert!(before.body.contains("View the current version"));
    // Bad input says what was wrong and what is accepted, and keeps what was typed.
    for (q, said) in [
        ("day=31&month=2&year=2026", "The date must be a real date, like 27 3 2026"),
        ("day=1&month=&year=2026", "Enter the day, month and year"),
        ("day=1&month=2&year=26", "The year must have four digits"),
        ("day=1&month=2&year=2026&time=25%3A00", "on the 24-hour clock, like 14:30"),
        ("as_of=yesterday-ish", "Enter a date and time in Europe/London time"),
    ] {
        let page = t.get(&format!("{record}?{q}")).await;
        assert_eq!(page.status, StatusCode::OK, "{q}");
        assert!(page.body.contains("There is a problem") && page.body.contains(said), "{q}");
    }
    let kept = t.get(&format!("{record}?day=31&month=2&year=2026")).await;
    assert!(kept.body.contains("name=\"day\" type=\"text\" inputmode=\"numeric\" value=\"31\""));

    // Two versions side by side, either way round; a version that is not there is an
    // error on the form, not a guess.
    let compare = t.get(&format!("{record}/compare?from=1&to=2")).await;
    assert_eq!(compare.status, StatusCode::OK);
    assert!(
        compare.body.contains("Compare versions")
            && compare
                .body
                .contains("Hours this year changed from \u{201c}4\u{201d} to \u{201c}6\u{201d}")
            && compare.body.contains("Version 1, saved")
            && compare.body.contains("by trainer@example.com")
            && compare.body.contains(">Changed</strong>"),
        "{}",
        compare.body
    );
    let back = t.get(&format!("{record}/compare?from=2&to=1")).await;
    assert!(back.body.contains("Completed cleared (it was \u{201c}yes\u{201d})"), "{}", back.body);
    let bad = t.get(&format!("{record}/compare?from=9&to=1")).await;
    assert!(bad.body.contains("Choose a version from 1 to 2"), "{}", bad.body);
    let default = t.get(&format!("{record}/compare")).await;
    assert!(default.body.contains("Version 2, saved"), "the latest two by default");
    let none = t.get(&format!("/records/{joe}/criminal_record_check/compare")).await;
    assert_eq!(none.status, StatusCode::NOT_FOUND, "a dataset the trainer may not read");
}

#[tokio::test]
async fn an_embedded_table_shows_in_its_form_only_to_someone_who_may_read_both() {
    let site = corterum_site().await;
    let mut root = Client::new(&site);
    root.sign_in("root@example.com").await;
    let joe = entity(&mut root, "Joe Bloggs", &company(FCA)).await;
    let trainer = role(&mut root, "Trainer", &[], &["training_record", "training_courses"]).await;
    let mut t = person(&site, &mut root, "trainer", trainer, FCA).await;
    let form_only = role(&mut root, "Form only", &["training_record"], &[]).await;
    let mut f = person(&site, &mut root, "formonly", form_only, FCA).await;
    let record = format!("/records/{joe}/training_record");
    let table = format!("/records/{joe}/training_courses");

    let page = send(&mut t, &record, &[("based_on", "0"), ("field_hours_this_year", "4")]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    site.clock.advance(TEN_MINUTES);
    let page = send(&mut t, &table, &[("based_on", "0"), ("field_course", "AML")]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);

    // Someone who reads both: the table inside the form's page, as of the same moment.
    let both = t.get(&record).await;
    assert!(both.body.contains(">Training courses</h2>") && both.body.contains(">AML<"));
    assert!(both.body.contains(&format!("href=\"{table}\"")));
    let then = t.get(&format!("{record}?version=1")).await;
    assert!(
        then.body.contains(">Training courses</h2>") && !then.body.contains(">AML<"),
        "the table as it was when version 1 of the form was saved: {}",
        then.body
    );
    // The table's own page says which form it is part of; the record lists the form only.
    assert!(t.get(&table).await.body.contains(&format!(
        "part of <a class=\"govuk-link\" href=\"{record}\">Training record</a>"
    )));
    let joe_page = t.get(&format!("/records/{joe}")).await;
    assert!(
        joe_page.body.contains(">Training record</a>")
            && !joe_page.body.contains(">Training courses</a>")
    );

    // Someone who reads the form but not the table: the form without it, and the table
    // "not found" however it is asked for.
    let form = f.get(&record).await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.body.contains(">4</dd>"));
    assert!(!form.body.contains("Training courses") && !form.body.contains("AML"), "{}", form.body);
    for path in [
        table.clone(),
        format!("{table}?version=1"),
        format!("{table}/compare?from=1&to=1"),
        format!("{table}/rows/1"),
        format!("{table}/rows/1/remove"),
    ] {
        let page = f.get(&path).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}");
        assert!(page.body.contains("Page not found") && !page.body.contains("AML"), "{path}");
    }
}

#[tokio::test]
async fn an_administrator_of_one_company_reaches_no_other_companys_rows_versions_or_tables() {
    let site = corterum_site().await;
    let mut root = Client::new(&site);
    root.sign_in("root@example.com").await;
    let pat = entity(&mut root, "Pat Jones", &company(PSR)).await;
    let joe = entity(&mut root, "Joe Bloggs", &company(FCA)).await;
    // The PSR's Pat has a training record and courses, saved by the root administrator.
    let pats_table = format!("/records/{pat}/training_courses");
    let pats_record = format!("/records/{pat}/training_record");
    let page =
        send(&mut root, &pats_record, &[("based_on", "0"), ("field_hours_this_year", "8")]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let page =
        send(&mut root, &pats_table, &[("based_on", "0"), ("field_course", "Secret course")]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);

    // An FCA administrator who edits every dataset of their company's people, and the
    // out-of-the-box Administrator (their own data only).
    let every: Vec<&str> =
        ["training_record", "training_courses", "personal_details", "employment_history"].to_vec();
    let editor = role(&mut root, "FCA records administrator", &[], &every).await;
    let mut a = person(&site, &mut root, "fcaadmin", editor, FCA).await;
    let mut b = person(&site, &mut root, "builtin", CORTERUM_ADMINISTRATOR, FCA).await;
    // Their own company's records work (so the refusals below are about the company).
    let own = send(
        &mut a,
        &format!("/records/{joe}/training_courses"),
        &[("based_on", "0"), ("field_course", "AML")],
    )
    .await;
    assert_eq!(own.status, StatusCode::SEE_OTHER, "{}", own.body);

    for c in [&mut a, &mut b] {
        for path in [
            format!("/records/{pat}"),
            pats_record.clone(),
            format!("{pats_record}?version=1"),
            format!("{pats_record}/compare?from=1&to=1"),
            pats_table.clone(),
            format!("{pats_table}?version=1"),
            format!("{pats_table}?day=1&month=1&year=2099"),
            format!("{pats_table}/compare?from=1&to=1"),
            format!("{pats_table}/rows/1"),
            format!("{pats_table}/rows/1/remove"),
        ] {
            let page = c.get(&path).await;
            assert_eq!(page.status, StatusCode::NOT_FOUND, "GET {path}");
            assert!(
                page.body.contains("Page not found")
                    && !page.body.contains("Pat Jones")
                    && !page.body.contains("Secret course"),
                "GET {path}"
            );
        }
        c.get("/records").await;
        for (path, fields) in [
            (format!("{pats_table}/rows/1"), vec![("based_on", "1"), ("field_course", "Changed")]),
            (format!("{pats_table}/rows/1/remove"), vec![("based_on", "1")]),
            (pats_table.clone(), vec![("based_on", "1"), ("field_course", "Added")]),
            (pats_record.clone(), vec![("based_on", "1"), ("field_hours_this_year", "0")]),
        ] {
            let page = c.post(&path, &fields).await;
            assert_eq!(page.status, StatusCode::NOT_FOUND, "POST {path}");
        }
    }
    // Pat's table is as the root left it.
    let history = site
        .store
        .history(
            catalogue_id_of("training_courses").unwrap(),
            tenure_domain::EntityId::from_uuid(pat.parse().unwrap()),
        )
        .await
        .unwrap();
    assert_eq!(history.len(), 1, "nothing saved over Pat's table");
}
