//! The Corterum contract, through the `Corterum` and `Manage` services on a real store:
//! the catalogue, entities, groups, roles built from forms, user accounts with
//! usernames, instances with versions and time travel, and what each user reaches.
//! User administration stays within the administrator's companies, never strips the root
//! administrator (attack 3 of issue 11), writes against the version its form showed, and
//! an account does nothing until its invitation is accepted.

use std::future::Future;
use std::sync::Arc;

use tenure_core::{
    AccountInput, AccountStatus, AsOf, AuditName, AuditQuery, Authorizer, ChangeStore, Clock,
    Corterum, CorterumPorts, CorterumStore, EntityInput, EntityQuery, GroupInput, ManageError,
    Page, Write,
};
use tenure_domain::dataset::{Moment, catalogue_id_of};
use tenure_domain::entity::LinkKind;
use tenure_domain::role::builtin::{
    CONDUCT_RULES_STAFF, CORTERUM_ADMINISTRATOR, ROOT_ADMINISTRATOR, SENIOR_MANAGER,
};
use tenure_domain::{
    ALL_PEOPLE, Action, Content, DatasetPermissions, DenyReason, Email, Entity, EntityId,
    EntityKind, Feature, FeatureSet, Name, OrgId, Organisation, Request, Resource, RoleCatalogue,
    RoleForm, User, UserId, World,
};
use uuid::Uuid;

use crate::contract::manage::FullStore;
use crate::fakes::{CountingHasher, FixedClock, MemoryMailer, SequentialIds, SequentialSecrets};

const FCA: u128 = 1;
const PSR: u128 = 2;
const GOOD: &str = "correct horse battery staple";

fn org(n: u128) -> OrgId {
    OrgId::from_uuid(Uuid::from_u128(n))
}
const ROOT: UserId = UserId::from_uuid(Uuid::from_u128(0xface));

/// Two companies and a root administrator, nothing else.
pub fn world() -> World {
    let mut w = World::with_roles(RoleCatalogue::with_corterum());
    for (n, name) in [(FCA, "Financial Conduct Authority"), (PSR, "Payment Systems Regulator")] {
        w.insert_organisation(Organisation::company(org(n), Name::parse(name).expect("name")))
            .expect("org");
    }
    w.upsert_user(User::new(
        ROOT,
        Name::parse("Root").expect("name"),
        Email::parse("root@example.com").expect("email"),
        org(FCA),
        vec![ROOT_ADMINISTRATOR],
    ))
    .expect("root");
    w
}

/// Where a user's account stands, in their organisation.
async fn status_of<S: FullStore>(
    store: &Arc<S>,
    manage: &tenure_core::Manage,
    id: UserId,
) -> AccountStatus {
    let user = ChangeStore::user(&**store, id).await.expect("read").expect("user").value;
    let org = ChangeStore::organisation(&**store, user.organisation)
        .await
        .expect("read")
        .expect("organisation")
        .value;
    manage.status(&user, &org).await.expect("status")
}

fn read(keys: &[&str]) -> std::collections::BTreeMap<tenure_domain::DatasetId, DatasetPermissions> {
    keys.iter()
        .map(|k| (catalogue_id_of(k).expect("catalogue key"), DatasetPermissions::READ))
        .collect()
}

fn form(fields: &[(&str, &str)]) -> Content {
    Content::Form(fields.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect())
}

