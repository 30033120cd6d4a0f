//! Entities: the list, the "+" form (the type first, then the form for that type) and
//! the edit form, with the companies and, for a person, the employers linked on it.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tenure_core::EntityInput;
use tenure_domain::entity::{EntityLink, LinkKind};
use tenure_domain::{EntityId, EntityKind, Feature, OrgId};

use crate::App;
use crate::corterum::administration::{SavedQuery, TypeQuery, company_choices, one_entity_choices};
use crate::corterum::records::{self, EntityListQuery, Listing};
use crate::corterum::{FieldInput, kind_choices, require};
use crate::form::{self, Choice, Form, FormPage, Named, Path, Query};
use crate::security::Signed;
use crate::view::{self, Chrome, Errors, OrPage, PageError};

const NEW: &str = "/administration/entities/new";

/// What the entity form sends.
#[derive(Deserialize)]
pub(crate) struct EntityBody {
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    companies: Vec<String>,
    #[serde(default)]
    previous_employer: String,
    #[serde(default)]
    new_employer: String,
    /// `field_<key>` for each of the type's fields.
    #[serde(flatten)]
    named: Named,
}

impl EntityBody {
    /// The input for an entity of this type.
    fn input(&self, kind: EntityKind) -> EntityInput {
        let fields = kind
            .fields()
            .iter()
            .map(|(f, _)| ((*f).to_owned(), self.named.one(&format!("field_{f}")).to_owned()))
            .collect();
        let mut links = Vec::new();
        if kind == EntityKind::Person {
            for (value, which) in [
                (&self.previous_employer, LinkKind::PreviousEmployer),
                (&self.new_employer, LinkKind::NewEmployer),
            ] {
                if let Some(to) = form::id(value, EntityId::from_uuid) {
                    links.push(EntityLink { kind: which, to });
                }
            }
        }
        EntityInput {
            links: Some(links),
            kind: Some(kind),
            name: self.name.clone(),
            fields,
            companies: form::ids(&self.companies, OrgId::from_uuid),
        }
    }
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

/// The entity form as it is shown: a new entity (its type still to choose, or chosen)
/// or one being edited.
struct EntityPage {
    title: String,
    heading: String,
    action: String,
    /// `None` while the type is still to choose.
    kind: Option<EntityKind>,
    input: EntityInput,
    editing: Option<EntityId>,
    banner: String,
}

impl EntityPage {
    /// The form for a new entity of a type ("Add a person"), shown again after a refusal.
    fn new_of_kind(kind: EntityKind, input: EntityInput) -> Self {
        let heading = format!("Add a {}", kind.as_str());
        Self {
            title: heading.clone(),
            heading,
            action: NEW.to_owned(),
            kind: Some(kind),
            input,
            editing: None,
            banner: String::new(),
        }
    }

