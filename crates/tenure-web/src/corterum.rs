//! Corterum's screens: the Administration area (Entities, Groups, Roles, User accounts,
//! each with its list, "+" create form and edit form, companies linked on the forms) and
//! the records people read: an entity's datasets, and an instance with its version
//! history and a "view as of" control. Feature permissions gate the Administration
//! pages; the engine decides everything through the Corterum service.

use std::collections::BTreeMap;

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tenure_core::{
    AccountInput, AsOf, EntityInput, EntityQuery, GroupInput, ManageError, Page, Search,
};
use tenure_domain::role::form::RoleForm;
use tenure_domain::{
    ALL_PEOPLE, Content, DatasetId, DatasetKind, DatasetPermissions, Entity, EntityId, EntityKind,
    Feature, GroupId, Moment, OrgId, RoleId, UserId,
};

use tenure_domain::entity::{EntityLink, LinkKind};

use crate::App;
use crate::security::Signed;
use crate::view::{self, Chrome, Errors};

/// A form's fields, repeated keys kept (checkbox lists).
struct Fields(Vec<(String, String)>);

impl Fields {
    fn parse(body: &Bytes) -> Self {
        Self(form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
    }
    fn one(&self, key: &str) -> String {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()).unwrap_or_default()
    }
    fn all(&self, key: &str) -> Vec<String> {
        self.0.iter().filter(|(k, _)| k == key).map(|(_, v)| v.clone()).collect()
    }
    fn ids<T>(&self, key: &str, wrap: fn(uuid::Uuid) -> T) -> Vec<T> {
        self.all(key).iter().filter_map(|v| uuid::Uuid::parse_str(v).ok()).map(wrap).collect()
    }
    fn has(&self, key: &str) -> bool {
        self.0.iter().any(|(k, _)| k == key)
    }
}

fn parse<T>(id: &str, wrap: fn(uuid::Uuid) -> T) -> Option<T> {
    uuid::Uuid::parse_str(id).ok().map(wrap)
}

/// A checkbox or radio option.
pub(crate) struct Choice {
    value: String,
    label: String,
    hint: String,
    checked: bool,
}

fn kind_choices(selected: Option<EntityKind>) -> Vec<Choice> {
    EntityKind::ALL
        .iter()
        .map(|k| Choice {
            value: k.as_str().to_owned(),
            label: k.label().to_owned(),
            hint: String::new(),
            checked: selected == Some(*k),
        })
        .collect()
}

/// The companies the viewer may link things to with an administration feature (the
/// engine's `company_scope`), as choices.
async fn company_choices(
    app: &App,
    viewer: &Signed,
    feature: Feature,
    checked: &[OrgId],
) -> Vec<Choice> {
    let world = &viewer.0.world;
    let me = viewer.0.user.id;
    let companies = world.company_scope(me, feature);
    let orgs: Vec<(OrgId, String)> = if companies.everything {
        let all = app
            .services
            .authorizer
            .find_organisations(
                me,
                &tenure_core::OrganisationQuery::default(),
                Page::numbered(1, Page::MAX_LIMIT),
            )
            .await
            .unwrap_or_default();
        all.into_iter().map(|o| (o.id, o.name.to_string())).collect()
    } else {
        let mine = companies.organisations;
        let names = app.services.directory.names(&[], &mine).await.unwrap_or_default();
        mine.iter()
            .map(|o| (*o, names.organisations.get(o).map(ToString::to_string).unwrap_or_default()))
            .collect()
    };
    orgs.into_iter()
        .map(|(id, name)| Choice {
            value: id.to_string(),
            label: name,
            hint: String::new(),
            checked: checked.contains(&id),
        })
        .collect()
}

// ---- Administration index -------------------------------------------------------------

#[derive(Template)]
#[template(path = "administration.html")]
struct AdministrationPage {
    chrome: Chrome,
    links: Vec<(String, String, String)>,
}

pub(crate) async fn index(State(app): State<App>, viewer: Signed) -> Response {
    let chrome = viewer.chrome("Administration");
    let me = viewer.0.user.id;
    let mut links = Vec::new();
    for (feature, href, label, hint) in [
        (
            Feature::EntityAdministration,
            "/administration/entities",
            "Entities",
            "People, businesses and regulators, and the companies they are linked to",
        ),
        (
            Feature::GroupAdministration,
            "/administration/groups",
            "Groups",
            "Entities grouped together, to give roles access to them",
        ),
        (
            Feature::RolesAdministration,
            "/administration/roles",
            "Roles",
            "What each role may see and do",
        ),
        (
            Feature::UserAdministration,
            "/administration/users",
            "User accounts",
            "Who can sign in, their roles and their companies",
        ),
    ] {
        if app.services.corterum.may_use(me, feature).await.unwrap_or(false) {
            links.push((href.to_owned(), label.to_owned(), hint.to_owned()));
        }
    }
    if links.is_empty() {
        return view::not_found_page(chrome);
    }
    view::render(&AdministrationPage { chrome, links })
}

// ---- Entities -------------------------------------------------------------------------

#[derive(Deserialize, Default)]
pub(crate) struct EntityListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    r#type: String,
    page: Option<usize>,
}

pub(crate) struct EntityRow {
    id: String,
    name: String,
    kind: String,
}

#[derive(Template)]
#[template(path = "entities.html")]
struct EntitiesPage {
    chrome: Chrome,
    heading: String,
    base: String,
    can_create: bool,
    q: String,
    kinds: Vec<Choice>,
    rows: Vec<EntityRow>,
    previous: String,
    next: String,
    page: usize,
}