/// The whole Corterum contract.
///
/// # Panics
/// On the first broken promise.
pub async fn corterum<S, F, Fut>(make: F)
where
    S: FullStore + CorterumStore,
    F: Fn(World) -> Fut,
    Fut: Future<Output = Arc<S>>,
{
    let store = make(world()).await;
    let clock = Arc::new(FixedClock::at(1_000_000));
    let mailer = Arc::new(MemoryMailer::default());
    let ids = Arc::new(SequentialIds::default());
    let c = Corterum::new(CorterumPorts {
        directory: store.clone(),
        changes: store.clone(),
        store: store.clone(),
        clock: clock.clone(),
        ids: ids.clone(),
    });
    let manage = tenure_core::Manage::new(
        tenure_core::ManagePorts {
            directory: store.clone(),
            changes: store.clone(),
            hasher: Arc::new(CountingHasher::with_cost(2)),
            secrets: Arc::new(SequentialSecrets::default()),
            courier: crate::fakes::courier(store.clone(), mailer.clone(), clock.clone()),
            clock: clock.clone(),
            ids: ids.clone(),
        },
        tenure_core::ManagePolicy {
            base_url: "https://tenure.example".to_owned(),
            ..tenure_core::ManagePolicy::default()
        },
    );

    // The catalogue installs once.
    assert_eq!(c.install_catalogue().await.expect("install"), 22);
    assert_eq!(c.install_catalogue().await.expect("again"), 0);
    let training = catalogue_id_of("training_record").expect("training");
    let courses = catalogue_id_of("training_courses").expect("courses");
    let criminal = catalogue_id_of("criminal_record_check").expect("criminal");

    // Entities: only the name is mandatory; fields follow the type.
    let entity = |kind, name: &str, companies: &[u128]| EntityInput {
        kind: Some(kind),
        name: name.to_owned(),
        fields: Vec::new(),
        companies: companies.iter().map(|c| org(*c)).collect(),
        links: None,
    };
    match c
        .create_entity(
            ROOT,
            &EntityInput { name: " ".to_owned(), ..entity(EntityKind::Person, "", &[FCA]) },
        )
        .await
    {
        Err(ManageError::Invalid(e)) => assert_eq!(e[0].field, "name"),
        other => panic!("expected a missing name, got {other:?}"),
    }
    let bad_field = EntityInput {
        fields: vec![("shoe_size".to_owned(), "9".to_owned())],
        ..entity(EntityKind::Person, "X", &[FCA])
    };
    match c.create_entity(ROOT, &bad_field).await {
        Err(ManageError::Invalid(e)) => {
            assert!(e[0].message.contains("no field `shoe_size`"), "{e:?}")
        }
        other => panic!("expected an unknown field, got {other:?}"),
    }
    let jane = c
        .create_entity(
            ROOT,
            &EntityInput {
                fields: vec![("job_title".to_owned(), "Head of Compliance".to_owned())],
                ..entity(EntityKind::Person, "Jane Smith", &[FCA])
            },
        )
        .await
        .expect("jane");
    let joe = c
        .create_entity(ROOT, &entity(EntityKind::Person, "Joe Bloggs", &[FCA]))
        .await
        .expect("joe");
    let pat =
        c.create_entity(ROOT, &entity(EntityKind::Person, "Pat Jones", &[PSR])).await.expect("pat");
    let acme = c
        .create_entity(ROOT, &entity(EntityKind::Business, "Acme Bank", &[FCA]))
        .await
        .expect("acme");
    // Any entity links to any other with a kind, never to itself.
    let link = |kind, to| tenure_domain::entity::EntityLink { kind, to };
    match c
        .update_entity(
            ROOT,
            joe,
            &EntityInput {
                links: Some(vec![link(LinkKind::RelatedTo, joe)]),
                ..entity(EntityKind::Person, "Joe Bloggs", &[FCA])
            },
        )
        .await
    {
        Err(ManageError::Invalid(e)) => assert_eq!(e[0].field, "links"),
        other => panic!("expected a link to itself refused, got {other:?}"),
    }
    c.update_entity(
        ROOT,
        joe,
        &EntityInput {
            links: Some(vec![link(LinkKind::PreviousEmployer, acme)]),
            ..entity(EntityKind::Person, "Joe Bloggs", &[FCA])
        },
    )
    .await
    .expect("link");
    let joe_stored = CorterumStore::entity(&*store, joe).await.expect("read").expect("joe");
    assert_eq!(joe_stored.links.len(), 1);
    assert_eq!(joe_stored.links[0].to, acme);
    let stored = CorterumStore::entity(&*store, jane).await.expect("read").expect("jane stored");
    assert_eq!(stored.fields.get("job_title").map(String::as_str), Some("Head of Compliance"));
    assert_eq!(stored.companies, vec![org(FCA)]);

    // Groups hold one type.
    let group = |name: &str, members: Vec<EntityId>| GroupInput {
        name: name.to_owned(),
        description: "People Jane manages".to_owned(),
        kind: Some(EntityKind::Person),
        members,
    };
    match c.save_group(ROOT, None, &group("Mixed", vec![joe, acme])).await {
        Err(ManageError::Invalid(e)) => {
            assert!(e[0].message.contains("Acme Bank is a business"), "{e:?}")
        }
        other => panic!("expected a wrong member type, got {other:?}"),
    }
    let reports =
        c.save_group(ROOT, None, &group("Jane's reports", vec![joe])).await.expect("group");
    assert!(matches!(
        c.save_group(ROOT, Some(ALL_PEOPLE), &group("All", vec![])).await,
        Err(ManageError::Forbidden(_))
    ));
    let groups = c.groups(ROOT).await.expect("groups");
    assert_eq!(groups[0].id, ALL_PEOPLE);
    assert_eq!(groups.iter().find(|g| g.id == reports).expect("stored").members, vec![joe]);

    // Roles from the role form.
    let line_manager = c
        .save_role(
            ROOT,
            None,
            RoleForm {
                name: "Line manager".to_owned(),
                description: "Sees the training of the people they manage".to_owned(),
                groups: vec![reports],
                features: FeatureSet::of(&[Feature::ReportFitAndProperCertificate]),
                datasets: read(&["training_record", "training_courses"]),
                requires_second_factor: false,
            },
        )
        .await
        .expect("line manager");
    let compliance = c
        .save_role(
            ROOT,
            None,
            RoleForm {
                name: "Compliance Administrator".to_owned(),
                description: "Administers entities and users".to_owned(),
                groups: vec![ALL_PEOPLE],
                features: FeatureSet::of(&[
                    Feature::EntityAdministration,
                    Feature::UserAdministration,
                ]),
                datasets: read(&["personal_details"]),
                requires_second_factor: false,
            },
        )
        .await
        .expect("compliance");
    match c
        .save_role(
            ROOT,
            None,
            RoleForm {
                description: String::new(),
                ..RoleForm::from_role(&tenure_domain::role::builtin::corterum_roles()[1])
            },
        )
        .await
    {
        Err(ManageError::Invalid(e)) => {
            assert!(e.iter().any(|x| x.field == "name" || x.field == "description"), "{e:?}")
        }
        other => panic!("expected refusal, got {other:?}"),
    }
    assert!(matches!(
        c.save_role(ROOT, Some(SENIOR_MANAGER), RoleForm::default()).await,
        Err(ManageError::Forbidden(_))
    ));
    let roles = c.roles(ROOT).await.expect("roles");
    assert!(
        roles.iter().any(|r| r.name == "Senior Manager")
            && roles.iter().any(|r| r.id == line_manager)
    );
    let stored_role = roles.iter().find(|r| r.id == line_manager).expect("stored");
    assert_eq!(
        RoleForm::from_role(stored_role).datasets,
        read(&["training_record", "training_courses"])
    );

    // User accounts: usernames unique, an invitation by email, roles once accepted.
    let account = |username: &str, email: &str, entity, role| AccountInput {
        username: username.to_owned(),
        email: email.to_owned(),
        entity,
        roles: vec![role],
        companies: vec![org(FCA)],
    };
    let jane_user = manage
        .create_account(
            &c,
            ROOT,
            &account("jane.smith@example.com", "jane@example.com", Some(jane), line_manager),
        )
        .await
        .expect("jane's account");
    match manage
        .create_account(
            &c,
            ROOT,
            &account("JANE.SMITH@example.com", "other@example.com", None, line_manager),
        )
        .await
    {
        Err(ManageError::Invalid(e)) => assert_eq!(e[0].field, "username"),
        other => panic!("expected the username taken, got {other:?}"),
    }
    match manage
        .create_account(
            &c,
            ROOT,
            &AccountInput {
                roles: vec![ROOT_ADMINISTRATOR],
                ..account("x", "x@example.com", None, line_manager)
            },
        )
        .await
    {
        Err(ManageError::Invalid(e)) => assert_eq!(e[0].field, "roles"),
        other => panic!("expected root refused, got {other:?}"),
    }
    // Until Jane accepts, her account is invited, not active, though it holds its roles.
    assert_eq!(
        status_of(&store, &manage, jane_user).await,
        tenure_core::AccountStatus::Invited { expired: false }
    );
    let token = mailer.last_token_for("jane@example.com").expect("invitation");
    manage.accept_invitation(&token, GOOD).await.expect("accept");
    assert_eq!(status_of(&store, &manage, jane_user).await, tenure_core::AccountStatus::Active);
    let admin_user = manage
        .create_account(
            &c,
            ROOT,
            &account("compliance@example.com", "compliance@example.com", None, compliance),
        )
        .await
        .expect("admin account");
    let token = mailer.last_token_for("compliance@example.com").expect("invitation");
    manage.accept_invitation(&token, GOOD).await.expect("accept");
    let jane_account = c.account(ROOT, jane_user).await.expect("account");
    assert_eq!(
        (jane_account.username.as_str(), jane_account.links.entity),
        ("jane.smith@example.com", Some(jane))
    );
    assert_eq!(c.accounts(ROOT, Page::numbered(1, 20)).await.expect("accounts").len(), 2);
    let version = jane_account.user.version;
    assert!(matches!(
        c.update_account(
            jane_user,
            ROOT,
            version,
            &account("root", "root@example.com", None, line_manager)
        )
        .await,
        Err(ManageError::NotFound)
    ));
    let root_version = ChangeStore::user(&*store, ROOT).await.expect("read").expect("root").version;
    assert!(matches!(
        c.update_account(
            ROOT,
            ROOT,
            root_version,
            &account("root", "root@example.com", None, line_manager)
        )
        .await,
        Err(ManageError::Forbidden(_))
    ));
    let second =
        user_administration(&store, &c, &manage, &mailer, (jane_user, jane), line_manager, pat)
            .await;

    // Instances: a first version needs create, later ones edit; stale saves conflict.
    let v1 = c
        .save_instance(ROOT, training, joe, 0, form(&[("hours_this_year", "4")]))
        .await
        .expect("v1");
    assert_eq!(v1, 1);
    assert!(matches!(
        c.save_instance(ROOT, training, joe, 0, form(&[("hours_this_year", "5")])).await,
        Err(ManageError::Conflict)
    ));
    match c.save_instance(ROOT, training, joe, 1, form(&[("shoe_size", "9")])).await {
        Err(ManageError::Invalid(e)) => {
            assert!(e[0].message.contains("no field `shoe_size`"), "{e:?}")
        }
        other => panic!("expected an unknown field, got {other:?}"),
    }
    clock.advance(60_000);
    let between = Moment(clock.now().0 - 30_000);
    let v2 = c
        .save_instance(
            ROOT,
            training,
            joe,
            1,
            form(&[("hours_this_year", "6"), ("completed", "yes")]),
        )
        .await
        .expect("v2");
    assert_eq!(v2, 2);

    // Jane reads Joe's training (her group), as of any moment, but not his criminal
    // record, not Pat's (another company), and she cannot edit.
    let view = c.instance(jane_user, training, joe, AsOf::Latest).await.expect("read");
    assert_eq!((view.shown, view.history.versions().len(), view.may_save), (Some(2), 2, false));
    let then = c.instance(jane_user, training, joe, AsOf::Moment(between)).await.expect("as of");
    assert_eq!(then.shown, Some(1));
    assert_eq!(then.history.at_version(1).expect("v1").content, form(&[("hours_this_year", "4")]));
    assert_eq!(
        c.instance(jane_user, training, joe, AsOf::Moment(Moment(0))).await.expect("before").shown,
        None
    );
    assert_eq!(view.history.changes(2).len(), 2);
    assert!(
        c.instance(jane_user, courses, joe, AsOf::Latest).await.is_ok(),
        "the embedded table, with its form"
    );
    assert!(matches!(
        c.instance(jane_user, criminal, joe, AsOf::Latest).await,
        Err(ManageError::NotFound)
    ));
    assert!(matches!(
        c.instance(jane_user, training, pat, AsOf::Latest).await,
        Err(ManageError::NotFound)
    ));
    assert!(matches!(
        c.save_instance(jane_user, training, joe, 2, form(&[("hours_this_year", "7")])).await,
        Err(ManageError::Forbidden(_))
    ));
    assert!(
        matches!(c.groups(jane_user).await, Err(ManageError::NotFound)),
        "no group administration"
    );
    // What her record page lists: the datasets she may read, each decided by the engine.
    let readable =
        |list: Vec<tenure_domain::Dataset>| list.into_iter().map(|d| d.key).collect::<Vec<_>>();
    assert_eq!(
        readable(c.readable_datasets(jane_user, joe).await.expect("datasets")),
        ["training_courses", "training_record"]
    );
    assert!(readable(c.readable_datasets(jane_user, pat).await.expect("datasets")).is_empty());

    // Lists: Jane sees herself and her report; the compliance administrator every
    // entity of the FCA; the root everything.
    let names = |list: Vec<tenure_domain::Entity>| {
        list.into_iter().map(|e| e.name.to_string()).collect::<Vec<_>>()
    };
    let all = EntityQuery::default();
    let first = Page::numbered(1, 20);
    assert_eq!(
        names(c.entities(jane_user, &all, first).await.expect("list")),
        ["Jane Smith", "Joe Bloggs"]
    );
    assert_eq!(
        names(c.entities(admin_user, &all, first).await.expect("list")),
        ["Acme Bank", "Jane Smith", "Joe Bloggs"]
    );
    assert_eq!(names(c.entities(ROOT, &all, first).await.expect("list")).len(), 4);
    let people =
        EntityQuery { kind: Some(EntityKind::Person), search: tenure_core::Search::parse("jo") };
    assert_eq!(
        names(c.entities(ROOT, &people, first).await.expect("search")),
        ["Joe Bloggs", "Pat Jones"]
    );
    assert!(matches!(c.entity(jane_user, pat).await, Err(ManageError::NotFound)));
    assert!(matches!(c.entity(admin_user, pat).await, Err(ManageError::NotFound)));
    assert_eq!(c.entity(admin_user, acme).await.expect("in company").name.as_str(), "Acme Bank");

    // An entity administrator edits within their companies only.
    match c
        .update_entity(admin_user, joe, &entity(EntityKind::Person, "Joe Bloggs", &[FCA, PSR]))
        .await
    {
        Err(ManageError::Invalid(e)) => assert_eq!(e[0].field, "companies"),
        other => panic!("expected the PSR refused, got {other:?}"),
    }
    c.update_entity(admin_user, joe, &entity(EntityKind::Person, "Joseph Bloggs", &[FCA]))
        .await
        .expect("rename");

    // Decisions through the store's snapshots.
    let auth = Authorizer::new(store.clone());
    for (actor, action, resource, expect) in [
        (
            jane_user,
            Action::DatasetRead,
            Resource::Instance { dataset: training, entity: joe },
            true,
        ),
        (
            jane_user,
            Action::DatasetRead,
            Resource::Instance { dataset: courses, entity: joe },
            true,
        ),
        (
            jane_user,
            Action::DatasetRead,
            Resource::Instance { dataset: criminal, entity: joe },
            false,
        ),
        (
            jane_user,
            Action::DatasetEdit,
            Resource::Instance { dataset: training, entity: jane },
            false,
        ),
        (jane_user, Action::EntityView, Resource::Entity(pat), false),
        (
            jane_user,
            Action::FeatureUse,
            Resource::Feature(Feature::ReportFitAndProperCertificate),
            true,
        ),
        (jane_user, Action::FeatureUse, Resource::Feature(Feature::UserAdministration), false),
        (admin_user, Action::FeatureUse, Resource::Feature(Feature::UserAdministration), true),
        (
            admin_user,
            Action::DatasetRead,
            Resource::Instance { dataset: training, entity: joe },
            false,
        ),
        (ROOT, Action::DatasetEdit, Resource::Instance { dataset: criminal, entity: pat }, true),
        (ROOT, Action::UserDeactivate, Resource::User(ROOT), false),
    ] {
        let got = auth.decide(&Request::new(actor, action, resource)).await.expect("decide");
        assert_eq!(got.is_allowed(), expect, "{actor} {action} {resource:?}");
    }

    // Every change left its audit entry.
    let rows = ChangeStore::audit(&*store, &AuditQuery::default(), Page::numbered(1, 100))
        .await
        .expect("audit");
    for name in [
        AuditName::EntitySave,
        AuditName::GroupSave,
        AuditName::RoleSave,
        AuditName::UserLinksSave,
        AuditName::InstanceSave,
    ] {
        assert!(rows.iter().any(|r| r.name == name), "no {name:?} in the audit trail");
    }
    assert!(rows.iter().any(|r| r.name == AuditName::AuthzFail && r.actor == Some(jane_user)));
    entity_links(&store, &c, second, (jane, joe, pat, acme)).await;
    table_rows(&c, jane_user, joe, pat).await;
}