    /// The form for an entity being edited, named `name`.
    fn editing(id: EntityId, name: &str, kind: EntityKind, input: EntityInput) -> Self {
        Self {
            title: name.to_owned(),
            heading: name.to_owned(),
            action: format!("/administration/entities/{id}"),
            kind: Some(kind),
            input,
            editing: Some(id),
            banner: String::new(),
        }
    }
}

impl FormPage for EntityPage {
    async fn show(
        &self,
        app: &App,
        viewer: &Signed,
        errors: Errors,
    ) -> Result<Response, PageError> {
        let values: BTreeMap<String, String> = self.input.fields.iter().cloned().collect();
        let links = self.input.links.as_deref().unwrap_or(&[]);
        let companies = &self.input.companies;
        Ok(view::render(&EntityForm {
            chrome: viewer.chrome(&self.title).with_errors(&errors),
            errors,
            heading: self.heading.clone(),
            action: self.action.clone(),
            choose_type: self.kind.is_none(),
            kinds: kind_choices(self.kind),
            entity_kind: self.kind.map(|k| k.as_str().to_owned()).unwrap_or_default(),
            name: self.input.name.clone(),
            fields: self.kind.map(|k| FieldInput::of_kind(k, &values)).unwrap_or_default(),
            companies: company_choices(app, viewer, Feature::EntityAdministration, companies).await,
            previous: employer_choices(app, viewer, self.kind, links, LinkKind::PreviousEmployer)
                .await,
            next: employer_choices(app, viewer, self.kind, links, LinkKind::NewEmployer).await,
            editing: self.editing.is_some(),
            id: self.editing.map(|e| e.to_string()).unwrap_or_default(),
            banner: self.banner.clone(),
        }))
    }
}

/// For a person, business entities to choose an employer from, "None" first.
async fn employer_choices(
    app: &App,
    viewer: &Signed,
    kind: Option<EntityKind>,
    links: &[EntityLink],
    which: LinkKind,
) -> Vec<Choice> {
    if kind != Some(EntityKind::Person) {
        return Vec::new();
    }
    let chosen = links.iter().find(|l| l.kind == which).map(|l| l.to);
    one_entity_choices(app, viewer, EntityKind::Business, chosen).await
}

/// The list, with a search and a type filter.
pub(crate) async fn list(
    State(app): State<App>,
    viewer: Signed,
    Query(q): Query<EntityListQuery>,
) -> Result<Response, PageError> {
    records::entity_list(&app, &viewer, &q, Listing::Administration).await
}

/// "+": the type first, then the form for that type.
pub(crate) async fn new_page(
    State(app): State<App>,
    viewer: Signed,
    Query(q): Query<TypeQuery>,
) -> Result<Response, PageError> {
    let title = "Add an entity";
    require(&app, &viewer, Feature::EntityAdministration, &viewer.chrome(title)).await?;
    let kind = q.r#type.parse::<EntityKind>().ok();
    let input = EntityInput {
        companies: viewer.0.world.user_companies(viewer.0.user.id),
        ..EntityInput::default()
    };
    let page = EntityPage {
        title: title.to_owned(),
        heading: kind.map_or_else(|| title.to_owned(), |k| format!("Add a {}", k.as_str())),
        action: NEW.to_owned(),
        kind,
        input,
        editing: None,
        banner: String::new(),
    };
    page.show(&app, &viewer, Errors::default()).await
}

/// Saves a new entity.
pub(crate) async fn create(
    State(app): State<App>,
    viewer: Signed,
    Form(body): Form<EntityBody>,
) -> Result<Response, PageError> {
    let Ok(kind) = body.kind.parse::<EntityKind>() else {
        // Without a type there is nothing to save; whether the form exists for the viewer
        // is still the engine's to say.
        let chrome = viewer.chrome("Page not found");
        require(&app, &viewer, Feature::EntityAdministration, &chrome).await?;
        return Ok(Redirect::to(NEW).into_response());
    };
    let page = EntityPage::new_of_kind(kind, body.input(kind));
    let saved = app.services.corterum.create_entity(viewer.0.user.id, &page.input).await;
    let chrome = viewer.chrome(&page.heading);
    form::submit(&app, &viewer, &page, &chrome, saved, |id| {
        format!("/administration/entities/{id}?saved=1")
    })
    .await
}

/// The edit form.
pub(crate) async fn edit_page(
    State(app): State<App>,
    viewer: Signed,
    Path(id): Path<String>,
    Query(q): Query<SavedQuery>,
) -> Result<Response, PageError> {
    let chrome = viewer.chrome("Entity");
    let id = form::id(&id, EntityId::from_uuid).or_page(&chrome)?;
    require(&app, &viewer, Feature::EntityAdministration, &chrome).await?;
    let e = app.services.corterum.entity(viewer.0.user.id, id).await.or_page(&chrome)?;
    let input = EntityInput {
        kind: Some(e.kind),
        name: e.name.to_string(),
        fields: e.fields.into_iter().collect(),
        companies: e.companies,
        links: Some(e.links),
    };
    let mut page = EntityPage::editing(id, e.name.as_str(), e.kind, input);
    page.banner = q.banner("Entity saved");
    page.show(&app, &viewer, Errors::default()).await
}

/// Saves an entity's changes.
pub(crate) async fn edit(
    State(app): State<App>,
    viewer: Signed,
    Path(id): Path<String>,
    Form(body): Form<EntityBody>,
) -> Result<Response, PageError> {
    let chrome = viewer.chrome("Entity");
    let id = form::id(&id, EntityId::from_uuid).or_page(&chrome)?;
    let e = app.services.corterum.entity(viewer.0.user.id, id).await.or_page(&chrome)?;
    let page = EntityPage::editing(id, e.name.as_str(), e.kind, body.input(e.kind));
    let saved = app.services.corterum.update_entity(viewer.0.user.id, id, &page.input).await;
    let chrome = viewer.chrome(e.name.as_str());
    form::submit(&app, &viewer, &page, &chrome, saved, |()| {
        format!("/administration/entities/{id}?saved=1")
    })
    .await
}
