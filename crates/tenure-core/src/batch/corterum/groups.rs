//! Corterum groups in batches: name, description, type and members (entity names, `;`
//! between them, among the entities of the group's type the actor sees). The natural key
//! is the name. "All People" is built in: neither exported nor imported.
//!
//! Creating and updating call `Corterum::save_group` (members out of the actor's sight
//! stay as they were); an export lists only the members the actor sees.

use async_trait::async_trait;
use tenure_domain::{
    Action, EntityId, EntityKind, Feature, Group, Name, Request, Resource, UserId,
};

use crate::batch::corterum::{CorterumSources, escape, join_list, names, sort_names};
use crate::batch::{Created, Kind, RowError, cell};
use crate::corterum::GroupInput;
use crate::csv::read::{Column, Columns, Row};
use crate::error::BackendError;
use crate::usecase::{FieldError, ManageError};

/// The groups kind.
#[derive(Clone, Debug)]
pub struct Groups {
    sources: CorterumSources,
}

impl Groups {
    /// The kind over these services.
    pub fn new(sources: CorterumSources) -> Self {
        Self { sources }
    }

    /// Member names to ids, among the entities of `kind` the actor sees.
    async fn members(
        &self,
        actor: UserId,
        kind: EntityKind,
        names: &[String],
    ) -> Result<Vec<(EntityId, String)>, RowError> {
        let mut out = Vec::new();
        for n in names {
            match self.sources.entity_named(actor, n, Some(kind)).await? {
                Some(e) => out.push((e.id, e.name.to_string())),
                None => {
                    return Err(RowError(format!(
                        "members: no {kind} you can see is called `{}`",
                        tenure_domain::name::quoted(n)
                    )));
                }
            }
        }
        Ok(out)
    }

    /// A group's export row, with the members the actor sees.
    async fn cells(&self, actor: UserId, g: &Group) -> Result<Vec<String>, BackendError> {
        let mut members = Vec::new();
        for m in &g.members {
            if let Some(name) = self.sources.visible_name(actor, *m).await? {
                members.push(name);
            }
        }
        Ok(row_cells(g.name.as_str(), &g.description, g.kind, members))
    }

    async fn input(&self, actor: UserId, row: &GroupRow) -> Result<GroupInput, RowError> {
        let members = self.members(actor, row.kind, &row.members).await?;
        Ok(GroupInput {
            name: row.name.clone(),
            description: row.description.clone(),
            kind: Some(row.kind),
            members: members.into_iter().map(|(id, _)| id).collect(),
        })
    }
}

fn row_cells(
    name: &str,
    description: &str,
    kind: EntityKind,
    mut members: Vec<String>,
) -> Vec<String> {
    sort_names(&mut members);
    members.dedup();
    vec![
        name.to_owned(),
        description.to_owned(),
        kind.as_str().to_owned(),
        join_list(&members.iter().map(|m| escape(m)).collect::<Vec<_>>()),
    ]
}

/// A parsed row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupRow {
    /// Its name.
    pub name: String,
    /// Why it was created.
    pub description: String,
    /// The type of its members.
    pub kind: EntityKind,
    /// Member names.
    pub members: Vec<String>,
}

/// What is stored under a row's name, and the row with its members spelt as stored.
#[derive(Clone, Debug)]
pub struct StoredGroup {
    /// The group.
    pub group: Group,
    /// Its export row.
    pub stored: Vec<String>,
    /// The import row, with member names as stored.
    pub wanted: Vec<String>,
}

#[async_trait]
impl Kind for Groups {
    type Input = GroupRow;
    type Existing = StoredGroup;

