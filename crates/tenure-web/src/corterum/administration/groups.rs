//! Groups of entities: the list, the "+" form (the members' type first) and the edit
//! form. "All People" is built in: listed, never edited.

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use tenure_core::query::Search;
use tenure_core::{GroupInput, GroupQuery, Page};
use tenure_domain::{ALL_PEOPLE, EntityId, EntityKind, Feature, GroupId};

use crate::App;
use crate::corterum::administration::listing::Pager;
use crate::corterum::administration::{SavedQuery, TypeQuery, entity_choices};
use crate::corterum::{kind_choices, require};
use crate::form::{self, Choice, Form, FormPage, PageNumber, Path, Query};
use crate::security::Signed;
use crate::view::{self, Chrome, Errors, OrPage, PageError};

const NEW: &str = "/administration/groups/new";

pub(crate) struct GroupRow {
    id: String,
    name: String,
    kind: String,
    description: String,
    members: String,
    fixed: bool,
}

#[derive(Template)]
#[template(path = "groups.html")]
struct GroupsPage {
    chrome: Chrome,
    q: String,
    kinds: Vec<Choice>,
    rows: Vec<GroupRow>,
    pager: Pager,
}

/// `GET /administration/groups`: the search, the type and the page.
#[derive(Deserialize, Default)]
pub(crate) struct GroupListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    r#type: String,
    #[serde(default)]
    page: PageNumber,
}

/// What the group form sends.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct GroupBody {
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    members: Vec<String>,
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

/// The group form as it is shown.
struct GroupPage {
    heading: String,
    action: String,
    /// The members' type is still to choose (the first step of "+").
    choose_type: bool,
    input: GroupInput,
    banner: String,
}

impl GroupPage {
    /// The form for group `id` (a new one when `None`) with these values.
    fn new(id: Option<GroupId>, heading: String, input: GroupInput) -> Self {
        Self {
            heading,
            action: id.map_or_else(|| NEW.to_owned(), |g| format!("/administration/groups/{g}")),
            choose_type: false,
            input,
            banner: String::new(),
        }
    }
}

impl FormPage for GroupPage {
    async fn show(
        &self,
        app: &App,
        viewer: &Signed,
        errors: Errors,
    ) -> Result<Response, PageError> {
        let kind = self.input.kind;
        let chrome = viewer.chrome(&self.heading);
        let members = match kind {
            Some(k) => {
                entity_choices(app, viewer, k, &self.input.members).await.or_page(&chrome)?
            }
            None => Vec::new(),
        };
        Ok(view::render(&GroupForm {
            chrome: chrome.with_errors(&errors),
            errors,
            heading: self.heading.clone(),
            action: self.action.clone(),
            choose_type: self.choose_type,
            kinds: kind_choices(kind),
            entity_kind: kind.map(|k| k.as_str().to_owned()).unwrap_or_default(),
            name: self.input.name.clone(),
            description: self.input.description.clone(),
            members,
            banner: self.banner.clone(),
        }))
    }
}

/// The list, "All People" first: searched by name, filtered by type, 20 a page, each
/// with its description and how many of its members are of the viewer's companies.
pub(crate) async fn list(
    State(app): State<App>,
    viewer: Signed,
    Query(q): Query<GroupListQuery>,
) -> Result<Response, PageError> {
    let chrome = viewer.chrome("Groups");
    let kind = q.r#type.parse::<EntityKind>().ok();
    let query = GroupQuery { search: Search::parse(&q.q), kind };
    let number = q.page.get().unwrap_or(1);
    let page = Page::numbered(number, Page::SCREEN);
    let me = viewer.0.user.id;
    let listed = app.services.corterum.group_list(me, &query, page).await.or_page(&chrome)?;
    let params = [("q", q.q.as_str()), ("type", &q.r#type)];
    let pager = Pager::new(
        "/administration/groups",
        &params,
        number,
        listed.items.len(),
        listed.total,
        "groups",
    );
    Ok(view::render(&GroupsPage {
        chrome,
        q: q.q.clone(),
        kinds: kind_choices(kind),
        pager,
        rows: listed
            .items
            .into_iter()
            .map(|(g, count)| GroupRow {
                id: g.id.to_string(),
                name: g.name.to_string(),
                kind: g.kind.label().to_owned(),
                description: g.description,
                members: if g.id == ALL_PEOPLE {
                    format!("Every person ({count})")
                } else {
                    count.to_string()
                },
                fixed: g.id == ALL_PEOPLE,
            })
            .collect(),
    }))
}

/// "+": the members' type first, then the form.
pub(crate) async fn new_page(
    State(app): State<App>,
    viewer: Signed,
    Query(q): Query<TypeQuery>,
) -> Result<Response, PageError> {
    let heading = "Add a group";
    require(&app, &viewer, Feature::GroupAdministration, &viewer.chrome(heading)).await?;
    let kind = q.r#type.parse::<EntityKind>().ok();
    let mut page =
        GroupPage::new(None, heading.to_owned(), GroupInput { kind, ..GroupInput::default() });
    page.choose_type = kind.is_none();
    page.show(&app, &viewer, Errors::default()).await
}

/// Saves a new group.
pub(crate) async fn create(
    State(app): State<App>,
    viewer: Signed,
    Form(body): Form<GroupBody>,
) -> Result<Response, PageError> {
    save(&app, &viewer, None, body).await
}

/// The edit form.
pub(crate) async fn edit_page(
    State(app): State<App>,
    viewer: Signed,
    Path(id): Path<String>,
    Query(q): Query<SavedQuery>,
) -> Result<Response, PageError> {
    let chrome = viewer.chrome("Group");
    let id = form::id(&id, GroupId::from_uuid).or_page(&chrome)?;
    let groups = app.services.corterum.groups(viewer.0.user.id).await.or_page(&chrome)?;
    let g = groups.into_iter().find(|g| g.id == id && g.id != ALL_PEOPLE).or_page(&chrome)?;
    let input = GroupInput {
        name: g.name.to_string(),
        description: g.description,
        kind: Some(g.kind),
        members: g.members,
    };
    let mut page = GroupPage::new(Some(id), g.name.to_string(), input);
    page.banner = q.banner("Group saved");
    page.show(&app, &viewer, Errors::default()).await
}

/// Saves a group's changes.
pub(crate) async fn edit(
    State(app): State<App>,
    viewer: Signed,
    Path(id): Path<String>,
    Form(body): Form<GroupBody>,
) -> Result<Response, PageError> {
    let id = form::id(&id, GroupId::from_uuid).or_page(&viewer.chrome("Group"))?;
    save(&app, &viewer, Some(id), body).await
}

async fn save(
    app: &App,
    viewer: &Signed,
    id: Option<GroupId>,
    body: GroupBody,
) -> Result<Response, PageError> {
    let input = GroupInput {
        kind: body.kind.parse::<EntityKind>().ok(),
        members: form::ids(&body.members, EntityId::from_uuid),
        name: body.name,
        description: body.description,
    };
    let saved = app.services.corterum.save_group(viewer.0.user.id, id, &input).await;
    let heading = if id.is_some() { input.name.clone() } else { "Add a group".to_owned() };
    let page = GroupPage::new(id, heading, input);
    form::submit(app, viewer, &page, &viewer.chrome("Group"), saved, |gid| {
        format!("/administration/groups/{gid}?saved=1")
    })
    .await
}
