//! Corterum's Reports through the router: each report opens with its feature, a
//! certificate only once the latest assessment says fit and proper (and not as of a
//! moment before it), a statement only for a senior manager, the CSV defused, and, as an
//! administrator of one company, nothing of another company's people (kept as
//! regression tests of the attack).

use axum::http::StatusCode;
use tenure_core::{ChangeStore, Write};
use tenure_domain::dataset::catalogue_id_of;
use tenure_domain::role::builtin::CORTERUM_ADMINISTRATOR;
use tenure_domain::{Content, EntityId, Moment, Version};

use crate::corterum::{FCA, accept, corterum_site, create_account, entity};
use crate::{Client, Site};

async fn save(
    site: &Site,
    dataset: &str,
    entity: &str,
    number: u32,
    at: i64,
    pairs: &[(&str, &str)],
) {
    let content =
        Content::Form(pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect());
    let version = Version { number, at: Moment(at), by: None, content };
    site.store
        .apply(
            vec![Write::AppendVersion {
                dataset: catalogue_id_of(dataset).unwrap(),
                entity: EntityId::from_uuid(entity.parse().unwrap()),
                version,
            }],
            Vec::new(),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn reports_follow_their_features_conditions_and_companies() {
    let site = corterum_site().await;
    let psr = uuid::Uuid::from_u128(2).to_string();
    let fca = uuid::Uuid::from_u128(FCA).to_string();
    let mut root = Client::new(&site);
    root.sign_in("root@example.com").await;
    let charlie = entity(&mut root, "Charlie Chaplin", &fca).await;
    let pat = entity(&mut root, "Pat Jones", &psr).await;

    let index = root.get("/reports").await;
    assert_eq!(index.status, StatusCode::OK);
    assert!(index.body.contains(">Reports</strong></a>"), "'Reports' in the header");
    for r in [
        "Fit and Proper Certificate",
        "Statement of Responsibilities",
        "FCA Directory report",
        "Regulatory Reference",
    ] {
        assert!(index.body.contains(r), "{r}");
    }
    let cert = format!("/reports/fit-and-proper-certificate?entity={charlie}");
    let page = root.get(&cert).await;
    assert!(
        page.body.contains("Not available")
            && page.body.contains("latest Fitness and Propriety Assessment"),
        "{}",
        page.body
    );

    save(
        &site,
        "fitness_and_propriety_assessment_record",
        &charlie,
        1,
        1_000,
        &[("outcome", "Fit and proper")],
    )
    .await;
    save(
        &site,
        "fit_and_proper_certificate",
        &charlie,
        1,
        2_000,
        &[("functions", "=HYPERLINK(\"http://x\")")],
    )
    .await;
    let page = root.get(&cert).await;
    assert!(
        !page.body.contains("Not available") && page.body.contains("HYPERLINK"),
        "{}",
        page.body
    );
    let csv = root.get(&format!("{cert}&format=csv")).await;
    assert!(csv.body.contains("'=HYPERLINK"), "formulas defused: {}", csv.body);
    // As of a moment before the assessment: not available then.
    let then = root.get(&format!("{cert}&as_of=1970-01-01T00:00:00.500Z")).await;
    assert!(then.body.contains("Not available"), "{}", then.body);
    // A later assessment saying otherwise closes it.
    save(
        &site,
        "fitness_and_propriety_assessment_record",
        &charlie,
        2,
        3_000,
        &[("outcome", "Not fit and proper")],
    )
    .await;
    assert!(root.get(&cert).await.body.contains("Not available"));

    let statement =
        root.get(&format!("/reports/statement-of-responsibilities?entity={charlie}")).await;
    assert!(statement.body.contains("senior manager") && statement.body.contains("Not available"));
    save(&site, "smcr_classification", &charlie, 1, 4_000, &[("classification", "Senior Manager")])
        .await;
    let statement =
        root.get(&format!("/reports/statement-of-responsibilities?entity={charlie}")).await;
    assert!(!statement.body.contains("Not available"), "{}", statement.body);
    let directory = root.get("/reports/fca-directory").await;
    assert!(directory.body.contains("Charlie Chaplin") && directory.body.contains("Pat Jones"));
    let bad = root.get(&format!("{cert}&as_of=yesterday-ish")).await;
    assert!(bad.body.contains("Enter a date and time"), "{}", bad.body);

    // An administrator without a report feature has no "Reports" in the header, and
    // the pages are not found.
    create_account(&mut root, "ada", CORTERUM_ADMINISTRATOR, FCA).await;
    accept(&site, "ada@example.com").await;
    let mut ada = Client::new(&site);
    ada.sign_in("ada@example.com").await;
    let admin = ada.get("/administration").await;
    assert!(
        admin.body.contains("href=\"/administration\"")
            && !admin.body.contains("href=\"/reports\"")
    );
    assert_eq!(ada.get("/reports").await.status, StatusCode::NOT_FOUND);

    // A compliance reader of the FCA only (the four reports and every dataset): nothing
    // of the PSR's Pat, however asked.
    root.get("/administration/roles/new").await;
    let mut fields = vec![
        ("name", "Compliance reader".to_owned()),
        ("description", "Reads every report of their companies".to_owned()),
        ("groups", tenure_domain::ALL_PEOPLE.to_string()),
    ];
    for f in [
        "report_fca_directory",
        "report_fit_and_proper_certificate",
        "report_regulatory_reference",
        "report_statement_of_responsibility",
    ] {
        fields.push(("features", f.to_owned()));
    }
    let reads: Vec<String> =
        tenure_domain::dataset::catalogue().iter().map(|d| format!("read_{}", d.id)).collect();
    let mut form: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    form.extend(reads.iter().map(|r| (r.as_str(), "1")));
    let role = root.post("/administration/roles/new", &form).await;
    assert_eq!(role.status, StatusCode::SEE_OTHER, "{}", role.body);
    let role = role.location().rsplit('/').next().unwrap().split('?').next().unwrap().to_owned();
    let role = tenure_domain::RoleId::from_uuid(role.parse().unwrap());
    create_account(&mut root, "fiona", role, FCA).await;
    accept(&site, "fiona@example.com").await;
    let mut fiona = Client::new(&site);
    fiona.sign_in("fiona@example.com").await;
    let reports = fiona.get("/reports").await;
    assert!(
        reports.body.contains("href=\"/reports\" aria-current=\"page\""),
        "'Reports' in the header, marked current: {}",
        reports.body
    );
    let chooser = fiona.get("/reports/regulatory-reference").await;
    assert_eq!(chooser.status, StatusCode::OK);
    assert!(chooser.body.contains("Charlie Chaplin") && !chooser.body.contains("Pat Jones"));
    for path in [
        format!("/reports/fit-and-proper-certificate?entity={pat}"),
        format!("/reports/statement-of-responsibilities?entity={pat}"),
        format!("/reports/regulatory-reference?entity={pat}&format=csv"),
    ] {
        let page = fiona.get(&path).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}");
        assert!(!page.body.contains("Pat Jones") && !page.body.contains("Not available"), "{path}");
    }
    let directory = fiona.get("/reports/fca-directory?format=csv").await;
    assert!(directory.body.contains("Charlie Chaplin") && !directory.body.contains("Pat Jones"));
}
