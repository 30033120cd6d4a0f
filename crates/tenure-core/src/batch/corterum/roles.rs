//! Corterum roles in batches: the role form as columns. `name`, `description`, `groups`
//! (group names, `;` between them), `features` (feature keys such as
//! `entity_administration`, `;` between them), `datasets` (`key=read edit create`
//! items: `training_record=read; criminal_record=read edit`) and
//! `requires_second_factor` (yes or no). The natural key is the name.
//!
//! Creating and updating call `Corterum::save_role` (the engine's `role.edit` on a role
//! changed, so built-in roles and the actor's own are refused). Exports list the roles
//! customers built, not the built-in ones.

use std::collections::BTreeMap;

use async_trait::async_trait;
use tenure_domain::role::builtin;
use tenure_domain::{
    Action, Dataset, DatasetPermissions, Feature, FeatureSet, Group, Request, Resource, Role,
    RoleForm, UserId,
};

use crate::batch::corterum::{CorterumSources, escape, join_list, names, sort_names, split_list};
use crate::batch::{Created, Kind, RowError, cell, flag, yes_no};
use crate::csv::read::{Column, Columns, Row};
use crate::error::BackendError;
use crate::usecase::{FieldError, ManageError};

/// The roles kind.
#[derive(Clone, Debug)]
pub struct Roles {
    sources: CorterumSources,
}

impl Roles {
    /// The kind over these services.
    pub fn new(sources: CorterumSources) -> Self {
        Self { sources }
    }
}

/// A parsed row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleRow {
    /// Its name.
    pub name: String,
    /// What it is for.
    pub description: String,
    /// Group names.
    pub groups: Vec<String>,
    /// The features it opens.
    pub features: FeatureSet,
    /// Dataset keys and what it may do with each.
    pub datasets: Vec<(String, DatasetPermissions)>,
    /// Whether its holders need a second factor.
    pub requires_second_factor: bool,
}

/// A custom role stored under a row's name, with the row as the names resolve.
#[derive(Clone, Debug)]
pub struct StoredRole {
    /// The role.
    pub role: Role,
    /// Its export row.
    pub stored: Vec<String>,
    /// The import row, names spelt as stored.
    pub wanted: Vec<String>,
}

fn permissions(p: DatasetPermissions) -> String {
    let mut out = Vec::new();
    for (on, word) in [(p.read, "read"), (p.edit, "edit"), (p.create, "create")] {
        if on {
            out.push(word);
        }
    }
    out.join(" ")
}

/// What the service's lists hold, for names to ids and back.
struct Lists {
    groups: Vec<Group>,
    datasets: Vec<Dataset>,
}

impl Lists {
    fn form(&self, row: &RoleRow) -> Result<RoleForm, RowError> {
        let mut groups = Vec::new();
        for n in &row.groups {
            let wanted = n.to_lowercase();
            match self.groups.iter().find(|g| g.name.as_str().to_lowercase() == wanted) {
                Some(g) => groups.push(g.id),
                None => {
                    return Err(RowError(format!(
                        "groups: no group is called `{}`; expected one of: {}",
                        tenure_domain::name::quoted(n),
                        self.groups.iter().map(|g| g.name.as_str()).collect::<Vec<_>>().join(", ")
                    )));
                }
            }
        }
        let mut datasets = BTreeMap::new();
        for (key, p) in &row.datasets {
            match self.datasets.iter().find(|d| d.key == *key) {
                Some(d) => {
                    datasets.insert(d.id, *p);
                }
                None => {
                    return Err(RowError(format!(
                        "datasets: no dataset `{}`; expected one of: {}",
                        tenure_domain::name::quoted(key),
                        self.datasets.iter().map(|d| d.key.as_str()).collect::<Vec<_>>().join(", ")
                    )));
                }
            }
        }
        Ok(RoleForm {
            name: row.name.clone(),
            description: row.description.clone(),
            groups,
            features: row.features,
            datasets,
            requires_second_factor: row.requires_second_factor,
        })
    }