async fn entity_list(app: &App, viewer: &Signed, q: &EntityListQuery, admin: bool) -> Response {
    let title = if admin { "Entities" } else { "Records" };
    let chrome = viewer.chrome(title);
    let me = viewer.0.user.id;
    if admin
        && !app.services.corterum.may_use(me, Feature::EntityAdministration).await.unwrap_or(false)
    {
        return view::not_found_page(chrome);
    }
    let kind = q.r#type.parse::<EntityKind>().ok();
    let query = EntityQuery { search: Search::parse(&q.q), kind };
    let number = q.page.unwrap_or(1).max(1);
    let mut page = Page::numbered(number, Page::SCREEN);
    page.limit += 1;
    let mut found = match app.services.corterum.entities(me, &query, page).await {
        Ok(f) => f,
        Err(e) => return view::refusal(chrome, &e),
    };
    let more = found.len() > Page::SCREEN;
    found.truncate(Page::SCREEN);
    let base = if admin { "/administration/entities" } else { "/records" };
    let link = |n: usize| {
        format!(
            "{base}?q={}&type={}&page={n}",
            view::query_value(&q.q),
            view::query_value(&q.r#type)
        )
    };
    view::render(&EntitiesPage {
        chrome,
        heading: title.to_owned(),
        base: base.to_owned(),
        can_create: admin,
        q: q.q.clone(),
        kinds: kind_choices(kind),
        rows: found
            .into_iter()
            .map(|e| EntityRow {
                id: e.id.to_string(),
                name: e.name.to_string(),
                kind: e.kind.label().to_owned(),
            })
            .collect(),
        previous: if number > 1 { link(number - 1) } else { String::new() },
        next: if more { link(number + 1) } else { String::new() },
        page: number,
    })
}

pub(crate) async fn entities(
    State(app): State<App>,
    viewer: Signed,
    Query(q): Query<EntityListQuery>,
) -> Response {
    entity_list(&app, &viewer, &q, true).await
}

pub(crate) async fn records(
    State(app): State<App>,
    viewer: Signed,
    Query(q): Query<EntityListQuery>,
) -> Response {
    // Only people whose roles reach an entity have records to look at.
    if !viewer.0.nav.records {
        return view::not_found_page(viewer.chrome("Page not found"));
    }
    entity_list(&app, &viewer, &q, false).await
}

pub(crate) struct FieldInput {
    key: String,
    label: String,
    value: String,
}

#[derive(Template)]
#[template(path = "entity_form.html")]
struct EntityForm {
    chrome: Chrome,
    errors: Errors,
    heading: String,
    action: String,
    /// Still choosing the type (the first step of "+").
    choose_type: bool,
    kinds: Vec<Choice>,
    entity_kind: String,
    name: String,
    fields: Vec<FieldInput>,
    companies: Vec<Choice>,
    /// For a person: their previous and new employers, among businesses.
    previous: Vec<Choice>,
    next: Vec<Choice>,
    editing: bool,
    id: String,
    banner: String,
}

/// Business entities to choose an employer from, "None" first.
async fn employer_choices(
    app: &App,
    viewer: &Signed,
    kind: Option<EntityKind>,
    links: &[tenure_domain::entity::EntityLink],
    which: tenure_domain::entity::LinkKind,
) -> Vec<Choice> {
    if kind != Some(EntityKind::Person) {
        return Vec::new();
    }
    let chosen = links.iter().find(|l| l.kind == which).map(|l| l.to);
    let businesses = app
        .services
        .corterum
        .entities(
            viewer.0.user.id,
            &EntityQuery { search: None, kind: Some(EntityKind::Business) },
            Page::numbered(1, Page::MAX_LIMIT),
        )
        .await
        .unwrap_or_default();
    let mut out = vec![Choice {
        value: String::new(),
        label: "None".to_owned(),
        hint: String::new(),
        checked: chosen.is_none(),
    }];
    out.extend(businesses.into_iter().map(|e| Choice {
        value: e.id.to_string(),
        label: e.name.to_string(),
        hint: String::new(),
        checked: chosen == Some(e.id),
    }));
    out
}

fn field_inputs(kind: EntityKind, values: &BTreeMap<String, String>) -> Vec<FieldInput> {
    kind.fields()
        .iter()
        .map(|(k, l)| FieldInput {
            key: (*k).to_owned(),
            label: (*l).to_owned(),
            value: values.get(*k).cloned().unwrap_or_default(),
        })
        .collect()
}

#[derive(Deserialize, Default)]
pub(crate) struct TypeQuery {
    #[serde(default)]
    r#type: String,
}

pub(crate) async fn new_entity(
    State(app): State<App>,
    viewer: Signed,
    Query(q): Query<TypeQuery>,
) -> Response {
    let chrome = viewer.chrome("Add an entity");
    if !app
        .services
        .corterum
        .may_use(viewer.0.user.id, Feature::EntityAdministration)
        .await
        .unwrap_or(false)
    {
        return view::not_found_page(chrome);
    }
    let kind = q.r#type.parse::<EntityKind>().ok();
    let mine = viewer.0.world.user_companies(viewer.0.user.id);
    view::render(&EntityForm {
        chrome,
        errors: Errors::default(),
        heading: kind
            .map_or_else(|| "Add an entity".to_owned(), |k| format!("Add a {}", k.as_str())),
        action: "/administration/entities/new".to_owned(),
        choose_type: kind.is_none(),
        kinds: kind_choices(kind),
        entity_kind: kind.map(|k| k.as_str().to_owned()).unwrap_or_default(),
        name: String::new(),
        fields: kind.map(|k| field_inputs(k, &BTreeMap::new())).unwrap_or_default(),
        companies: company_choices(&app, &viewer, Feature::EntityAdministration, &mine).await,
        previous: employer_choices(&app, &viewer, kind, &[], LinkKind::PreviousEmployer).await,
        next: employer_choices(&app, &viewer, kind, &[], LinkKind::NewEmployer).await,
        editing: false,
        id: String::new(),
        banner: String::new(),
    })
}

fn entity_input(form: &Fields, kind: Option<EntityKind>) -> EntityInput {
    let fields = kind
        .map(|k| {
            k.fields()
                .iter()
                .map(|(f, _)| ((*f).to_owned(), form.one(&format!("field_{f}"))))
                .collect()
        })
        .unwrap_or_default();
    let mut links = Vec::new();
    if kind == Some(EntityKind::Person) {
        for (field, which) in [
            ("previous_employer", LinkKind::PreviousEmployer),
            ("new_employer", LinkKind::NewEmployer),
        ] {
            if let Some(to) = parse(&form.one(field), EntityId::from_uuid) {
                links.push(EntityLink { kind: which, to });
            }
        }
    }
    EntityInput {
        links: Some(links),
        kind,
        name: form.one("name"),
        fields,
        companies: form.ids("companies", OrgId::from_uuid),
    }
}

#[allow(clippy::too_many_arguments, reason = "a form page takes what it shows")]
async fn entity_form_again(
    app: &App,
    viewer: &Signed,
    heading: &str,
    action: String,
    kind: EntityKind,
    input: &EntityInput,
    e: &ManageError,
    editing: Option<EntityId>,
) -> Response {
    let ManageError::Invalid(fields) = e else { return view::refusal(viewer.chrome(heading), e) };
    let errors = Errors::from_fields(fields);
    let values: BTreeMap<String, String> = input.fields.iter().cloned().collect();
    view::render(&EntityForm {
        chrome: viewer.chrome(heading).with_errors(&errors),
        errors,
        heading: heading.to_owned(),
        action,
        choose_type: false,
        kinds: kind_choices(Some(kind)),
        entity_kind: kind.as_str().to_owned(),
        name: input.name.clone(),
        fields: field_inputs(kind, &values),
        companies: company_choices(app, viewer, Feature::EntityAdministration, &input.companies)
            .await,
        previous: employer_choices(
            app,
            viewer,
            Some(kind),
            input.links.as_deref().unwrap_or(&[]),
            LinkKind::PreviousEmployer,
        )
        .await,
        next: employer_choices(
            app,
            viewer,
            Some(kind),
            input.links.as_deref().unwrap_or(&[]),
            LinkKind::NewEmployer,
        )
        .await,
        editing: editing.is_some(),
        id: editing.map(|e| e.to_string()).unwrap_or_default(),
        banner: String::new(),
    })
}

pub(crate) async fn create_entity(State(app): State<App>, viewer: Signed, body: Bytes) -> Response {
    let form = Fields::parse(&body);
    let Ok(kind) = form.one("type").parse::<EntityKind>() else {
        // Without a type there is nothing to save; whether the form exists for the viewer
        // is still the engine's to say.
        let may = app.services.corterum.may_use(viewer.0.user.id, Feature::EntityAdministration);
        if !may.await.unwrap_or(false) {
            return view::not_found_page(viewer.chrome("Page not found"));
        }
        return Redirect::to("/administration/entities/new").into_response();
    };
    let input = entity_input(&form, Some(kind));
    match app.services.corterum.create_entity(viewer.0.user.id, &input).await {
        Ok(id) => Redirect::to(&format!("/administration/entities/{id}?saved=1")).into_response(),
        Err(e) => {
            let heading = format!("Add a {}", kind.as_str());
            entity_form_again(
                &app,
                &viewer,
                &heading,
                "/administration/entities/new".to_owned(),
                kind,
                &input,
                &e,
                None,
            )
            .await
        }
    }
}

#[derive(Deserialize, Default)]
pub(crate) struct SavedQuery {
    saved: Option<u8>,
}

pub(crate) async fn edit_entity_page(
    State(app): State<App>,
    viewer: Signed,
    Path(id): Path<String>,
    Query(q): Query<SavedQuery>,
) -> Response {
    let chrome = viewer.chrome("Entity");
    let Some(id) = parse(&id, EntityId::from_uuid) else { return view::not_found_page(chrome) };
    if !app
        .services
        .corterum
        .may_use(viewer.0.user.id, Feature::EntityAdministration)
        .await
        .unwrap_or(false)
    {
        return view::not_found_page(chrome);
    }
    let e = match app.services.corterum.entity(viewer.0.user.id, id).await {
        Ok(e) => e,
        Err(err) => return view::refusal(chrome, &err),
    };
    view::render(&EntityForm {
        chrome: viewer.chrome(e.name.as_str()),
        errors: Errors::default(),
        heading: e.name.to_string(),
        action: format!("/administration/entities/{id}"),
        choose_type: false,
        kinds: kind_choices(Some(e.kind)),
        entity_kind: e.kind.as_str().to_owned(),
        name: e.name.to_string(),
        fields: field_inputs(e.kind, &e.fields),
        companies: company_choices(&app, &viewer, Feature::EntityAdministration, &e.companies)
            .await,
        previous: employer_choices(
            &app,
            &viewer,
            Some(e.kind),
            &e.links,
            LinkKind::PreviousEmployer,
        )
        .await,
        next: employer_choices(&app, &viewer, Some(e.kind), &e.links, LinkKind::NewEmployer).await,
        editing: true,
        id: id.to_string(),
        banner: if q.saved.is_some() { "Entity saved".to_owned() } else { String::new() },
    })
}

pub(crate) async fn edit_entity(
    State(app): State<App>,
    viewer: Signed,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let chrome = viewer.chrome("Entity");
    let Some(id) = parse(&id, EntityId::from_uuid) else { return view::not_found_page(chrome) };
    let e = match app.services.corterum.entity(viewer.0.user.id, id).await {
        Ok(e) => e,
        Err(err) => return view::refusal(chrome, &err),
    };
    let form = Fields::parse(&body);
    let input = entity_input(&form, Some(e.kind));
    match app.services.corterum.update_entity(viewer.0.user.id, id, &input).await {
        Ok(()) => Redirect::to(&format!("/administration/entities/{id}?saved=1")).into_response(),
        Err(err) => {
            entity_form_again(
                &app,
                &viewer,
                e.name.as_str(),
                format!("/administration/entities/{id}"),
                e.kind,
                &input,
                &err,
                Some(id),
            )
            .await
        }
    }
}

// ---- Groups ---------------------------------------------------------------------------

pub(crate) struct GroupRow {
    id: String,
    name: String,
    kind: String,
    members: String,
    fixed: bool,
}

#[derive(Template)]
#[template(path = "groups.html")]
struct GroupsPage {
    chrome: Chrome,
    rows: Vec<GroupRow>,
}

pub(crate) async fn groups(State(app): State<App>, viewer: Signed) -> Response {
    let chrome = viewer.chrome("Groups");
    match app.services.corterum.groups(viewer.0.user.id).await {
        Ok(groups) => view::render(&GroupsPage {
            chrome,
            rows: groups
                .into_iter()
                .map(|g| GroupRow {
                    id: g.id.to_string(),
                    name: g.name.to_string(),
                    kind: g.kind.label().to_owned(),
                    members: if g.id == ALL_PEOPLE {
                        "Every person".to_owned()
                    } else {
                        g.members.len().to_string()
                    },
                    fixed: g.id == ALL_PEOPLE,
                })
                .collect(),
        }),
        Err(e) => view::refusal(chrome, &e),
    }
}

#[derive(Template)]
#[template(path = "group_form.html")]
struct GroupForm {
    chrome: Chrome,
    errors: Errors,
    heading: String,
    action: String,
    choose_type: bool,
    kinds: Vec<Choice>,
    entity_kind: String,
    name: String,
    description: String,
    members: Vec<Choice>,
    banner: String,
}

async fn member_choices(
    app: &App,
    viewer: &Signed,
    kind: EntityKind,
    checked: &[EntityId],
) -> Vec<Choice> {
    let query = EntityQuery { search: None, kind: Some(kind) };
    let all = app
        .services
        .corterum
        .entities(viewer.0.user.id, &query, Page::numbered(1, Page::MAX_LIMIT))
        .await
        .unwrap_or_default();
    all.into_iter()
        .map(|e| Choice {
            value: e.id.to_string(),
            label: e.name.to_string(),
            hint: String::new(),
            checked: checked.contains(&e.id),
        })
        .collect()
}

pub(crate) async fn new_group(
    State(app): State<App>,
    viewer: Signed,
    Query(q): Query<TypeQuery>,
) -> Response {
    let chrome = viewer.chrome("Add a group");
    if !app
        .services
        .corterum
        .may_use(viewer.0.user.id, Feature::GroupAdministration)
        .await
        .unwrap_or(false)
    {
        return view::not_found_page(chrome);
    }
    let kind = q.r#type.parse::<EntityKind>().ok();
    let members = match kind {
        Some(k) => member_choices(&app, &viewer, k, &[]).await,
        None => Vec::new(),
    };
    view::render(&GroupForm {
        chrome,
        errors: Errors::default(),
        heading: "Add a group".to_owned(),
        action: "/administration/groups/new".to_owned(),
        choose_type: kind.is_none(),
        kinds: kind_choices(kind),
        entity_kind: kind.map(|k| k.as_str().to_owned()).unwrap_or_default(),
        name: String::new(),
        description: String::new(),
        members,
        banner: String::new(),
    })
}

async fn save_group(app: &App, viewer: &Signed, id: Option<GroupId>, body: &Bytes) -> Response {
    let form = Fields::parse(body);
    let kind = form.one("type").parse::<EntityKind>().ok();
    let input = GroupInput {
        name: form.one("name"),
        description: form.one("description"),
        kind,
        members: form.ids("members", EntityId::from_uuid),
    };
    match app.services.corterum.save_group(viewer.0.user.id, id, &input).await {
        Ok(gid) => Redirect::to(&format!("/administration/groups/{gid}?saved=1")).into_response(),
        Err(ManageError::Invalid(fields)) => {
            let errors = Errors::from_fields(&fields);
            let heading = if id.is_some() { input.name.clone() } else { "Add a group".to_owned() };
            let members = match kind {
                Some(k) => member_choices(app, viewer, k, &input.members).await,
                None => Vec::new(),
            };
            view::render(&GroupForm {
                chrome: viewer.chrome(&heading).with_errors(&errors),
                errors,
                heading,
                action: id.map_or_else(
                    || "/administration/groups/new".to_owned(),
                    |g| format!("/administration/groups/{g}"),
                ),
                choose_type: false,
                kinds: kind_choices(kind),
                entity_kind: kind.map(|k| k.as_str().to_owned()).unwrap_or_default(),
                name: input.name,
                description: input.description,
                members,
                banner: String::new(),
            })
        }
        Err(e) => view::refusal(viewer.chrome("Group"), &e),
    }
}

pub(crate) async fn create_group(State(app): State<App>, viewer: Signed, body: Bytes) -> Response {
    save_group(&app, &viewer, None, &body).await
}

pub(crate) async fn edit_group_page(
    State(app): State<App>,
    viewer: Signed,
    Path(id): Path<String>,
    Query(q): Query<SavedQuery>,
) -> Response {
    let chrome = viewer.chrome("Group");
    let Some(id) = parse(&id, GroupId::from_uuid) else { return view::not_found_page(chrome) };
    let groups = match app.services.corterum.groups(viewer.0.user.id).await {
        Ok(g) => g,
        Err(e) => return view::refusal(chrome, &e),
    };
    let Some(g) = groups.into_iter().find(|g| g.id == id && g.id != ALL_PEOPLE) else {
        return view::not_found_page(chrome);
    };
    let members = member_choices(&app, &viewer, g.kind, &g.members).await;
    view::render(&GroupForm {
        chrome: viewer.chrome(g.name.as_str()),
        errors: Errors::default(),
        heading: g.name.to_string(),
        action: format!("/administration/groups/{id}"),
        choose_type: false,
        kinds: kind_choices(Some(g.kind)),
        entity_kind: g.kind.as_str().to_owned(),
        name: g.name.to_string(),
        description: g.description,
        members,
        banner: if q.saved.is_some() { "Group saved".to_owned() } else { String::new() },
    })
}

pub(crate) async fn edit_group(
    State(app): State<App>,
    viewer: Signed,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let Some(id) = parse(&id, GroupId::from_uuid) else {
        return view::not_found_page(viewer.chrome("Group"));
    };
    save_group(&app, &viewer, Some(id), &body).await
}

// ---- Roles ----------------------------------------------------------------------------

pub(crate) struct RoleRow {
    id: String,
    name: String,
    description: String,
    builtin: bool,
}

#[derive(Template)]
#[template(path = "roles.html")]
struct RolesPage {
    chrome: Chrome,
    rows: Vec<RoleRow>,
}

pub(crate) async fn roles(State(app): State<App>, viewer: Signed) -> Response {
    let chrome = viewer.chrome("Roles");
    if !app
        .services
        .corterum
        .may_use(viewer.0.user.id, Feature::RolesAdministration)
        .await
        .unwrap_or(false)
    {
        return view::not_found_page(chrome);
    }
    match app.services.corterum.roles(viewer.0.user.id).await {
        Ok(roles) => view::render(&RolesPage {
            chrome,
            rows: roles
                .into_iter()
                .map(|r| RoleRow {
                    id: r.id.to_string(),
                    builtin: r.built_in,
                    name: r.name,
                    description: r.description,
                })
                .collect(),
        }),
        Err(e) => view::refusal(chrome, &e),
    }
}

pub(crate) struct DatasetChoice {
    id: String,
    name: String,
    read: bool,
    edit: bool,
    create: bool,
}

#[derive(Template)]
#[template(path = "role_form.html")]
struct RoleFormPage {
    chrome: Chrome,
    errors: Errors,
    heading: String,
    action: String,
    read_only: bool,
    name: String,
    description: String,
    groups: Vec<Choice>,
    features: Vec<Choice>,
    datasets: Vec<DatasetChoice>,
    banner: String,
}

#[allow(clippy::too_many_arguments, reason = "a form page takes what it shows")]
async fn role_page(
    app: &App,
    viewer: &Signed,
    heading: String,
    action: String,
    form: &RoleForm,
    errors: Errors,
    read_only: bool,
    banner: String,
) -> Response {
    let all_groups = app.services.corterum.groups(viewer.0.user.id).await.unwrap_or_default();
    let datasets = app.services.corterum.datasets().await.unwrap_or_default();
    view::render(&RoleFormPage {
        chrome: viewer.chrome(&heading).with_errors(&errors),
        errors,
        heading,
        action,
        read_only,
        name: form.name.clone(),
        description: form.description.clone(),
        groups: all_groups
            .into_iter()
            .map(|g| Choice {
                value: g.id.to_string(),
                hint: g.description.clone(),
                label: g.name.to_string(),
                checked: form.groups.contains(&g.id),
            })
            .collect(),
        features: Feature::ALL
            .iter()
            .map(|f| Choice {
                value: f.as_str().to_owned(),
                label: f.label().to_owned(),
                hint: String::new(),
                checked: form.features.contains(*f),
            })
            .collect(),
        datasets: datasets
            .into_iter()
            .map(|d| {
                let p = form.datasets.get(&d.id).copied().unwrap_or_default();
                DatasetChoice {
                    id: d.id.to_string(),
                    name: d.name.to_string(),
                    read: p.read,
                    edit: p.edit,
                    create: p.create,
                }
            })
            .collect(),
        banner,
    })
}

pub(crate) async fn new_role(State(app): State<App>, viewer: Signed) -> Response {
    if !app
        .services
        .corterum
        .may_use(viewer.0.user.id, Feature::RolesAdministration)
        .await
        .unwrap_or(false)
    {
        return view::not_found_page(viewer.chrome("Add a role"));
    }
    role_page(
        &app,
        &viewer,
        "Add a role".to_owned(),
        "/administration/roles/new".to_owned(),
        &RoleForm::default(),
        Errors::default(),
        false,
        String::new(),
    )
    .await
}

fn role_form(form: &Fields, datasets: &[DatasetId]) -> RoleForm {
    let mut out = RoleForm {
        name: form.one("name"),
        description: form.one("description"),
        groups: form.ids("groups", GroupId::from_uuid),
        features: form.all("features").iter().filter_map(|f| f.parse::<Feature>().ok()).collect(),
        datasets: BTreeMap::new(),
    };
    let select_all = form.has("select_all");
    for d in datasets {
        let key = |p: &str| format!("{p}_{d}");
        let p = DatasetPermissions {
            read: select_all || form.has(&key("read")),
            edit: !select_all && form.has(&key("edit")),
            create: !select_all && form.has(&key("create")),
        };
        if !p.is_none() {
            out.datasets.insert(*d, p);
        }
    }
    out
}

async fn save_role(app: &App, viewer: &Signed, id: Option<RoleId>, body: &Bytes) -> Response {
    let form = Fields::parse(body);
    let datasets: Vec<DatasetId> =
        app.services.corterum.datasets().await.unwrap_or_default().iter().map(|d| d.id).collect();
    let role = role_form(&form, &datasets);
    let heading = if id.is_some() { role.name.clone() } else { "Add a role".to_owned() };
    let action = id.map_or_else(
        || "/administration/roles/new".to_owned(),
        |r| format!("/administration/roles/{r}"),
    );
    // "Select all" ticks every dataset (read) and shows the form again to untick some.
    if form.has("select_all") {
        return role_page(
            app,
            viewer,
            heading,
            action,
            &role,
            Errors::default(),
            false,
            String::new(),
        )
        .await;
    }
    match app.services.corterum.save_role(viewer.0.user.id, id, role.clone()).await {
        Ok(rid) => Redirect::to(&format!("/administration/roles/{rid}?saved=1")).into_response(),
        Err(ManageError::Invalid(fields)) => {
            role_page(
                app,
                viewer,
                heading,
                action,
                &role,
                Errors::from_fields(&fields),
                false,
                String::new(),
            )
            .await
        }
        Err(e) => view::refusal(viewer.chrome("Role"), &e),
    }
}

pub(crate) async fn create_role(State(app): State<App>, viewer: Signed, body: Bytes) -> Response {
    save_role(&app, &viewer, None, &body).await
}

pub(crate) async fn edit_role_page(
    State(app): State<App>,
    viewer: Signed,
    Path(id): Path<String>,
    Query(q): Query<SavedQuery>,
) -> Response {
    let chrome = viewer.chrome("Role");
    let Some(id) = parse(&id, RoleId::from_uuid) else { return view::not_found_page(chrome) };
    if !app
        .services
        .corterum
        .may_use(viewer.0.user.id, Feature::RolesAdministration)
        .await
        .unwrap_or(false)
    {
        return view::not_found_page(chrome);
    }
    let roles = match app.services.corterum.roles(viewer.0.user.id).await {
        Ok(r) => r,
        Err(e) => return view::refusal(chrome, &e),
    };
    let Some(role) = roles.into_iter().find(|r| r.id == id) else {
        return view::not_found_page(chrome);
    };
    let builtin = role.built_in;
    role_page(
        &app,
        &viewer,
        role.name.clone(),
        format!("/administration/roles/{id}"),
        &RoleForm::from_role(&role),
        Errors::default(),
        builtin,
        if q.saved.is_some() { "Role saved".to_owned() } else { String::new() },
    )
    .await
}

pub(crate) async fn edit_role(
    State(app): State<App>,
    viewer: Signed,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let Some(id) = parse(&id, RoleId::from_uuid) else {
        return view::not_found_page(viewer.chrome("Role"));
    };
    save_role(&app, &viewer, Some(id), &body).await
}

// ---- User accounts --------------------------------------------------------------------

pub(crate) struct AccountRow {
    id: String,
    username: String,
    email: String,
    active: bool,
}

#[derive(Template)]
#[template(path = "accounts.html")]
struct AccountsPage {
    chrome: Chrome,
    rows: Vec<AccountRow>,
    banner: String,
}

pub(crate) async fn accounts(
    State(app): State<App>,
    viewer: Signed,
    Query(q): Query<SavedQuery>,
) -> Response {
    let chrome = viewer.chrome("User accounts");
    match app.services.corterum.accounts(viewer.0.user.id, Page::numbered(1, Page::MAX_LIMIT)).await
    {
        Ok(rows) => view::render(&AccountsPage {
            chrome,
            rows: rows
                .into_iter()
                .map(|(username, u)| AccountRow {
                    id: u.id.to_string(),
                    username,
                    email: u.email.to_string(),
                    active: u.active,
                })
                .collect(),
            banner: if q.saved.is_some() {
                "User account saved; an invitation to set a password was sent".to_owned()
            } else {
                String::new()
            },
        }),
        Err(e) => view::refusal(chrome, &e),
    }
}

#[derive(Template)]
#[template(path = "account_form.html")]
struct AccountForm {
    chrome: Chrome,
    errors: Errors,
    heading: String,
    action: String,
    editing: bool,
    username: String,
    email: String,
    entities: Vec<Choice>,
    roles: Vec<Choice>,
    companies: Vec<Choice>,
    /// The user's version the form was made from, written against (editing only).
    version: i64,
    banner: String,
}

#[allow(clippy::too_many_arguments, reason = "a form page takes what it shows")]
async fn account_page(
    app: &App,
    viewer: &Signed,
    heading: String,
    action: String,
    editing: Option<i64>,
    input: &AccountInput,
    errors: Errors,
    banner: String,
) -> Response {
    let (editing, version) = (editing.is_some(), editing.unwrap_or_default());
    let me = viewer.0.user.id;
    let people = app
        .services
        .corterum
        .entities(
            me,
            &EntityQuery { search: None, kind: Some(EntityKind::Person) },
            Page::numbered(1, Page::MAX_LIMIT),
        )
        .await
        .unwrap_or_default();
    let mut entities = vec![Choice {
        value: String::new(),
        label: "None".to_owned(),
        hint: String::new(),
        checked: input.entity.is_none(),
    }];
    entities.extend(people.into_iter().map(|e: Entity| Choice {
        value: e.id.to_string(),
        label: e.name.to_string(),
        hint: String::new(),
        checked: input.entity == Some(e.id),
    }));
    let roles = app.services.corterum.roles(me).await.unwrap_or_default();
    view::render(&AccountForm {
        chrome: viewer.chrome(&heading).with_errors(&errors),
        errors,
        heading,
        action,
        editing,
        username: input.username.clone(),
        email: input.email.clone(),
        entities,
        roles: roles
            .into_iter()
            .map(|r| Choice {
                value: r.id.to_string(),
                checked: input.roles.contains(&r.id),
                hint: r.description,
                label: r.name,
            })
            .collect(),
        companies: company_choices(app, viewer, Feature::UserAdministration, &input.companies)
            .await,
        version,
        banner,
    })
}

fn account_input(form: &Fields) -> AccountInput {
    AccountInput {
        username: form.one("username"),
        email: form.one("email"),
        entity: parse(&form.one("entity"), EntityId::from_uuid),
        roles: form.ids("roles", RoleId::from_uuid),
        companies: form.ids("companies", OrgId::from_uuid),
    }
}

pub(crate) async fn new_account(State(app): State<App>, viewer: Signed) -> Response {
    if !app
        .services
        .corterum
        .may_use(viewer.0.user.id, Feature::UserAdministration)
        .await
        .unwrap_or(false)
    {
        return view::not_found_page(viewer.chrome("Add a user"));
    }
    let input = AccountInput {
        companies: viewer.0.world.user_companies(viewer.0.user.id),
        ..AccountInput::default()
    };
    account_page(
        &app,
        &viewer,
        "Add a user".to_owned(),
        "/administration/users/new".to_owned(),
        None,
        &input,
        Errors::default(),
        String::new(),
    )
    .await
}

pub(crate) async fn create_account(
    State(app): State<App>,
    viewer: Signed,
    body: Bytes,
) -> Response {
    let input = account_input(&Fields::parse(&body));
    match app.services.manage.create_account(&app.services.corterum, viewer.0.user.id, &input).await
    {
        Ok(_) => Redirect::to("/administration/users?saved=1").into_response(),
        Err(ManageError::Invalid(fields)) => {
            account_page(
                &app,
                &viewer,
                "Add a user".to_owned(),
                "/administration/users/new".to_owned(),
                None,
                &input,
                Errors::from_fields(&fields),
                String::new(),
            )
            .await
        }
        Err(ManageError::EmailInUse) => {
            let errors =
                Errors::one("email", "This email address is already used by another account");
            account_page(
                &app,
                &viewer,
                "Add a user".to_owned(),
                "/administration/users/new".to_owned(),
                None,
                &input,
                errors,
                String::new(),
            )
            .await
        }
        Err(e) => view::refusal(viewer.chrome("Add a user"), &e),
    }
}

pub(crate) async fn edit_account_page(
    State(app): State<App>,
    viewer: Signed,
    Path(id): Path<String>,
    Query(q): Query<SavedQuery>,
) -> Response {
    let chrome = viewer.chrome("User account");
    let Some(id) = parse(&id, UserId::from_uuid) else { return view::not_found_page(chrome) };
    let account = match app.services.corterum.account(viewer.0.user.id, id).await {
        Ok(a) => a,
        Err(e) => return view::refusal(chrome, &e),
    };
    let input = AccountInput {
        username: account.username.clone(),
        email: account.user.value.email.to_string(),
        entity: account.links.entity,
        roles: account.user.value.roles,
        companies: account.links.companies,
    };
    let banner = if q.saved.is_some() { "User account saved".to_owned() } else { String::new() };
    account_page(
        &app,
        &viewer,
        account.username,
        format!("/administration/users/{id}"),
        Some(account.user.version),
        &input,
        Errors::default(),
        banner,
    )
    .await
}

pub(crate) async fn edit_account(
    State(app): State<App>,
    viewer: Signed,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let chrome = viewer.chrome("User account");
    let Some(id) = parse(&id, UserId::from_uuid) else { return view::not_found_page(chrome) };
    let account = match app.services.corterum.account(viewer.0.user.id, id).await {
        Ok(a) => a,
        Err(e) => return view::refusal(chrome, &e),
    };
    let form = Fields::parse(&body);
    // The version the form showed: a form from before someone else's save conflicts.
    let Ok(version) = form.one("version").parse::<i64>() else {
        return view::refusal(chrome, &ManageError::Conflict);
    };
    let mut input = account_input(&form);
    input.username = account.username.clone();
    input.email = account.user.value.email.to_string();
    match app.services.corterum.update_account(viewer.0.user.id, id, version, &input).await {
        Ok(()) => Redirect::to(&format!("/administration/users/{id}?saved=1")).into_response(),
        Err(ManageError::Invalid(fields)) => {
            account_page(
                &app,
                &viewer,
                account.username,
                format!("/administration/users/{id}"),
                Some(version),
                &input,
                Errors::from_fields(&fields),
                String::new(),
            )
            .await
        }
        Err(e) => view::refusal(chrome, &e),
    }
}

// ---- Records: an entity's datasets, and an instance with its history -----------------

#[derive(Template)]
#[template(path = "record.html")]
struct RecordPage {
    chrome: Chrome,
    id: String,
    name: String,
    kind: String,
    fields: Vec<(String, String)>,
    links: Vec<(String, String)>,
    datasets: Vec<(String, String)>,
}

pub(crate) async fn record(
    State(app): State<App>,
    viewer: Signed,
    Path(id): Path<String>,
) -> Response {
    let chrome = viewer.chrome("Record");
    let Some(id) = parse(&id, EntityId::from_uuid) else { return view::not_found_page(chrome) };
    let me = viewer.0.user.id;
    let e = match app.services.corterum.entity(me, id).await {
        Ok(e) => e,
        Err(err) => return view::refusal(chrome, &err),
    };
    let datasets = match app.services.corterum.readable_datasets(me, id).await {
        Ok(all) => all.into_iter().map(|d| (d.key, d.name.to_string())).collect(),
        Err(err) => return view::refusal(viewer.chrome("Record"), &err),
    };
    let labels = e.kind.fields();
    let mut links = Vec::new();
    for l in &e.links {
        if let Ok(other) = app.services.corterum.entity(me, l.to).await {
            links.push((l.kind.label().to_owned(), other.name.to_string()));
        }
    }
    view::render(&RecordPage {
        chrome: viewer.chrome(e.name.as_str()),
        id: id.to_string(),
        name: e.name.to_string(),
        kind: e.kind.label().to_owned(),
        fields: labels
            .iter()
            .filter_map(|(k, l)| e.fields.get(*k).map(|v| ((*l).to_owned(), v.clone())))
            .collect(),
        datasets,
        links,
    })
}

#[derive(Deserialize, Default)]
pub(crate) struct AsOfQuery {
    #[serde(default)]
    as_of: String,
    version: Option<u32>,
    saved: Option<u8>,
}

pub(crate) struct VersionRow {
    number: u32,
    at: String,
    by: String,
    changed: String,
    shown: bool,
}

#[derive(Template)]
#[template(path = "instance.html")]
struct InstancePage {
    chrome: Chrome,
    errors: Errors,
    entity_id: String,
    entity: String,
    dataset_key: String,
    dataset: String,
    table: bool,
    /// The heading over the content: which version, or none yet.
    showing: String,
    latest_shown: bool,
    fields: Vec<FieldInput>,
    columns: Vec<String>,
    rows: Vec<Vec<String>>,
    versions: Vec<VersionRow>,
    as_of: String,
    may_save: bool,
    based_on: u32,
    banner: String,
}

fn parse_as_of(s: &str) -> Option<Moment> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    let dt = s.parse::<jiff::civil::DateTime>().ok()?;
    let tz = jiff::tz::TimeZone::get("Europe/London").unwrap_or(jiff::tz::TimeZone::UTC);
    let z = dt.to_zoned(tz).ok()?;
    Some(Moment(z.timestamp().as_millisecond()))
}

