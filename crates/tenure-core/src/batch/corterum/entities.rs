//! Corterum entities in batches: type, name, the static fields (one column each; a
//! field another type has must be empty), companies (names, `;` between them) and
//! links (`kind=name` items: `previous_employer=Acme Bank; related_to=Joe Bloggs`).
//! The natural key is the type and the name, among the entities the actor sees.
//!
//! Creating calls `Corterum::create_entity`, updating `Corterum::update_entity` (its
//! companies and links out of the actor's sight stay as they were). An export lists
//! businesses, then people, then regulators (a person's employers and a regulator's
//! links are then created before the rows naming them), each by name, with only the
//! companies and linked entities the actor sees. A link to an entity further down the
//! file fails its row, saying so; running the import again creates it.

use std::sync::Mutex;

use async_trait::async_trait;
use tenure_domain::entity::{EntityLink, LinkKind};
use tenure_domain::{
    Action, Entity, EntityKind, Feature, Name, OrgId, Request, Resource, Scope, UserId,
};

use crate::batch::corterum::{CorterumSources, escape, join_list, names, sort_names, split_list};
use crate::batch::{Created, Kind, RowError, cell};
use crate::corterum::{EntityInput, EntityQuery};
use crate::csv::read::{Column, Columns, Row};
use crate::error::BackendError;
use crate::ports::Page;
use crate::usecase::FieldError;

/// The static field columns: every type's fields, each once, in the types' order.
const FIELDS: &[&str] = &[
    "preferred_name",
    "date_of_birth",
    "national_insurance_number",
    "individual_reference_number",
    "job_title",
    "email",
    "telephone",
    "registration_number",
    "firm_reference_number",
    "address",
    "abbreviation",
    "website",
];

/// The order an export lists types in: those others link to first.
const EXPORT_ORDER: [EntityKind; 3] =
    [EntityKind::Business, EntityKind::Person, EntityKind::Regulator];

/// The entities kind.
#[derive(Debug)]
pub struct Entities {
    sources: CorterumSources,
    /// The export's place: the type being listed and the page within it.
    cursor: Mutex<(usize, usize)>,
}

impl Entities {
    /// The kind over these services.
    pub fn new(sources: CorterumSources) -> Self {
        Self { sources, cursor: Mutex::new((0, 1)) }
    }
}

/// A parsed row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntityRow {
    /// Its type.
    pub kind: EntityKind,
    /// Its name.
    pub name: String,
    /// Non-empty static fields, by column order.
    pub fields: Vec<(String, String)>,
    /// Company names.
    pub companies: Vec<String>,
    /// Links: kind, and the name of the entity linked to.
    pub links: Vec<(LinkKind, String)>,
}

/// What is stored under a row's key, and the row with its names as stored.
#[derive(Clone, Debug)]
pub struct StoredEntity {
    /// The entity.
    pub entity: Entity,
    /// Its export row.
    pub stored: Vec<String>,
    /// The import row, with the companies and entities it names spelt as stored.
    pub wanted: Vec<String>,
}

/// The row under [`Entities::COLUMNS`].
fn row_cells(
    kind: EntityKind,
    name: &str,
    fields: &[(String, String)],
    mut companies: Vec<String>,
    mut links: Vec<(String, String)>,
) -> Vec<String> {
    let mut out = vec![kind.as_str().to_owned(), name.to_owned()];
    for f in FIELDS {
        out.push(fields.iter().find(|(k, _)| k == f).map(|(_, v)| v.clone()).unwrap_or_default());
    }
    sort_names(&mut companies);
    out.push(join_list(&companies.iter().map(|c| escape(c)).collect::<Vec<_>>()));
    links.sort_by_cached_key(|(k, n)| (k.clone(), n.to_lowercase(), n.clone()));
    let links: Vec<String> =
        links.iter().map(|(k, n)| format!("{}={}", escape(k), escape(n))).collect();
    out.push(join_list(&links));
    out
}

