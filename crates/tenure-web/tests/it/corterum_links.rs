//! Links between Corterum entities through the router: added on the entity form with a
//! known or a custom kind, removed by unticking, shown both ways ("Linked from" on the
//! business's page and record), refused with words that say what is accepted; and, as
//! the FCA's second administrator, nothing of the PSR's entities at either end of a
//! link nor a link to them by id (kept as regression tests of the attack).

use axum::http::StatusCode;
use tenure_domain::role::builtin::CORTERUM_ADMINISTRATOR;

use crate::corterum::{FCA, accept, corterum_site, create_account, entity};
use crate::{Client, Site};

/// A business of a company, made through the form; its id.
async fn business(root: &mut Client<'_>, name: &str, company: &str) -> String {
    root.get("/administration/entities/new?type=business").await;
    let page = root
        .post(
            "/administration/entities/new",
            &[("type", "business"), ("name", name), ("companies", company)],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    page.location().rsplit('/').next().unwrap().split('?').next().unwrap().to_owned()
}

/// Saves a person's form with `links` kept and one link added.
async fn save_person(
    who: &mut Client<'_>,
    id: &str,
    name: &str,
    company: &str,
    kept: &[String],
    add: (&str, &str, &str),
) -> crate::Page {
    let path = format!("/administration/entities/{id}");
    who.get(&path).await;
    let mut fields = vec![
        ("type", "person"),
        ("name", name),
        ("companies", company),
        ("link_kind", add.0),
        ("link_custom", add.1),
        ("link_to", add.2),
    ];
    for k in kept {
        fields.push(("links", k.as_str()));
    }
    who.post(&path, &fields).await
}

#[tokio::test]
async fn links_go_both_ways_and_stay_within_the_company() {
    let site: Site = corterum_site().await;
    let fca = uuid::Uuid::from_u128(FCA).to_string();
    let psr = uuid::Uuid::from_u128(2).to_string();
    let mut root = Client::new(&site);
    root.sign_in("root@example.com").await;
    let joe = entity(&mut root, "Joe Bloggs", &fca).await;
    let pat = entity(&mut root, "Pat Jones", &psr).await;
    let acme = business(&mut root, "Acme Bank", &fca).await;

    // The form offers every kind and any entity; a previous employer is added.
    let form = root.get(&format!("/administration/entities/{joe}")).await;
    for offered in
        ["Previous employer", "New employer", "Regulator of", "Related to", "Another kind"]
    {
        assert!(form.body.contains(offered), "{offered}");
    }
    let saved =
        save_person(&mut root, &joe, "Joe Bloggs", &fca, &[], ("previous_employer", "", &acme))
            .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    // A custom kind, to another company's person (root sees every company).
    let kept = vec![format!("previous_employer|{acme}")];
    let saved =
        save_person(&mut root, &joe, "Joe Bloggs", &fca, &kept, ("custom", "Mentor of", &pat))
            .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let page = root.get(&format!("/administration/entities/{joe}")).await;
    assert!(page.body.contains("Previous employer: Acme Bank"), "{}", page.body);
    assert!(page.body.contains("Mentor of: Pat Jones (Person)"), "{}", page.body);

    // Linked from: the business shows the person who worked there, on both its pages.
    let acme_page = root.get(&format!("/administration/entities/{acme}")).await;
    assert!(acme_page.body.contains("Linked from") && acme_page.body.contains("Joe Bloggs"));
    let record = root.get(&format!("/records/{acme}")).await;
    assert_eq!(record.status, StatusCode::OK);
    assert!(record.body.contains("Linked from") && record.body.contains("Joe Bloggs"));

    // Refusals say what was wrong and what is accepted.
    let kept = vec![format!("previous_employer|{acme}"), format!("custom:Mentor of|{pat}")];
    for (add, words) in [
        (("custom", "", acme.as_str()), "name the custom link kind"),
        (("related_to", "", ""), "choose the entity to link to"),
        (("", "", acme.as_str()), "choose the kind of link to add"),
        (("boss_of", "", acme.as_str()), "choose one of the kinds of link offered"),
        (("related_to", "", joe.as_str()), "cannot be linked to itself"),
    ] {
        let page = save_person(&mut root, &joe, "Joe Bloggs", &fca, &kept, add).await;
        assert_eq!(page.status, StatusCode::OK, "{add:?}");
        assert!(page.body.to_lowercase().contains(words), "{add:?}: {}", page.body);
        assert!(page.body.contains("There is a problem"), "{add:?}");
    }
    // Unticking removes.
    let saved = save_person(&mut root, &joe, "Joe Bloggs", &fca, &kept[1..], ("", "", "")).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let acme_page = root.get(&format!("/administration/entities/{acme}")).await;
    assert!(
        acme_page.body.contains("No entity you can see links to this one"),
        "the link is gone from the other end"
    );

    // The FCA's second administrator: Joe's link to Pat is not shown, Pat is not offered,
    // Pat's pages are not found, and a link to Pat by id is refused like a made-up id.
    create_account(&mut root, "second", CORTERUM_ADMINISTRATOR, FCA).await;
    accept(&site, "second@example.com").await;
    let mut second = Client::new(&site);
    second.sign_in("second@example.com").await;
    let joe_page = second.get(&format!("/administration/entities/{joe}")).await;
    assert_eq!(joe_page.status, StatusCode::OK);
    assert!(
        !joe_page.body.contains("Pat Jones") && !joe_page.body.contains(&pat),
        "{}",
        joe_page.body
    );
    for path in [format!("/administration/entities/{pat}"), format!("/records/{pat}")] {
        let page = second.get(&path).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}");
        assert!(!page.body.contains("Pat Jones") && !page.body.contains("Mentor of"), "{path}");
    }
    let made_up = uuid::Uuid::from_u128(0xdead).to_string();
    let mut words = Vec::new();
    for to in [pat.as_str(), made_up.as_str()] {
        let page =
            save_person(&mut second, &joe, "Joe Bloggs", &fca, &[], ("related_to", "", to)).await;
        assert_eq!(page.status, StatusCode::OK, "{to}");
        assert!(!page.body.contains("Pat Jones"));
        let at = page.body.find("govuk-error-message").expect("an error");
        words.push(page.body[at..at + 200].to_owned());
    }
    assert_eq!(words[0], words[1], "the refusal says nothing about Pat");
    // Their save keeps the link they cannot see.
    let saved = save_person(&mut second, &joe, "Joe Bloggs", &fca, &[], ("", "", "")).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let pat_page = root.get(&format!("/administration/entities/{pat}")).await;
    assert!(pat_page.body.contains("Joe Bloggs") && pat_page.body.contains("Mentor of"));
}