#[allow(clippy::too_many_arguments, reason = "a page takes what it shows")]
async fn instance_page(
    app: &App,
    viewer: &Signed,
    entity: EntityId,
    key: &str,
    at: AsOf,
    as_of: String,
    errors: Errors,
    banner: String,
) -> Response {
    let chrome = viewer.chrome("Record");
    let me = viewer.0.user.id;
    let datasets = app.services.corterum.datasets().await.unwrap_or_default();
    let Some(d) = datasets.iter().find(|d| d.key == key) else {
        return view::not_found_page(chrome);
    };
    let v = match app.services.corterum.instance(me, d.id, entity, at).await {
        Ok(v) => v,
        Err(e) => return view::refusal(chrome, &e),
    };
    let mut people: Vec<UserId> = v.history.versions().iter().filter_map(|x| x.by).collect();
    people.sort_unstable();
    people.dedup();
    let names = app.services.directory.names(&people, &[]).await.unwrap_or_default();
    let shown = v.shown.and_then(|n| v.history.at_version(n));
    let content = shown.map_or_else(|| Content::empty(d.kind), |x| x.content.clone());
    let latest = v.history.latest_number();
    let (fields, columns, rows) = match &content {
        Content::Form(r) => (
            d.fields
                .iter()
                .map(|(k, l)| FieldInput {
                    key: k.clone(),
                    label: l.clone(),
                    value: r.get(k).cloned().unwrap_or_default(),
                })
                .collect(),
            Vec::new(),
            Vec::new(),
        ),
        Content::Table(rs) => (
            d.fields
                .iter()
                .map(|(k, l)| FieldInput { key: k.clone(), label: l.clone(), value: String::new() })
                .collect(),
            d.fields.iter().map(|(_, l)| l.clone()).collect(),
            rs.iter()
                .map(|r| {
                    d.fields.iter().map(|(k, _)| r.get(k).cloned().unwrap_or_default()).collect()
                })
                .collect(),
        ),
    };
    let showing = match shown {
        Some(x) if x.number == latest => format!("Current version ({} of {latest})", x.number),
        Some(x) => format!("Version {} of {latest}, as saved {}", x.number, view::when(x.at.0)),
        None if latest == 0 => "Nothing has been recorded yet".to_owned(),
        None => "Nothing had been recorded by then".to_owned(),
    };
    let versions = v
        .history
        .versions()
        .iter()
        .rev()
        .map(|x| VersionRow {
            number: x.number,
            at: view::when(x.at.0),
            by: x.by.map_or_else(
                || "An import".to_owned(),
                |u| {
                    names
                        .users
                        .get(&u)
                        .map_or_else(|| "A deleted user".to_owned(), ToString::to_string)
                },
            ),
            changed: v
                .history
                .changes(x.number)
                .iter()
                .map(|c| c.place.replace('_', " "))
                .collect::<Vec<_>>()
                .join(", "),
            shown: Some(x.number) == v.shown,
        })
        .collect();
    view::render(&InstancePage {
        chrome: viewer.chrome(&format!("{} for {}", d.name, v.entity.name)).with_errors(&errors),
        errors,
        entity_id: entity.to_string(),
        entity: v.entity.name.to_string(),
        dataset_key: d.key.clone(),
        dataset: d.name.to_string(),
        table: d.kind == DatasetKind::Table,
        showing,
        latest_shown: v.shown == Some(latest) || latest == 0,
        fields,
        columns,
        rows,
        versions,
        as_of,
        may_save: v.may_save,
        based_on: latest,
        banner,
    })
}

