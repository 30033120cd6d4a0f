//! Entities: the list (search by name, filters by type and company, 20 a page, with each
//! entity's companies), the "+" form (the type first, then the form for that type) and
//! the edit form, with the companies and the links to other entities set on it (any
//! kind, custom ones named on the form) and the entities linking to it shown beside.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tenure_core::query::Search;
use tenure_core::{EntityInput, EntityQuery, ManageError, Page};
use tenure_domain::entity::{EntityLink, LinkKind};
use tenure_domain::{EntityId, EntityKind, Feature, OrgId};

use crate::App;
use crate::corterum::administration::listing::Pager;
use crate::corterum::administration::{SavedQuery, TypeQuery, company_choices};
use crate::corterum::{FieldInput, kind_choices, require};
use crate::form::{self, Choice, Form, FormPage, Named, PageNumber, Path, Query};
use crate::security::Signed;
use crate::view::{self, Chrome, Errors, OrPage, PageError};

const NEW: &str = "/administration/entities/new";
const LIST: &str = "/administration/entities";

/// What the entity form sends.
#[derive(Deserialize)]
pub(crate) struct EntityBody {
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    companies: Vec<String>,
    /// The links kept, each `<kind>|<entity id>` (unticked ones are removed).
    #[serde(default)]
    links: Vec<String>,
    /// A link to add: its kind (`custom` for one named in `link_custom`) ...
    #[serde(default)]
    link_kind: String,
    #[serde(default)]
    link_custom: String,
    /// ... and the entity it links to.
    #[serde(default)]
    link_to: String,
    /// `field_<key>` for each of the type's fields.
    #[serde(flatten)]
    named: Named,
}

/// The value of a kept link's checkbox: `<kind>|<entity id>`.
fn link_value(link: &EntityLink) -> String {
    format!("{}|{}", link.kind, link.to)
}

impl EntityBody {
    /// The input for an entity of this type, or what is wrong with the links sent.
    fn input(&self, kind: EntityKind) -> Result<EntityInput, &'static str> {
        let fields = kind
            .fields()
            .iter()
            .map(|(f, _)| ((*f).to_owned(), self.named.one(&format!("field_{f}")).to_owned()))
            .collect();
        let mut links = Vec::new();
        for kept in &self.links {
            let parsed = kept.rsplit_once('|').and_then(|(k, to)| {
                Some(EntityLink {
                    kind: LinkKind::parse(k).ok()?,
                    to: form::id(to, EntityId::from_uuid)?,
                })
            });
            links.push(parsed.ok_or("a link kept on the form could not be read: reload the page")?);
        }
        let to = form::id(&self.link_to, EntityId::from_uuid);
        let added = match self.link_kind.as_str() {
            "" if to.is_none() => None,
            "" => return Err("choose the kind of link to add, or no entity to link to"),
            // The service says what is wrong with a custom kind's name.
            "custom" => Some(LinkKind::Custom(self.link_custom.trim().to_owned())),
            k => Some(LinkKind::parse(k).map_err(|_| "choose one of the kinds of link offered")?),
        };
        if let Some(kind) = added {
            let to = to.ok_or("choose the entity to link to")?;
            links.push(EntityLink { kind, to });
        }
        Ok(EntityInput {
            links: Some(links),
            kind: Some(kind),
            name: self.name.clone(),
            fields,
            companies: form::ids(&self.companies, OrgId::from_uuid),
        })
    }
}

impl EntityBody {
    /// The input with the links that could be read (for showing the form again).
    fn input_without_links(&self, kind: EntityKind) -> EntityInput {
        let links = self
            .links
            .iter()
            .filter_map(|kept| {
                let (k, to) = kept.rsplit_once('|')?;
                Some(EntityLink {
                    kind: LinkKind::parse(k).ok()?,
                    to: form::id(to, EntityId::from_uuid)?,
                })
            })
            .collect();
        let body = Self {
            kind: self.kind.clone(),
            name: self.name.clone(),
            companies: self.companies.clone(),
            links: Vec::new(),
            link_kind: String::new(),
            link_custom: String::new(),
            link_to: String::new(),
            named: self.named.clone(),
        };
        let mut input = body.input(kind).unwrap_or_default();
        input.links = Some(links);
        input
    }
}

/// An entity linking to the one on the page: its id, name and the kind of its link.
pub(crate) struct LinkedFrom {
    id: String,
    name: String,
    kind: String,
}