/// A table's rows (issue 15): changed and removed, each a new version, the rows as they
/// were kept in the versions before; a stale row edit conflicts; a row that is not
/// there, or a form's "row", is refused saying why; a form is read with the tables
/// embedded in it; nothing of another company's table for Jane.
async fn table_rows(c: &Corterum, jane_user: UserId, joe: EntityId, pat: EntityId) {
    let training = catalogue_id_of("training_record").expect("training");
    let courses = catalogue_id_of("training_courses").expect("courses");
    let row = |v: &str| -> tenure_domain::dataset::Record {
        [("course".to_owned(), v.to_owned())].into()
    };
    let first = Content::Table(vec![row("AML"), row("GDPR")]);
    let latest = c.instance(ROOT, courses, joe, AsOf::Latest).await.expect("table");
    let n = latest.history.latest_number();
    assert_eq!(c.save_instance(ROOT, courses, joe, n, first.clone()).await.expect("rows"), n + 1);
    let changed = c.change_row(ROOT, courses, joe, n + 1, 2, row("Data protection")).await;
    assert_eq!(changed.expect("changed"), n + 2);
    assert!(matches!(
        c.change_row(ROOT, courses, joe, n + 1, 1, row("Stale")).await,
        Err(ManageError::Conflict)
    ));
    match c.remove_row(ROOT, courses, joe, n + 2, 3).await {
        Err(ManageError::Invalid(e)) => assert!(e[0].message.contains("no row 3"), "{e:?}"),
        other => panic!("expected no such row, got {other:?}"),
    }
    let form_at = c.instance(ROOT, training, joe, AsOf::Latest).await.expect("form");
    match c.change_row(ROOT, training, joe, form_at.history.latest_number(), 1, row("x")).await {
        Err(ManageError::Invalid(e)) => assert!(e[0].message.contains("only a table"), "{e:?}"),
        other => panic!("expected a form to have no rows, got {other:?}"),
    }
    assert_eq!(c.remove_row(ROOT, courses, joe, n + 2, 1).await.expect("removed"), n + 3);
    let table = c.instance(ROOT, courses, joe, AsOf::Latest).await.expect("table");
    let content = |v: u32| table.history.at_version(v).expect("version").content.clone();
    assert_eq!(content(n + 3), Content::Table(vec![row("Data protection")]));
    assert_eq!(content(n + 1), first, "the rows as they were stay in their version");
    let (form, tables) =
        c.instance_with_tables(ROOT, training, joe, AsOf::Latest).await.expect("with tables");
    assert_eq!(form.dataset.id, training);
    assert_eq!(tables.len(), 1);
    assert_eq!((tables[0].dataset.id, tables[0].shown), (courses, Some(n + 3)));
    // Jane (the line manager) reads the form with its table, but changes no row, and
    // finds nothing of the PSR's Pat.
    let (_, hers) =
        c.instance_with_tables(jane_user, training, joe, AsOf::Latest).await.expect("hers");
    assert_eq!(hers.len(), 1, "she reads both");
    assert!(matches!(
        c.remove_row(jane_user, courses, joe, n + 3, 1).await,
        Err(ManageError::Forbidden(_))
    ));
    assert!(matches!(
        c.change_row(jane_user, courses, pat, 0, 1, row("x")).await,
        Err(ManageError::NotFound)
    ));
    assert!(matches!(
        c.instance_with_tables(jane_user, training, pat, AsOf::Latest).await,
        Err(ManageError::NotFound)
    ));
}

