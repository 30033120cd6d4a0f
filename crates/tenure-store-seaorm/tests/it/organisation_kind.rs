//! Migration m0014 (organisation kinds) on existing rows, on SQLite and PostgreSQL: an
//! organisation only Corterum records link to becomes a company; one with anything of
//! CORE's (a relationship, a log) stays housing, even when Corterum links to it too.

use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement, Value};
use sea_orm_migration::MigratorTrait;
use tenure_domain::{
    Email, Log, LogId, Name, OrgId, Organisation, Relationship, User, UserId, World,
};
use tenure_store_seaorm::SeaOrmStore;
use tenure_store_seaorm::migration::Migrator;
use uuid::Uuid;

use crate::{temp_postgres, temp_sqlite};

fn id(n: u128) -> Uuid {
    Uuid::from_u128(0x0e00 + n)
}

fn org(n: u128, name: &str) -> Organisation {
    Organisation::new(OrgId::from_uuid(id(n)), Name::parse(name).unwrap())
}

async fn exec(db: &DatabaseConnection, sql: &str, values: Vec<Value>) {
    db.execute_raw(Statement::from_sql_and_values(db.get_database_backend(), sql, values))
        .await
        .unwrap();
}

async fn kind(db: &DatabaseConnection, n: u128) -> String {
    let sql = match db.get_database_backend() {
        sea_orm::DbBackend::Postgres => "SELECT kind FROM organisations WHERE id = $1",
        _ => "SELECT kind FROM organisations WHERE id = ?",
    };
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            sql,
            [Value::from(id(n))],
        ))
        .await
        .unwrap()
        .expect("the organisation");
    row.try_get::<String>("", "kind").unwrap()
}

async fn check(url: &str) {
    let store = SeaOrmStore::open(url).await.unwrap();
    let mut world = World::new();
    // 1, 2: CORE's, related. 3: an entity's company. 4: a Corterum account's
    // organisation. 5: an entity's company that also owns a log (both sides).
    for o in [org(1, "Alpha Homes"), org(2, "Beta Lettings"), org(3, "FCA"), org(4, "PSR")] {
        world.insert_organisation(o).unwrap();
    }
    world.insert_organisation(org(5, "Mixed")).unwrap();
    let rel = Relationship {
        stock_owner: OrgId::from_uuid(id(1)),
        managing_agent: OrgId::from_uuid(id(2)),
    };
    world.add_relationship(rel).unwrap();
    let user = User::new(
        UserId::from_uuid(id(10)),
        Name::parse("Root").unwrap(),
        Email::parse("root@example.com").unwrap(),
        OrgId::from_uuid(id(4)),
        Vec::new(),
    );
    world.upsert_user(user).unwrap();
    world
        .upsert_log(Log {
            id: LogId::from_uuid(id(20)),
            owning_organisation: OrgId::from_uuid(id(5)),
            managing_organisation: OrgId::from_uuid(id(5)),
            assigned_to: None,
            created_by: None,
        })
        .unwrap();
    store.import(&world).await.unwrap();
    let db = Database::connect(url).await.unwrap();
    let pg = db.get_database_backend() == sea_orm::DbBackend::Postgres;
    let p = |n: usize| if pg { format!("${n}") } else { "?".to_owned() };
    exec(
        &db,
        &format!(
            "INSERT INTO entities (id, kind, name, sort_name, fields) VALUES ({}, 'person', 'Joe', 'joe', '{{}}')",
            p(1)
        ),
        vec![id(30).into()],
    )
    .await;
    for company in [3, 5] {
        exec(
            &db,
            &format!(
                "INSERT INTO entity_companies (entity_id, organisation_id) VALUES ({}, {})",
                p(1),
                p(2)
            ),
            vec![id(30).into(), id(company).into()],
        )
        .await;
    }
    exec(
        &db,
        &format!(
            "INSERT INTO user_links (user_id, username, username_folded, entity_id) VALUES ({}, 'root', 'root', NULL)",
            p(1)
        ),
        vec![id(10).into()],
    )
    .await;
    // Back to the schema before m0014, the rows kept, and forward again.
    Migrator::down(&db, Some(1)).await.unwrap();
    Migrator::up(&db, None).await.unwrap();
    assert_eq!(kind(&db, 1).await, "housing");
    assert_eq!(kind(&db, 2).await, "housing");
    assert_eq!(kind(&db, 3).await, "company", "linked from an entity only");
    assert_eq!(kind(&db, 4).await, "company", "a Corterum account's organisation");
    assert_eq!(kind(&db, 5).await, "housing", "a log keeps it CORE's");
}

#[tokio::test]
async fn existing_organisations_get_their_kind_on_sqlite() {
    let (url, dir) = temp_sqlite();
    check(&url).await;
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test]
async fn existing_organisations_get_their_kind_on_postgres() {
    let Some(url) = temp_postgres().await else { return };
    check(&url).await;
}

/// The account lists of a scope of everything hold only its side's users: a CORE
/// housing user with a username (data from before the sides) is no account of
/// Corterum's root administrator, and no company's account is CORE's.
async fn accounts_by_side(url: &str) {
    use tenure_core::{AccountQuery, ChangeStore, CorterumStore, Page, Write};
    use tenure_domain::{OrganisationKind, Scope, UserLinks};
    let store = SeaOrmStore::open(url).await.unwrap();
    let mut world = World::new();
    let fca = Organisation::company(OrgId::from_uuid(id(3)), Name::parse("FCA").unwrap());
    world.insert_organisation(fca).unwrap();
    world.insert_organisation(org(1, "Alpha Homes")).unwrap();
    for (n, name, at) in [(10, "corterum", 3), (11, "core", 1)] {
        let email = Email::parse(&format!("{name}@example.com")).unwrap();
        let user = User::new(
            UserId::from_uuid(id(n)),
            Name::parse(name).unwrap(),
            email,
            OrgId::from_uuid(id(at)),
            Vec::new(),
        );
        world.upsert_user(user).unwrap();
    }
    store.import(&world).await.unwrap();
    let links = [(10, "corterum", 3), (11, "core", 1)].map(|(n, name, at)| Write::SetUserLinks {
        user: UserId::from_uuid(id(n)),
        links: UserLinks { entity: None, companies: vec![OrgId::from_uuid(id(at))] },
        username: name.to_owned(),
    });
    store.apply(links.to_vec(), Vec::new()).await.unwrap();
    let actor = UserId::from_uuid(id(10));
    for (kind, only) in
        [(OrganisationKind::Company, "corterum"), (OrganisationKind::Housing, "core")]
    {
        let scope = Scope { everything: true, kind, ..Scope::nothing(actor) };
        let page = Page::numbered(1, 20);
        let names: Vec<String> =
            store.accounts(&scope, page).await.unwrap().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, [only], "{kind:?}");
        let listed = store.account_list(&scope, &AccountQuery::default(), page).await.unwrap();
        let names: Vec<&str> = listed.items.iter().map(|i| i.username.as_str()).collect();
        assert_eq!((names, listed.total), (vec![only], 1), "{kind:?}");
    }
}

#[tokio::test]
async fn account_lists_keep_to_their_side_on_sqlite() {
    let (url, dir) = temp_sqlite();
    accounts_by_side(&url).await;
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test]
async fn account_lists_keep_to_their_side_on_postgres() {
    let Some(url) = temp_postgres().await else { return };
    accounts_by_side(&url).await;
}