impl LinkedFrom {
    /// The rows of a "Linked from" table.
    pub(crate) fn rows(from: &[(tenure_domain::Entity, LinkKind)]) -> Vec<Self> {
        from.iter()
            .map(|(e, k)| Self {
                id: e.id.to_string(),
                name: e.name.to_string(),
                kind: k.label().to_owned(),
            })
            .collect()
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
    /// The links it has, ticked to keep.
    links: Vec<Choice>,
    /// The kinds of link to add ("custom" last, named in `link_custom`).
    link_kinds: Vec<Choice>,
    link_custom: String,
    /// The entities a link may go to.
    link_targets: Vec<Choice>,
    /// The entities linking to it.
    linked_from: Vec<LinkedFrom>,
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
    /// The entities linking to it (editing only).
    linked_from: Vec<(tenure_domain::Entity, LinkKind)>,
    /// The link being added, shown again after a refusal: kind, custom name, entity.
    adding: (String, String, String),
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
            linked_from: Vec::new(),
            adding: Default::default(),
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
            linked_from: Vec::new(),
            adding: Default::default(),
        }
    }

    /// The same page with the link being added shown again.
    fn adding(mut self, body: &EntityBody) -> Self {
        self.adding = (body.link_kind.clone(), body.link_custom.clone(), body.link_to.clone());
        self
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
        let (kind, custom, to) = &self.adding;
        let chrome = viewer.chrome(&self.title);
        let targets = match self.kind {
            Some(_) => any_entity_choices(app, viewer, self.editing).await.or_page(&chrome)?,
            None => Vec::new(),
        };
        let companies =
            company_choices(app, viewer, Feature::EntityAdministration, companies).await;
        let companies = companies.or_page(&chrome)?;
        let name_of = |id: EntityId| {
            let id = id.to_string();
            targets.iter().find(|c| c.value == id).map(|c| c.label.clone())
        };
        let kept = links
            .iter()
            .filter_map(|l| {
                let name = name_of(l.to)?;
                Some(Choice::new(link_value(l), format!("{}: {name}", l.kind.label()), true))
            })
            .collect();
        let mut link_kinds = vec![Choice::new("", "Choose a kind", kind.is_empty())];
        link_kinds.extend(
            LinkKind::KNOWN.iter().map(|k| Choice::new(k.as_str(), k.label(), *kind == k.as_str())),
        );
        link_kinds.push(Choice::new("custom", "Another kind (name it below)", kind == "custom"));
        let mut link_targets = vec![Choice::new("", "Choose an entity", to.is_empty())];
        link_targets.extend(targets.into_iter().map(|c| Choice { checked: c.value == *to, ..c }));
        Ok(view::render(&EntityForm {
            chrome: chrome.with_errors(&errors),
            errors,
            heading: self.heading.clone(),
            action: self.action.clone(),
            choose_type: self.kind.is_none(),
            kinds: kind_choices(self.kind),
            entity_kind: self.kind.map(|k| k.as_str().to_owned()).unwrap_or_default(),
            name: self.input.name.clone(),
            fields: self.kind.map(|k| FieldInput::of_kind(k, &values)).unwrap_or_default(),
            companies,
            links: kept,
            link_kinds,
            link_custom: custom.clone(),
            link_targets,
            linked_from: LinkedFrom::rows(&self.linked_from),
            editing: self.editing.is_some(),
            id: self.editing.map(|e| e.to_string()).unwrap_or_default(),
            banner: self.banner.clone(),
        }))
    }
}

/// Every entity the viewer may list (one page of the most a page holds), by name, as
/// choices labelled with their type; the entity being edited left out.
///
/// # Errors
/// [`ManageError::Backend`] when they cannot be read.
async fn any_entity_choices(
    app: &App,
    viewer: &Signed,
    except: Option<EntityId>,
) -> Result<Vec<Choice>, ManageError> {
    let all = app
        .services
        .corterum
        .entities(viewer.0.user.id, &EntityQuery::default(), Page::numbered(1, Page::MAX_LIMIT))
        .await?;
    Ok(all
        .into_iter()
        .filter(|e| Some(e.id) != except)
        .map(|e| Choice::new(e.id.to_string(), format!("{} ({})", e.name, e.kind.label()), false))
        .collect())
}

/// `GET /administration/entities`: the search, the filters and the page.
#[derive(Deserialize, Default)]
pub(crate) struct EntityAdminQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    r#type: String,
    #[serde(default)]
    company: String,
    #[serde(default)]
    page: PageNumber,
}