/// User administration through the services (attack 3 of issue 11 among it): a second
/// Corterum Administrator cannot strip the root administrator; an administrator of the
/// FCA neither lists, opens nor changes an account of the PSR; a form from an old version
/// conflicts; nobody changes their own roles; an invited account does nothing until it
/// accepts; a withdrawn invitation stays withdrawn.
async fn user_administration<S: FullStore + CorterumStore>(
    store: &Arc<S>,
    c: &Corterum,
    manage: &tenure_core::Manage,
    mailer: &MemoryMailer,
    (jane_user, jane): (UserId, EntityId),
    line_manager: tenure_domain::RoleId,
    pat: EntityId,
) -> UserId {
    let auth = Authorizer::new(store.clone());
    let may_administer = |actor: UserId| {
        let auth = &auth;
        async move {
            let request = Request::new(
                actor,
                Action::FeatureUse,
                Resource::Feature(Feature::UserAdministration),
            );
            auth.decide(&request).await.expect("decide").is_allowed()
        }
    };
    // The root administrator's own account, as `admin create-root` makes it.
    store
        .apply(
            vec![Write::SetUserLinks {
                user: ROOT,
                links: tenure_domain::UserLinks { entity: None, companies: vec![org(FCA)] },
                username: "root@example.com".to_owned(),
            }],
            Vec::new(),
        )
        .await
        .expect("root's username");
    let input =
        |username: &str, roles: &[tenure_domain::RoleId], companies: &[u128]| AccountInput {
            username: username.to_owned(),
            email: format!("{username}@example.com"),
            entity: None,
            roles: roles.to_vec(),
            companies: companies.iter().map(|c| org(*c)).collect(),
        };
    let accept = |email: String| async move {
        let token = mailer.last_token_for(&email).expect("invitation");
        manage.accept_invitation(&token, GOOD).await.expect("accept");
    };

    // A second administrator (the out-of-the-box role) at the FCA.
    let second = manage
        .create_account(c, ROOT, &input("second", &[CORTERUM_ADMINISTRATOR], &[FCA]))
        .await
        .expect("second administrator");
    // Until they accept, the account can do nothing, though it holds its role.
    assert!(!may_administer(second).await, "an invited account can do nothing");
    assert!(matches!(c.accounts(second, Page::numbered(1, 20)).await, Err(ManageError::NotFound)));
    accept("second@example.com".to_owned()).await;
    assert!(may_administer(second).await);
    let pat_user = manage
        .create_account(c, ROOT, &input("pat", &[CONDUCT_RULES_STAFF], &[PSR]))
        .await
        .expect("an account of the PSR");
    accept("pat@example.com".to_owned()).await;

    // Attack 3: the second administrator ticks only Conduct Rules Staff for root.
    let root = c.account(second, ROOT).await.expect("root is in the FCA: visible");
    let stripped = c
        .update_account(
            second,
            ROOT,
            root.user.version,
            &input("root", &[CONDUCT_RULES_STAFF], &[FCA]),
        )
        .await;
    assert!(
        matches!(&stripped, Err(ManageError::Forbidden(d)) if d.reason() == DenyReason::Irrevocable),
        "{stripped:?}"
    );
    let root_now = ChangeStore::user(&**store, ROOT).await.expect("read").expect("root");
    assert_eq!(root_now.value.roles, vec![ROOT_ADMINISTRATOR]);
    assert!(may_administer(ROOT).await, "root still opens Administration");
    for (what, refused) in [
        ("deactivate", manage.deactivate_user(second, ROOT, root_now.version).await),
        ("delete", manage.delete_user(second, ROOT, root_now.version).await),
    ] {
        assert!(
            matches!(&refused, Err(ManageError::Forbidden(d)) if d.reason() == DenyReason::Irrevocable),
            "{what}: {refused:?}"
        );
    }

    // Another company's account: not listed, not found, not changed.
    let listed: Vec<UserId> = c
        .accounts(second, Page::numbered(1, 20))
        .await
        .expect("accounts")
        .into_iter()
        .map(|(_, u)| u.id)
        .collect();
    assert!(listed.contains(&jane_user) && listed.contains(&ROOT), "{listed:?}");
    assert!(!listed.contains(&pat_user), "an account of another company is listed");
    assert_eq!(c.accounts(ROOT, Page::numbered(1, 20)).await.expect("root's list").len(), 5);
    assert!(matches!(c.account(second, pat_user).await, Err(ManageError::NotFound)));
    let pat_version = ChangeStore::user(&**store, pat_user).await.expect("read").expect("pat");
    assert!(matches!(
        c.update_account(
            second,
            pat_user,
            pat_version.version,
            &input("pat", &[CORTERUM_ADMINISTRATOR], &[FCA])
        )
        .await,
        Err(ManageError::NotFound)
    ));
    // ... nor can an account of theirs be linked to it.
    let jane_now = c.account(second, jane_user).await.expect("jane");
    match c
        .update_account(
            second,
            jane_user,
            jane_now.user.version,
            &input("jane", &[line_manager], &[FCA, PSR]),
        )
        .await
    {
        Err(ManageError::Invalid(e)) => assert_eq!(e[0].field, "companies"),
        other => panic!("expected the PSR refused, got {other:?}"),
    }
    match manage.create_account(c, second, &input("psr2", &[CONDUCT_RULES_STAFF], &[PSR])).await {
        Err(ManageError::Invalid(e)) => assert_eq!(e[0].field, "companies"),
        other => panic!("expected the PSR refused, got {other:?}"),
    }
    // Nobody changes their own roles, or gives the root administrator's.
    let own = c.account(second, second).await.expect("own account");
    assert!(matches!(
        c.update_account(
            second,
            second,
            own.user.version,
            &input("second", &[SENIOR_MANAGER], &[FCA])
        )
        .await,
        Err(ManageError::Forbidden(_))
    ));
    match c
        .update_account(
            second,
            jane_user,
            jane_now.user.version,
            &input("jane", &[ROOT_ADMINISTRATOR], &[FCA]),
        )
        .await
    {
        Err(ManageError::Invalid(e)) => assert_eq!(e[0].field, "roles"),
        other => panic!("expected the root administrator's role refused, got {other:?}"),
    }

    // The form's version is the one written against: a stale form conflicts.
    let opened = c.account(second, jane_user).await.expect("opened");
    c.update_account(
        ROOT,
        jane_user,
        opened.user.version,
        &input("jane", &[line_manager, SENIOR_MANAGER], &[FCA]),
    )
    .await
    .expect("root saves first");
    assert!(matches!(
        c.update_account(
            second,
            jane_user,
            opened.user.version,
            &input("jane", &[CONDUCT_RULES_STAFF], &[FCA])
        )
        .await,
        Err(ManageError::Conflict)
    ));
    let kept = ChangeStore::user(&**store, jane_user).await.expect("read").expect("jane");
    let mut kept_roles = kept.value.roles;
    kept_roles.sort_unstable();
    let mut expected = vec![line_manager, SENIOR_MANAGER];
    expected.sort_unstable();
    assert_eq!(kept_roles, expected, "no lost update");
    // Reloaded, the form saves (root's: Line manager reads a report and reaches a group
    // the second administrator's own roles do not, so theirs may not give it).
    let fresh = c.account(second, jane_user).await.expect("reloaded");
    c.update_account(
        ROOT,
        jane_user,
        fresh.user.version,
        &AccountInput { entity: Some(jane), ..input("jane", &[line_manager], &[FCA]) },
    )
    .await
    .expect("a fresh form saves");
    let saved = c.account(second, jane_user).await.expect("saved");
    assert_eq!((saved.links.entity, saved.user.value.roles), (Some(jane), vec![line_manager]));

    // A member from another company is refused like one that does not exist: its name and
    // type stay unknown (a review found the type checked first, naming Pat to the FCA).
    for member in [pat, EntityId::from_uuid(Uuid::from_u128(0xDEAD))] {
        match c
            .save_group(
                second,
                None,
                &GroupInput {
                    name: "Probe".to_owned(),
                    description: String::new(),
                    kind: Some(EntityKind::Business),
                    members: vec![member],
                },
            )
            .await
        {
            Err(ManageError::Invalid(e)) => {
                assert_eq!(e.len(), 1, "{e:?}");
                assert_eq!(e[0].message, "choose members from your companies' entities");
            }
            other => panic!("expected the member refused, got {other:?}"),
        }
    }

    // Groups and roles: the built-in ones are never edited.
    assert!(matches!(
        c.save_group(
            second,
            Some(tenure_domain::ALL_PEOPLE),
            &GroupInput {
                name: "All".to_owned(),
                description: String::new(),
                kind: Some(EntityKind::Person),
                members: Vec::new()
            }
        )
        .await,
        Err(ManageError::Forbidden(_))
    ));
    assert!(matches!(
        c.save_role(second, Some(CONDUCT_RULES_STAFF), RoleForm::default()).await,
        Err(ManageError::Forbidden(_))
    ));
    assert!(matches!(
        c.save_role(
            second,
            Some(tenure_domain::RoleId::from_uuid(Uuid::from_u128(7))),
            RoleForm::default()
        )
        .await,
        Err(ManageError::NotFound)
    ));

    // Withdrawing an invitation: the account stays idle, and says so.
    let invited = manage
        .create_account(c, second, &input("invited", &[CONDUCT_RULES_STAFF], &[FCA]))
        .await
        .expect("an account by the second administrator");
    assert!(matches!(manage.revoke_invitation(second, pat_user).await, Err(ManageError::NotFound)));
    manage.revoke_invitation(second, invited).await.expect("withdrawn");
    assert_eq!(status_of(store, manage, invited).await, AccountStatus::InvitationRevoked);
    let token = mailer.last_token_for("invited@example.com").expect("invitation");
    assert!(matches!(manage.accept_invitation(&token, GOOD).await, Err(ManageError::LinkInvalid)));
    let request = Request::new(
        invited,
        Action::EntityView,
        Resource::Entity(EntityId::from_uuid(Uuid::nil())),
    );
    let decision = auth.decide(&request).await.expect("decide");
    assert_eq!(
        decision,
        tenure_domain::Decision::Deny {
            reason: tenure_domain::DenyReason::ActorInvited,
            conceal: true
        }
    );

    // Resending a Corterum invitation works for whoever could create the account (the
    // link carries no role: the account's own are given on acceptance as they stand),
    // and the old link dies; another company's account is not found.
    let resent = manage
        .create_account(c, second, &input("resent", &[CONDUCT_RULES_STAFF], &[FCA]))
        .await
        .expect("an account to resend to");
    let first_link = mailer.last_token_for("resent@example.com").expect("invitation");
    manage.resend_invitation(second, resent).await.expect("resent");
    assert!(matches!(manage.resend_invitation(second, pat_user).await, Err(ManageError::NotFound)));
    assert!(matches!(
        manage.accept_invitation(&first_link, GOOD).await,
        Err(ManageError::LinkInvalid)
    ));
    accept("resent@example.com".to_owned()).await;
    assert_eq!(status_of(store, manage, resent).await, AccountStatus::Active);
    let resent_now = ChangeStore::user(&**store, resent).await.expect("read").expect("resent");
    assert_eq!(resent_now.value.roles, vec![CONDUCT_RULES_STAFF]);

    // A demoted issuer's link gives nothing: an administrator of the FCA and the PSR
    // creates a PSR account, then loses the PSR. They still use User administration, but
    // can no longer give the account's roles in the PSR, so its link no longer works;
    // root (who can) resends it, and that link does.
    let both = manage
        .create_account(c, ROOT, &input("both", &[CORTERUM_ADMINISTRATOR], &[FCA, PSR]))
        .await
        .expect("an administrator of both");
    accept("both@example.com".to_owned()).await;
    let late = manage
        .create_account(c, both, &input("late", &[CONDUCT_RULES_STAFF], &[PSR]))
        .await
        .expect("a PSR account");
    let late_link = mailer.last_token_for("late@example.com").expect("invitation");
    let both_now = c.account(ROOT, both).await.expect("both");
    c.update_account(
        ROOT,
        both,
        both_now.user.version,
        &input("both", &[CORTERUM_ADMINISTRATOR], &[FCA]),
    )
    .await
    .expect("the PSR taken away");
    assert!(may_administer(both).await, "still a user administrator");
    assert!(matches!(
        manage.accept_invitation(&late_link, GOOD).await,
        Err(ManageError::LinkInvalid)
    ));
    assert_eq!(status_of(store, manage, late).await, AccountStatus::Invited { expired: false });
    assert!(matches!(manage.resend_invitation(both, late).await, Err(ManageError::NotFound)));
    manage.resend_invitation(ROOT, late).await.expect("root resends");
    accept("late@example.com".to_owned()).await;
    assert_eq!(status_of(store, manage, late).await, AccountStatus::Active);
    second
}

