//! The records people read: the entities their roles reach (the same list the
//! Administration area shows with a "+"), an entity's datasets, and an instance with its
//! version history, a "view as of" control and, for those who may, a form to save a new
//! version.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use tenure_core::{AsOf, EntityQuery, Page, Search};
use tenure_domain::{Content, DatasetKind, EntityId, EntityKind, Feature};

use crate::App;
use crate::corterum::{FieldInput, kind_choices, require};
use crate::form::{self, Choice, Form, FormPage, Named, PageNumber, Path, Query, Sent};
use crate::security::Signed;
use crate::view::{self, Chrome, Errors, OrPage, PageError};

/// Where an entity list is shown.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Listing {
    /// In the Administration area (`entity_administration`), with "+".
    Administration,
    /// As records to read.
    Records,
}

#[derive(Deserialize, Default)]
pub(crate) struct EntityListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    r#type: String,
    #[serde(default)]
    page: PageNumber,
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
    /// On Records, for someone whose features open reports: a link to them.
    reports: bool,
    q: String,
    kinds: Vec<Choice>,
    rows: Vec<EntityRow>,
    previous: String,
    next: String,
    page: usize,
}

/// The entities the viewer's roles reach, a page at a time, with a search and a type
/// filter.
pub(crate) async fn entity_list(
    app: &App,
    viewer: &Signed,
    q: &EntityListQuery,
    listing: Listing,
) -> Result<Response, PageError> {
    let admin = listing == Listing::Administration;
    let title = if admin { "Entities" } else { "Records" };
    let chrome = viewer.chrome(title);
    let me = viewer.0.user.id;
    if admin {
        require(app, viewer, Feature::EntityAdministration, &chrome).await?;
    }
    let kind = q.r#type.parse::<EntityKind>().ok();
    let query = EntityQuery { search: Search::parse(&q.q), kind };
    let number = q.page.get().unwrap_or(1);
    let mut page = Page::numbered(number, Page::SCREEN);
    page.limit += 1;
    let mut found = app.services.corterum.entities(me, &query, page).await.or_page(&chrome)?;
    let more = found.len() > Page::SCREEN;
    found.truncate(Page::SCREEN);
    let base = if admin { "/administration/entities" } else { "/records" };
    let reports = !admin && !app.services.corterum.reports(me).await.unwrap_or_default().is_empty();
    let link = |n: usize| {
        format!(
            "{base}?q={}&type={}&page={n}",
            view::query_value(&q.q),
            view::query_value(&q.r#type)
        )
    };
    Ok(view::render(&EntitiesPage {
        chrome,
        heading: title.to_owned(),
        base: base.to_owned(),
        can_create: admin,
        reports,
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
    }))
}

/// The records list.
pub(crate) async fn records(
    State(app): State<App>,
    viewer: Signed,
    Query(q): Query<EntityListQuery>,
) -> Result<Response, PageError> {
    // Only people whose roles reach an entity have records to look at.
    if !viewer.0.nav.records {
        return Err(PageError::not_found(&viewer.chrome("Page not found")));
    }
    entity_list(&app, &viewer, &q, Listing::Records).await
}

#[derive(Template)]
#[template(path = "record.html")]
struct RecordPage {
    chrome: Chrome,
    id: String,
    name: String,
    kind: String,
    fields: Vec<(String, String)>,
    links: Vec<(String, String)>,
    /// The entities linking to it: id, name, kind of link.
    linked_from: Vec<(String, String, String)>,
    datasets: Vec<(String, String)>,
}

/// An entity's record: its fields, its links both ways (the entities it links to and
/// those linking to it, as far as the viewer may see them), and the datasets the viewer
/// may read.
pub(crate) async fn record(
    State(app): State<App>,
    viewer: Signed,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let chrome = viewer.chrome("Record");
    let id = form::id(&id, EntityId::from_uuid).or_page(&chrome)?;
    let me = viewer.0.user.id;
    let view = app.services.corterum.entity_links(me, id).await.or_page(&chrome)?;
    let e = view.entity;
    let datasets = app.services.corterum.readable_datasets(me, id).await.or_page(&chrome)?;
    let datasets = datasets.into_iter().map(|d| (d.key, d.name.to_string())).collect();
    let labels = e.kind.fields();
    let links = view.to.iter().map(|(k, other)| (k.label().to_owned(), other.name.to_string()));
    let links = links.collect();
    let linked_from = view
        .from
        .iter()
        .map(|(other, k)| (other.id.to_string(), other.name.to_string(), k.label().to_owned()))
        .collect();
    Ok(view::render(&RecordPage {
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
        linked_from,
    }))
}

#[derive(Deserialize, Default)]
pub(crate) struct AsOfQuery {
    #[serde(default)]
    as_of: String,
    version: Option<u32>,
    #[serde(default)]
    saved: Sent,
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
    /// The time zone "view as of" reads in, by name.
    zone: String,
    may_save: bool,
    based_on: u32,
    banner: String,
}

/// What a new version's form sends.
#[derive(Deserialize)]
pub(crate) struct VersionBody {
    /// The latest version when the form was shown (0 for none): kept as sent, anything
    /// but a number counts as 0.
    #[serde(default)]
    based_on: String,
    /// `field_<key>` for each of the dataset's fields.
    #[serde(flatten)]
    named: Named,
}

/// An instance's page as it is shown: which entity and dataset, which version, and
/// what the "view as of" field holds.
struct InstanceShown {
    entity: EntityId,
    key: String,
    at: AsOf,
    as_of: String,
    banner: String,
}

impl FormPage for InstanceShown {
    async fn show(
        &self,
        app: &App,
        viewer: &Signed,
        errors: Errors,
    ) -> Result<Response, PageError> {
        let chrome = viewer.chrome("Record");
        let me = viewer.0.user.id;
        let datasets = app.services.corterum.datasets().await.unwrap_or_default();
        let d = datasets.iter().find(|d| d.key == self.key).or_page(&chrome)?;
        let v = app.services.corterum.instance(me, d.id, self.entity, self.at).await;
        let v = v.or_page(&chrome)?;
        // Without their names, the people who saved versions read as deleted users.
        let names = app.services.corterum.authors(&v).await.unwrap_or_default();
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
                    .map(|(k, l)| FieldInput {
                        key: k.clone(),
                        label: l.clone(),
                        value: String::new(),
                    })
                    .collect(),
                d.fields.iter().map(|(_, l)| l.clone()).collect(),
                rs.iter()
                    .map(|r| {
                        d.fields
                            .iter()
                            .map(|(k, _)| r.get(k).cloned().unwrap_or_default())
                            .collect()
                    })
                    .collect(),
            ),
        };
        let showing = match shown {
            Some(x) if x.number == latest => format!("Current version ({} of {latest})", x.number),
            Some(x) => {
                format!(
                    "Version {} of {latest}, as saved {}",
                    x.number,
                    view::when(&app.config.time_zone, x.at)
                )
            }
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
                at: view::when(&app.config.time_zone, x.at),
                by: x.by.map_or_else(
                    || "An import".to_owned(),
                    |u| {
                        names
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
        Ok(view::render(&InstancePage {
            chrome: viewer
                .chrome(&format!("{} for {}", d.name, v.entity.name))
                .with_errors(&errors),
            errors,
            entity_id: self.entity.to_string(),
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
            as_of: self.as_of.clone(),
            zone: tenure_core::moment::zone_name(&app.config.time_zone),
            may_save: v.may_save,
            based_on: latest,
            banner: self.banner.clone(),
        }))
    }
}

/// An instance: the latest version, one by number, or the one current at a moment.
pub(crate) async fn instance(
    State(app): State<App>,
    viewer: Signed,
    Path((id, key)): Path<(String, String)>,
    Query(q): Query<AsOfQuery>,
) -> Result<Response, PageError> {
    let entity = form::id(&id, EntityId::from_uuid).or_page(&viewer.chrome("Record"))?;
    let (at, errors) = match (q.version, q.as_of.trim()) {
        (Some(n), _) => (AsOf::Version(n), Errors::default()),
        (None, "") => (AsOf::Latest, Errors::default()),
        (None, text) => match tenure_core::moment::parse(text, &app.config.time_zone) {
            Ok(m) => (AsOf::Moment(m), Errors::default()),
            Err(_) => (
                AsOf::Latest,
                Errors::one(
                    "as_of",
                    &format!(
                        "Enter a date and time in {} time, like 2026-11-22 14:30 (a date alone \
                         means the end of that day)",
                        tenure_core::moment::zone_name(&app.config.time_zone)
                    ),
                ),
            ),
        },
    };
    let banner = if q.saved.0 { "New version saved".to_owned() } else { String::new() };
    let page = InstanceShown { entity, key, at, as_of: q.as_of, banner };
    page.show(&app, &viewer, errors).await
}

/// Saves a new version: a form's fields, or a table with the row typed in added below
/// the rows it has.
pub(crate) async fn save_instance(
    State(app): State<App>,
    viewer: Signed,
    Path((id, key)): Path<(String, String)>,
    Form(body): Form<VersionBody>,
) -> Result<Response, PageError> {
    let chrome = viewer.chrome("Record");
    let entity = form::id(&id, EntityId::from_uuid).or_page(&chrome)?;
    let me = viewer.0.user.id;
    let datasets = app.services.corterum.datasets().await.unwrap_or_default();
    let d = datasets.iter().find(|d| d.key == key).or_page(&chrome)?;
    let based_on: u32 = body.based_on.parse().unwrap_or(0);
    let record: BTreeMap<String, String> = d
        .fields
        .iter()
        .filter_map(|(k, _)| {
            let v = body.named.one(&format!("field_{k}")).trim().to_owned();
            (!v.is_empty()).then(|| (k.clone(), v))
        })
        .collect();
    let content = match d.kind {
        DatasetKind::Form => Content::Form(record),
        DatasetKind::Table => {
            // A table gains the row typed in, below the rows it has.
            let current = app.services.corterum.instance(me, d.id, entity, AsOf::Latest).await;
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
    let saved = app.services.corterum.save_instance(me, d.id, entity, based_on, content).await;
    let page = InstanceShown {
        entity,
        key: key.clone(),
        at: AsOf::Latest,
        as_of: String::new(),
        banner: String::new(),
    };
    form::submit(&app, &viewer, &page, &chrome, saved, |_| {
        format!("/records/{entity}/{key}?saved=1")
    })
    .await
}