    /// A form's row under [`Roles::COLUMNS`].
    fn cells(&self, form: &RoleForm) -> Vec<String> {
        let mut groups: Vec<String> = form
            .groups
            .iter()
            .filter_map(|id| self.groups.iter().find(|g| g.id == *id))
            .map(|g| g.name.to_string())
            .collect();
        sort_names(&mut groups);
        let mut features: Vec<&str> = form.features.iter().map(Feature::as_str).collect();
        features.sort_unstable();
        let mut datasets: Vec<String> = form
            .datasets
            .iter()
            .filter(|(_, p)| !p.is_none())
            .filter_map(|(id, p)| {
                let d = self.datasets.iter().find(|d| d.id == *id)?;
                Some(format!("{}={}", escape(&d.key), permissions(*p)))
            })
            .collect();
        datasets.sort_unstable();
        vec![
            form.name.trim().to_owned(),
            form.description.trim().to_owned(),
            join_list(&groups.iter().map(|g| escape(g)).collect::<Vec<_>>()),
            features.join("; "),
            join_list(&datasets),
            yes_no(form.requires_second_factor).to_owned(),
        ]
    }
}

impl Roles {
    async fn lists(&self, actor: UserId) -> Result<Lists, RowError> {
        // Without group administration no group can be named.
        let groups = match self.sources.corterum.groups(actor).await {
            Ok(g) => g,
            Err(ManageError::NotFound) => Vec::new(),
            Err(e) => return Err(e.into()),
        };
        Ok(Lists { groups, datasets: self.sources.corterum.datasets().await? })
    }