    const COLUMNS: Columns<'static> = Columns {
        columns: &[
            Column::required("name"),
            Column::optional("description"),
            Column::required("type"),
            Column::optional("members"),
        ],
    };

    fn parse(&self, row: &Row) -> Result<GroupRow, Vec<FieldError>> {
        let mut errors = Vec::new();
        let name = Name::parse(cell(row, "name"))
            .map_err(|e| errors.push(FieldError { field: "name", message: e.to_string() }))
            .ok();
        let kind = cell(row, "type")
            .trim()
            .to_lowercase()
            .parse::<EntityKind>()
            .map_err(|e| errors.push(FieldError { field: "type", message: e.to_string() }))
            .ok();
        let members = names("members", cell(row, "members")).map_err(|e| errors.push(e)).ok();
        match (name, kind, members) {
            (Some(name), Some(kind), Some(members)) if errors.is_empty() => Ok(GroupRow {
                name: name.to_string(),
                description: cell(row, "description").trim().to_owned(),
                kind,
                members,
            }),
            _ => Err(errors),
        }
    }

    fn key(&self, input: &GroupRow) -> String {
        input.name.clone()
    }

    async fn find(&self, actor: UserId, input: &GroupRow) -> Result<Option<StoredGroup>, RowError> {
        let groups = match self.sources.corterum.groups(actor).await {
            Ok(g) => g,
            // Without group administration there is nothing to see: creating gets the
            // service's answer.
            Err(ManageError::NotFound) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let wanted = input.name.to_lowercase();
        let Some(group) = groups.into_iter().find(|g| g.name.as_str().to_lowercase() == wanted)
        else {
            return Ok(None);
        };
        if group.id == Group::all_people().id {
            return Err(RowError(
                "name: \"All People\" is built in; choose another name".to_owned(),
            ));
        }
        let stored = self.cells(actor, &group).await?;
        let members = self.members(actor, input.kind, &input.members).await?;
        let wanted = row_cells(
            &input.name,
            &input.description,
            input.kind,
            members.into_iter().map(|(_, n)| n).collect(),
        );
        Ok(Some(StoredGroup { group, stored, wanted }))
    }

    fn differs(&self, _input: &GroupRow, existing: &StoredGroup) -> bool {
        existing.stored != existing.wanted
    }

    async fn check(
        &self,
        actor: UserId,
        input: &GroupRow,
        existing: Option<&StoredGroup>,
    ) -> Result<Created, RowError> {
        let (resource, action) = match existing {
            Some(g) => (Resource::Group(g.group.id), Action::GroupEdit),
            None => (Resource::Feature(Feature::GroupAdministration), Action::FeatureUse),
        };
        let world = self.sources.directory.snapshot(actor, resource).await?;
        let feature = Resource::Feature(Feature::GroupAdministration);
        let may = world.decide(&Request::new(actor, Action::FeatureUse, feature)).is_allowed()
            && world.decide(&Request::new(actor, action, resource)).is_allowed();
        if !may {
            return Err(RowError("not found".to_owned()));
        }
        self.input(actor, input).await?;
        Ok(Created::Done)
    }

    async fn create(&self, actor: UserId, input: &GroupRow) -> Result<Created, RowError> {
        let group = self.input(actor, input).await?;
        self.sources.corterum.save_group(actor, None, &group).await?;
        Ok(Created::Done)
    }

    async fn update(
        &self,
        actor: UserId,
        input: &GroupRow,
        existing: &StoredGroup,
    ) -> Result<(), RowError> {
        let group = self.input(actor, input).await?;
        self.sources.corterum.save_group(actor, Some(existing.group.id), &group).await?;
        Ok(())
    }

    async fn export_page(
        &self,
        actor: UserId,
        number: usize,
    ) -> Result<Option<Vec<Vec<String>>>, BackendError> {
        // Groups are few: one page holds them all.
        if number > 1 {
            return Ok(None);
        }
        let groups = match self.sources.corterum.groups(actor).await {
            Ok(g) => g,
            Err(ManageError::NotFound) => return Ok(Some(Vec::new())),
            Err(ManageError::Backend(e)) => return Err(e),
            Err(e) => return Err(BackendError::new(e.to_string())),
        };
        let mut rows = Vec::new();
        for g in groups.iter().filter(|g| g.id != Group::all_people().id) {
            rows.push(self.cells(actor, g).await?);
        }
        Ok(Some(rows))
    }
}