pub(crate) async fn instance(
    State(app): State<App>,
    viewer: Signed,
    Path((id, key)): Path<(String, String)>,
    Query(q): Query<AsOfQuery>,
) -> Response {
    let Some(id) = parse(&id, EntityId::from_uuid) else {
        return view::not_found_page(viewer.chrome("Record"));
    };
    let (at, errors) = match (q.version, q.as_of.trim()) {
        (Some(n), _) => (AsOf::Version(n), Errors::default()),
        (None, "") => (AsOf::Latest, Errors::default()),
        (None, text) => match parse_as_of(text) {
            Some(m) => (AsOf::Moment(m), Errors::default()),
            None => (
                AsOf::Latest,
                Errors::one("as_of", "Enter a date and time, like 22 November 2026 at 14:30"),
            ),
        },
    };
    let banner = if q.saved.is_some() { "New version saved".to_owned() } else { String::new() };
    instance_page(&app, &viewer, id, &key, at, q.as_of.clone(), errors, banner).await
}

pub(crate) async fn save_instance(
    State(app): State<App>,
    viewer: Signed,
    Path((id, key)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let Some(id) = parse(&id, EntityId::from_uuid) else {
        return view::not_found_page(viewer.chrome("Record"));
    };
    let me = viewer.0.user.id;
    let form = Fields::parse(&body);
    let datasets = app.services.corterum.datasets().await.unwrap_or_default();
    let Some(d) = datasets.iter().find(|d| d.key == key) else {
        return view::not_found_page(viewer.chrome("Record"));
    };
    let based_on: u32 = form.one("based_on").parse().unwrap_or(0);
    let record: BTreeMap<String, String> = d
        .fields
        .iter()
        .filter_map(|(k, _)| {
            let v = form.one(&format!("field_{k}")).trim().to_owned();
            (!v.is_empty()).then(|| (k.clone(), v))
        })
        .collect();
    let content = match d.kind {
        DatasetKind::Form => Content::Form(record),
        DatasetKind::Table => {
            // A table gains the row typed in, below the rows it has.
            let current = app.services.corterum.instance(me, d.id, id, AsOf::Latest).await;
            let mut rows = match current.as_ref().ok().and_then(|v| v.history.latest()) {
                Some(v) => match &v.content {
                    Content::Table(r) => r.clone(),
                    Content::Form(_) => Vec::new(),
                },
                None => Vec::new(),
            };
            if !record.is_empty() {
                rows.push(record);
            }
            Content::Table(rows)
        }
    };
    match app.services.corterum.save_instance(me, d.id, id, based_on, content).await {
        Ok(_) => Redirect::to(&format!("/records/{id}/{key}?saved=1")).into_response(),
        Err(ManageError::Invalid(fields)) => {
            let errors = Errors::from_fields(&fields);
            instance_page(
                &app,
                &viewer,
                id,
                &key,
                AsOf::Latest,
                String::new(),
                errors,
                String::new(),
            )
            .await
        }
        Err(e) => view::refusal(viewer.chrome("Record"), &e),
    }
}