    /// The roles customers built, or `None` when the actor may not list roles.
    async fn custom(&self, actor: UserId) -> Result<Option<Vec<Role>>, ManageError> {
        let builtin: Vec<_> = builtin::corterum_roles().iter().map(|r| r.id).collect();
        match self.sources.corterum.roles(actor).await {
            Ok(roles) => Ok(Some(roles.into_iter().filter(|r| !builtin.contains(&r.id)).collect())),
            Err(ManageError::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

#[async_trait]
impl Kind for Roles {
    type Input = RoleRow;
    type Existing = StoredRole;

    const COLUMNS: Columns<'static> = Columns {
        columns: &[
            Column::required("name"),
            Column::required("description"),
            Column::optional("groups"),
            Column::optional("features"),
            Column::optional("datasets"),
            Column::optional("requires_second_factor"),
        ],
    };

    fn parse(&self, row: &Row) -> Result<RoleRow, Vec<FieldError>> {
        let mut errors = Vec::new();
        let name = cell(row, "name").trim().to_owned();
        if name.is_empty() {
            errors.push(FieldError { field: "name", message: "enter the role's name".to_owned() });
        }
        let groups = names("groups", cell(row, "groups")).map_err(|e| errors.push(e)).ok();
        let mut features = FeatureSet::EMPTY;
        for mut item in split_list(cell(row, "features")) {
            let key = if item.len() == 1 { item.remove(0) } else { String::new() };
            match key.to_lowercase().parse::<Feature>() {
                Ok(f) => features = features.with(f),
                Err(e) => errors.push(FieldError { field: "features", message: e.to_string() }),
            }
        }
        let mut datasets = Vec::new();
        for item in split_list(cell(row, "datasets")) {
            let [key, words] = item.as_slice() else {
                errors.push(FieldError {
                    field: "datasets",
                    message: "write each dataset as key=read edit create, separated by `;` \
                              (training_record=read; criminal_record=read edit)"
                        .to_owned(),
                });
                continue;
            };
            let mut p = DatasetPermissions::default();
            for w in words.split_whitespace() {
                match w.to_lowercase().as_str() {
                    "read" => p.read = true,
                    "edit" => p.edit = true,
                    "create" => p.create = true,
                    other => errors.push(FieldError {
                        field: "datasets",
                        message: format!(
                            "`{}` is not a dataset permission; write read, edit or create",
                            tenure_domain::name::quoted(other)
                        ),
                    }),
                }
            }
            datasets.push((key.to_lowercase(), p));
        }
        let second = flag("requires_second_factor", cell(row, "requires_second_factor"))
            .map_err(|e| errors.push(e))
            .ok();
        match (groups, second) {
            (Some(groups), Some(requires_second_factor)) if errors.is_empty() => Ok(RoleRow {
                name,
                description: cell(row, "description").trim().to_owned(),
                groups,
                features,
                datasets,
                requires_second_factor,
            }),
            _ => Err(errors),
        }
    }

    fn key(&self, input: &RoleRow) -> String {
        input.name.clone()
    }

    async fn find(&self, actor: UserId, input: &RoleRow) -> Result<Option<StoredRole>, RowError> {
        let wanted = input.name.to_lowercase();
        if builtin::corterum_roles().iter().any(|r| r.name.to_lowercase() == wanted) {
            return Err(RowError(format!(
                "name: `{}` is a built-in role, which cannot be changed; choose another name",
                tenure_domain::name::quoted(&input.name)
            )));
        }
        let Some(custom) = self.custom(actor).await? else { return Ok(None) };
        let Some(role) = custom.into_iter().find(|r| r.name.to_lowercase() == wanted) else {
            return Ok(None);
        };
        let lists = self.lists(actor).await?;
        let stored = lists.cells(&RoleForm::from_role(&role));
        let wanted = lists.cells(&lists.form(input)?);
        Ok(Some(StoredRole { role, stored, wanted }))
    }

    fn differs(&self, _input: &RoleRow, existing: &StoredRole) -> bool {
        existing.stored != existing.wanted
    }

    async fn check(
        &self,
        actor: UserId,
        input: &RoleRow,
        existing: Option<&StoredRole>,
    ) -> Result<Created, RowError> {
        let feature = Resource::Feature(Feature::RolesAdministration);
        let (resource, action) = match existing {
            Some(r) => (Resource::Role(r.role.id), Action::RoleEdit),
            None => (feature, Action::FeatureUse),
        };
        let world = self.sources.directory.snapshot(actor, resource).await?;
        let may = world.decide(&Request::new(actor, Action::FeatureUse, feature)).is_allowed()
            && world.decide(&Request::new(actor, action, resource)).is_allowed();
        if !may {
            return Err(RowError("not found".to_owned()));
        }
        self.lists(actor).await?.form(input)?;
        Ok(Created::Done)
    }

    async fn create(&self, actor: UserId, input: &RoleRow) -> Result<Created, RowError> {
        let form = self.lists(actor).await?.form(input)?;
        self.sources.corterum.save_role(actor, None, form).await?;
        Ok(Created::Done)
    }

    async fn update(
        &self,
        actor: UserId,
        input: &RoleRow,
        existing: &StoredRole,
    ) -> Result<(), RowError> {
        let form = self.lists(actor).await?.form(input)?;
        self.sources.corterum.save_role(actor, Some(existing.role.id), form).await?;
        Ok(())
    }

    async fn export_page(
        &self,
        actor: UserId,
        number: usize,
    ) -> Result<Option<Vec<Vec<String>>>, BackendError> {
        // Roles are few: one page holds them all.
        if number > 1 {
            return Ok(None);
        }
        let to_backend = |e: ManageError| match e {
            ManageError::Backend(e) => e,
            e => BackendError::new(e.to_string()),
        };
        let Some(custom) = self.custom(actor).await.map_err(to_backend)? else {
            return Ok(Some(Vec::new()));
        };
        let lists = self.lists(actor).await.map_err(|e| BackendError::new(e.0))?;
        Ok(Some(custom.iter().map(|r| lists.cells(&RoleForm::from_role(r))).collect()))
    }
}