impl Entities {
    /// The row's companies and links as ids (and names as stored), within the actor's
    /// reach.
    async fn resolve(
        &self,
        actor: UserId,
        mine: &Scope,
        row: &EntityRow,
    ) -> Result<(Vec<(OrgId, String)>, Vec<(EntityLink, String)>), RowError> {
        let companies = self.sources.companies_named(mine, &row.companies).await?;
        let mut links = Vec::new();
        for (kind, name) in &row.links {
            match self.sources.entity_named(actor, name, None).await? {
                Some(e) => {
                    links.push((EntityLink { kind: kind.clone(), to: e.id }, e.name.to_string()))
                }
                None => {
                    return Err(RowError(format!(
                        "links: no entity you can see is called `{}` (if it is further down \
                         the file, run the import again once it is created)",
                        tenure_domain::name::quoted(name)
                    )));
                }
            }
        }
        Ok((companies, links))
    }

    fn input(
        row: &EntityRow,
        companies: &[(OrgId, String)],
        links: &[(EntityLink, String)],
    ) -> EntityInput {
        EntityInput {
            kind: Some(row.kind),
            name: row.name.clone(),
            fields: row.fields.clone(),
            companies: companies.iter().map(|(id, _)| *id).collect(),
            links: Some(links.iter().map(|(l, _)| l.clone()).collect()),
        }
    }

    async fn mine(&self, actor: UserId) -> Result<Scope, BackendError> {
        self.sources.company_scope(actor, Feature::EntityAdministration).await
    }

    /// An entity's export row, as `actor` sees it.
    async fn cells(
        &self,
        actor: UserId,
        mine: &Scope,
        e: &Entity,
    ) -> Result<Vec<String>, BackendError> {
        let companies = self.sources.company_names(mine, &e.companies).await?;
        let mut links = Vec::new();
        for l in &e.links {
            if let Some(name) = self.sources.visible_name(actor, l.to).await? {
                links.push((l.kind.as_str().into_owned(), name));
            }
        }
        let fields: Vec<(String, String)> =
            e.fields.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        Ok(row_cells(e.kind, e.name.as_str(), &fields, companies, links))
    }
}

#[async_trait]
impl Kind for Entities {
    type Input = EntityRow;
    type Existing = StoredEntity;