/// Links between entities (issue 15, Corterum 3): every kind and a custom one, both
/// directions ("linked from"), audited on each save; and the attack as the FCA's second
/// administrator: another company's entity is neither linked to by id, nor shown at the
/// other end of a link, nor its links listed, and a link they cannot see survives their
/// save.
async fn entity_links<S: FullStore + CorterumStore>(
    store: &Arc<S>,
    c: &Corterum,
    second: UserId,
    (jane, joe, pat, acme): (EntityId, EntityId, EntityId, EntityId),
) {
    let fca = |name: &str, kind| EntityInput {
        kind: Some(kind),
        name: name.to_owned(),
        fields: Vec::new(),
        companies: vec![org(FCA)],
        links: None,
    };
    let regulator = c
        .create_entity(ROOT, &fca("Prudential Regulation Authority", EntityKind::Regulator))
        .await
        .expect("a regulator");
    let auditor = LinkKind::custom("Auditor of").expect("a custom kind");
    let link = |kind, to| tenure_domain::entity::EntityLink { kind, to };
    // Root links the regulator to Acme, and Acme to Pat (a PSR person) with a custom kind.
    c.update_entity(
        ROOT,
        regulator,
        &EntityInput {
            links: Some(vec![link(LinkKind::RegulatorOf, acme)]),
            ..fca("Prudential Regulation Authority", EntityKind::Regulator)
        },
    )
    .await
    .expect("regulator of");
    c.update_entity(
        ROOT,
        acme,
        &EntityInput {
            links: Some(vec![link(auditor.clone(), pat), link(LinkKind::RelatedTo, jane)]),
            ..fca("Acme Bank", EntityKind::Business)
        },
    )
    .await
    .expect("a custom kind and a link to another company's person");
    assert_eq!(
        CorterumStore::linked_from(&**store, acme).await.expect("linked from"),
        {
            let mut v = vec![(joe, LinkKind::PreviousEmployer), (regulator, LinkKind::RegulatorOf)];
            v.sort_unstable();
            v
        },
        "the other direction, from the store"
    );
    let names = |v: Vec<(Entity, LinkKind)>| {
        v.into_iter().map(|(e, k)| (e.name.to_string(), k)).collect::<Vec<_>>()
    };
    let root_view = c.entity_links(ROOT, acme).await.expect("root sees Acme's links");
    assert_eq!(
        names(root_view.from),
        vec![
            ("Joseph Bloggs".to_owned(), LinkKind::PreviousEmployer),
            ("Prudential Regulation Authority".to_owned(), LinkKind::RegulatorOf),
        ]
    );
    assert_eq!(
        root_view.to.iter().map(|(k, e)| (k.clone(), e.name.to_string())).collect::<Vec<_>>(),
        vec![
            (auditor.clone(), "Pat Jones".to_owned()),
            (LinkKind::RelatedTo, "Jane Smith".to_owned())
        ]
    );
    let pat_from = c.entity_links(ROOT, pat).await.expect("root sees Pat's");
    assert_eq!(names(pat_from.from), vec![("Acme Bank".to_owned(), auditor.clone())]);

    // The FCA's second administrator sees Acme's links, without Pat at the other end.
    let seen = c.entity_links(second, acme).await.expect("Acme is the FCA's");
    assert!(seen.to.iter().all(|(_, e)| e.id != pat), "{:?}", seen.to);
    assert_eq!(seen.to.len(), 1);
    // Pat's links are not found, exactly as an entity that does not exist.
    for id in [pat, EntityId::from_uuid(Uuid::from_u128(0xdead))] {
        assert!(matches!(c.entity_links(second, id).await, Err(ManageError::NotFound)));
    }
    // Linking to Pat by id is refused like an unknown entity, with the same words.
    let refused = |r: Result<(), ManageError>| match r {
        Err(ManageError::Invalid(e)) => e[0].message.clone(),
        other => panic!("expected the link refused, got {other:?}"),
    };
    let to_pat = c
        .update_entity(
            second,
            joe,
            &EntityInput {
                links: Some(vec![link(LinkKind::RelatedTo, pat)]),
                ..fca("Joseph Bloggs", EntityKind::Person)
            },
        )
        .await;
    let to_nobody = c
        .update_entity(
            second,
            joe,
            &EntityInput {
                links: Some(vec![link(
                    LinkKind::RelatedTo,
                    EntityId::from_uuid(Uuid::from_u128(0xdead)),
                )]),
                ..fca("Joseph Bloggs", EntityKind::Person)
            },
        )
        .await;
    assert_eq!(refused(to_pat), refused(to_nobody), "the refusal says nothing about Pat");
    // Their save of Acme (dropping the one link they see) keeps the link to Pat.
    c.update_entity(
        second,
        acme,
        &EntityInput { links: Some(Vec::new()), ..fca("Acme Bank", EntityKind::Business) },
    )
    .await
    .expect("the second administrator saves Acme");
    let acme_now = CorterumStore::entity(&**store, acme).await.expect("read").expect("acme");
    assert_eq!(acme_now.links, vec![link(auditor, pat)], "the link they could not see stays");
    // Each save is in the audit trail with the links before and after (kinds and ids).
    let rows = ChangeStore::audit(&**store, &AuditQuery::default(), Page::numbered(1, 100))
        .await
        .expect("audit");
    let last = rows
        .iter()
        .filter(|r| r.name == AuditName::EntitySave && r.actor == Some(second))
        .find_map(|r| match &r.detail {
            tenure_core::AuditDetail::EntitySave(d) => Some(d.clone()),
            _ => None,
        })
        .expect("the second administrator's save is audited");
    let before = last.before.expect("before");
    assert_eq!(before.links.len(), 2, "{before:?}");
    assert_eq!(last.after.links, vec![format!("custom:Auditor of {pat}")]);
}
