//! Groups of entities: the list, the "+" form (the members' type first) and the edit
//! form. "All People" is built in: listed, never edited.

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use tenure_core::GroupInput;
use tenure_domain::{ALL_PEOPLE, EntityId, EntityKind, Feature, GroupId};

use crate::App;
use crate::corterum::administration::{SavedQuery, TypeQuery, entity_choices};
use crate::corterum::{kind_choices, require};
use crate::form::{self, Choice, Form, FormPage, Path, Query};
use crate::security::Signed;
use crate::view::{self, Chrome, Errors, OrPage, PageError};

const NEW: &str = "/administration/groups/new";

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
        let members = match kind {
            Some(k) => entity_choices(app, viewer, k, &self.input.members).await,
            None => Vec::new(),
        };
        Ok(view::render(&GroupForm {
            chrome: viewer.chrome(&self.heading).with_errors(&errors),
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

/// The list, "All People" first.
pub(crate) async fn list(State(app): State<App>, viewer: Signed) -> Result<Response, PageError> {
    let chrome = viewer.chrome("Groups");
    let groups = app.services.corterum.groups(viewer.0.user.id).await.or_page(&chrome)?;
    Ok(view::render(&GroupsPage {
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