    const COLUMNS: Columns<'static> = Columns {
        columns: &[
            Column::required("type"),
            Column::required("name"),
            Column::optional("preferred_name"),
            Column::optional("date_of_birth"),
            Column::optional("national_insurance_number"),
            Column::optional("individual_reference_number"),
            Column::optional("job_title"),
            Column::optional("email"),
            Column::optional("telephone"),
            Column::optional("registration_number"),
            Column::optional("firm_reference_number"),
            Column::optional("address"),
            Column::optional("abbreviation"),
            Column::optional("website"),
            Column::optional("companies"),
            Column::optional("links"),
        ],
    };

    fn parse(&self, row: &Row) -> Result<EntityRow, Vec<FieldError>> {
        let mut errors = Vec::new();
        let kind = cell(row, "type")
            .trim()
            .to_lowercase()
            .parse::<EntityKind>()
            .map_err(|e| errors.push(FieldError { field: "type", message: e.to_string() }))
            .ok();
        let name = Name::parse(cell(row, "name"))
            .map_err(|e| errors.push(FieldError { field: "name", message: e.to_string() }))
            .ok();
        let mut fields = Vec::new();
        for f in FIELDS {
            let value = cell(row, f).trim();
            if value.is_empty() {
                continue;
            }
            if kind.is_some_and(|k| !k.fields().iter().any(|(key, _)| key == f)) {
                errors.push(FieldError {
                    field: f,
                    message: format!(
                        "a {} has no field `{f}`; leave it empty",
                        kind.map_or("", EntityKind::as_str)
                    ),
                });
            }
            fields.push(((*f).to_owned(), value.to_owned()));
        }
        let companies = names("companies", cell(row, "companies")).map_err(|e| errors.push(e)).ok();
        let mut links = Vec::new();
        for item in split_list(cell(row, "links")) {
            match item.as_slice() {
                [kind, name] if !name.is_empty() => match LinkKind::parse(kind) {
                    Ok(k) => links.push((k, name.clone())),
                    Err(e) => errors.push(FieldError { field: "links", message: e.to_string() }),
                },
                _ => errors.push(FieldError {
                    field: "links",
                    message: "write each link as kind=entity name, separated by `;` \
                              (previous_employer=Acme Bank; related_to=Joe Bloggs)"
                        .to_owned(),
                }),
            }
        }
        match (kind, name, companies) {
            (Some(kind), Some(name), Some(companies)) if errors.is_empty() => {
                Ok(EntityRow { kind, name: name.to_string(), fields, companies, links })
            }
            _ => Err(errors),
        }
    }

    fn key(&self, input: &EntityRow) -> String {
        format!("{} {}", input.kind, input.name)
    }

    async fn find(
        &self,
        actor: UserId,
        input: &EntityRow,
    ) -> Result<Option<StoredEntity>, RowError> {
        let Some(entity) = self.sources.entity_named(actor, &input.name, Some(input.kind)).await?
        else {
            return Ok(None);
        };
        let mine = self.mine(actor).await?;
        let stored = self.cells(actor, &mine, &entity).await?;
        let (companies, links) = self.resolve(actor, &mine, input).await?;
        let wanted = row_cells(
            input.kind,
            &input.name,
            &input.fields,
            companies.into_iter().map(|(_, n)| n).collect(),
            links.into_iter().map(|(l, n)| (l.kind.as_str().into_owned(), n)).collect(),
        );
        Ok(Some(StoredEntity { entity, stored, wanted }))
    }

    fn differs(&self, _input: &EntityRow, existing: &StoredEntity) -> bool {
        existing.stored != existing.wanted
    }

    async fn check(
        &self,
        actor: UserId,
        input: &EntityRow,
        existing: Option<&StoredEntity>,
    ) -> Result<Created, RowError> {
        let feature = Resource::Feature(Feature::EntityAdministration);
        let world = self.sources.directory.snapshot(actor, feature).await?;
        if !world.decide(&Request::new(actor, Action::FeatureUse, feature)).is_allowed() {
            return Err(RowError("not found".to_owned()));
        }
        let mine = world.company_scope(actor, Feature::EntityAdministration);
        if existing.is_none() {
            self.resolve(actor, &mine, input).await?;
        }
        Ok(Created::Done)
    }

    async fn create(&self, actor: UserId, input: &EntityRow) -> Result<Created, RowError> {
        let mine = self.mine(actor).await?;
        let (companies, links) = self.resolve(actor, &mine, input).await?;
        let entity = Self::input(input, &companies, &links);
        self.sources.corterum.create_entity(actor, &entity).await?;
        Ok(Created::Done)
    }

    async fn update(
        &self,
        actor: UserId,
        input: &EntityRow,
        existing: &StoredEntity,
    ) -> Result<(), RowError> {
        let mine = self.mine(actor).await?;
        let (companies, links) = self.resolve(actor, &mine, input).await?;
        let entity = Self::input(input, &companies, &links);
        self.sources.corterum.update_entity(actor, existing.entity.id, &entity).await?;
        Ok(())
    }

    async fn export_page(
        &self,
        actor: UserId,
        number: usize,
    ) -> Result<Option<Vec<Vec<String>>>, BackendError> {
        if number == 1 {
            *self.cursor.lock().map_err(|_| BackendError::new("export cursor poisoned"))? = (0, 1);
        }
        let (kind, page) =
            *self.cursor.lock().map_err(|_| BackendError::new("export cursor poisoned"))?;
        let Some(k) = EXPORT_ORDER.get(kind) else { return Ok(None) };
        let query = EntityQuery { search: None, kind: Some(*k) };
        let p = Page::numbered(page, Page::MAX_LIMIT);
        let found = self
            .sources
            .corterum
            .entities(actor, &query, p)
            .await
            .map_err(|e| BackendError::new(e.to_string()))?;
        let next = if found.len() < p.limit { (kind + 1, 1) } else { (kind, page + 1) };
        *self.cursor.lock().map_err(|_| BackendError::new("export cursor poisoned"))? = next;
        let mine = self.mine(actor).await?;
        let mut rows = Vec::with_capacity(found.len());
        for e in &found {
            rows.push(self.cells(actor, &mine, e).await?);
        }
        Ok(Some(rows))
    }
}