pub(crate) struct EntityRow {
    id: String,
    name: String,
    kind: String,
    companies: String,
}

#[derive(Template)]
#[template(path = "entities_admin.html")]
struct EntitiesPage {
    chrome: Chrome,
    q: String,
    kinds: Vec<Choice>,
    companies: Vec<Choice>,
    rows: Vec<EntityRow>,
    pager: Pager,
}

/// The list: every entity of the viewer's companies (every one for the root
/// administrator), searched by name and filtered by type and company, 20 a page, each
/// with its companies (those the viewer administers).
pub(crate) async fn list(
    State(app): State<App>,
    viewer: Signed,
    Query(q): Query<EntityAdminQuery>,
) -> Result<Response, PageError> {
    let chrome = viewer.chrome("Entities");
    let kind = q.r#type.parse::<EntityKind>().ok();
    let company = form::id(&q.company, OrgId::from_uuid);
    let query = EntityQuery { search: Search::parse(&q.q), kind };
    let number = q.page.get().unwrap_or(1);
    let page = Page::numbered(number, Page::SCREEN);
    let me = viewer.0.user.id;
    let listed =
        app.services.corterum.entity_list(me, &query, company, page).await.or_page(&chrome)?;
    let companies = company_choices(&app, &viewer, Feature::EntityAdministration, &[]).await;
    let companies = companies.or_page(&chrome)?;
    let name_of = |id: &OrgId| {
        let id = id.to_string();
        companies.iter().find(|c| c.value == id).map(|c| c.label.clone())
    };
    let rows = listed
        .items
        .iter()
        .map(|e| EntityRow {
            id: e.id.to_string(),
            name: e.name.to_string(),
            kind: e.kind.label().to_owned(),
            companies: e.companies.iter().filter_map(name_of).collect::<Vec<_>>().join(", "),
        })
        .collect();
    let params = [("q", q.q.as_str()), ("type", &q.r#type), ("company", &q.company)];
    let pager = Pager::new(LIST, &params, number, listed.items.len(), listed.total, "entities");
    let mut company_filter = vec![Choice::new("", "All companies", company.is_none())];
    company_filter
        .extend(companies.iter().map(|c| Choice { checked: c.value == q.company, ..c.clone() }));
    Ok(view::render(&EntitiesPage {
        chrome,
        q: q.q.clone(),
        kinds: kind_choices(kind),
        companies: company_filter,
        rows,
        pager,
    }))
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
        linked_from: Vec::new(),
        adding: Default::default(),
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
    let page = EntityPage::new_of_kind(kind, EntityInput::default()).adding(&body);
    let input = match body.input(kind) {
        Ok(input) => input,
        Err(problem) => {
            let input = EntityInput { kind: Some(kind), ..body.input_without_links(kind) };
            let page = EntityPage { input, ..page };
            return page.show(&app, &viewer, Errors::one("links", problem)).await;
        }
    };
    let page = EntityPage { input, ..page };
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
    let view = app.services.corterum.entity_links(viewer.0.user.id, id).await.or_page(&chrome)?;
    let e = view.entity;
    let input = EntityInput {
        kind: Some(e.kind),
        name: e.name.to_string(),
        fields: e.fields.into_iter().collect(),
        companies: e.companies,
        links: Some(
            view.to.into_iter().map(|(kind, other)| EntityLink { kind, to: other.id }).collect(),
        ),
    };
    let mut page = EntityPage::editing(id, e.name.as_str(), e.kind, input);
    page.banner = q.banner("Entity saved");
    page.linked_from = view.from;
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
    let view = app.services.corterum.entity_links(viewer.0.user.id, id).await.or_page(&chrome)?;
    let e = view.entity;
    let mut page = EntityPage::editing(id, e.name.as_str(), e.kind, EntityInput::default());
    page.linked_from = view.from;
    let page = page.adding(&body);
    let input = match body.input(e.kind) {
        Ok(input) => input,
        Err(problem) => {
            let page = EntityPage { input: body.input_without_links(e.kind), ..page };
            return page.show(&app, &viewer, Errors::one("links", problem)).await;
        }
    };
    let page = EntityPage { input, ..page };
    let saved = app.services.corterum.update_entity(viewer.0.user.id, id, &page.input).await;
    let chrome = viewer.chrome(e.name.as_str());
    form::submit(&app, &viewer, &page, &chrome, saved, |()| {
        format!("/administration/entities/{id}?saved=1")
    })
    .await
}
