//! Corterum's kinds for the batch engine: companies (the company form as columns), entities (type, fields, companies, links),
//! groups (with members), roles (the role form as columns), user accounts and dataset
//! instances (content as JSON, a new version when it changed), each row written through the [`Corterum`] services as the
//! acting user, so the engine decides every row as it decides the web's forms.
//!
//! What they share lives here: [`CorterumSources`] (the services and read ports they
//! stand on), lists in one cell ([`split_list`], [`join_list`]: items separated by `;`,
//! a kind and a name in an item by `=`, a `\` before either when it is part of a name),
//! companies by name within the actor's reach ([`CorterumSources::companies_named`]) and
//! entities by name among those the actor sees ([`CorterumSources::entity_named`]).
//!
//! Names are the natural keys people write: a company by its organisation name, an
//! entity by its name (and type, for entities), a group by its name. A name the actor
//! cannot see gets the same answer as one that does not exist. A row is the whole
//! record: an empty cell (or a column the file does not have) means none, so `--update`
//! with a file without `links` takes an entity's links away.

pub mod accounts;
pub mod companies;
pub mod entities;
pub mod groups;
pub mod instances;
pub mod roles;

use std::sync::Arc;

use tenure_domain::{Entity, EntityKind, Feature, OrgId, Resource, Scope, UserId};

use crate::batch::RowError;
use crate::changes::ChangeStore;
use crate::corterum::{Corterum, EntityQuery};
use crate::error::BackendError;
use crate::ports::{Directory, Page};
use crate::query::Search;
use crate::usecase::ManageError;

/// What Corterum's kinds stand on.
#[derive(Clone)]
pub struct CorterumSources {
    /// The services every row is written through.
    pub corterum: Corterum,
    /// Creates accounts (a user and their invitation).
    pub manage: crate::manage::Manage,
    /// Snapshots for the engine (company scopes, dry-run decisions).
    pub directory: Arc<dyn Directory>,
    /// Organisations by name and id.
    pub changes: Arc<dyn ChangeStore>,
}

impl std::fmt::Debug for CorterumSources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CorterumSources").finish_non_exhaustive()
    }
}

impl CorterumSources {
    /// The companies `actor` links records to under `feature` (every company for the
    /// root administrator).
    ///
    /// # Errors
    /// [`BackendError`] from the store.
    pub async fn company_scope(
        &self,
        actor: UserId,
        feature: Feature,
    ) -> Result<Scope, BackendError> {
        let world = self.directory.snapshot(actor, Resource::Feature(feature)).await?;
        Ok(world.company_scope(actor, feature))
    }

    /// Companies by name, each one the actor may link records to; one out of reach gets
    /// the same answer as one that does not exist.
    ///
    /// # Errors
    /// The first name that is not one of the actor's companies.
    pub async fn companies_named(
        &self,
        mine: &Scope,
        names: &[String],
    ) -> Result<Vec<(OrgId, String)>, RowError> {
        let mut out = Vec::new();
        for name in names {
            let found = self.changes.organisation_by_name(name).await?;
            // The forms' check: a company on the actor's side (a housing organisation is
            // refused even for a scope of every company), as one that does not exist.
            match found {
                Some(o) if self.corterum.linkable(mine, &[o.value.id]).await? => {
                    out.push((o.value.id, o.value.name.to_string()));
                }
                _ => {
                    return Err(RowError(format!(
                        "companies: none of your companies is called `{}`; name companies you \
                         are linked to",
                        tenure_domain::name::quoted(name)
                    )));
                }
            }
        }
        Ok(out)
    }

    /// The names of the companies among `ids` in the actor's scope, sorted (the rest are
    /// left out without a trace).
    ///
    /// # Errors
    /// [`BackendError`] from the store.
    pub async fn company_names(
        &self,
        mine: &Scope,
        ids: &[OrgId],
    ) -> Result<Vec<String>, BackendError> {
        let mut names = Vec::new();
        for id in ids {
            if let Some(o) = self.changes.organisation(*id).await?
                && self.corterum.linkable(mine, &[*id]).await?
            {
                names.push(o.value.name.to_string());
            }
        }
        sort_names(&mut names);
        Ok(names)
    }

    /// The entity the actor sees with this name (any case) and, if given, type; `None`
    /// when there is none.
    ///
    /// # Errors
    /// More than one has the name (names are the import's keys, so they must be unique
    /// among what the actor sees), or storage failed.
    pub async fn entity_named(
        &self,
        actor: UserId,
        name: &str,
        kind: Option<EntityKind>,
    ) -> Result<Option<Entity>, RowError> {
        let wanted = name.trim().to_lowercase();
        let query = EntityQuery { search: Search::parse(name), kind };
        let mut found = Vec::new();
        let mut page = Page::numbered(1, Page::MAX_LIMIT);
        loop {
            let batch = self.corterum.entities(actor, &query, page).await?;
            let done = batch.len() < page.limit;
            found.extend(batch.into_iter().filter(|e| e.name.as_str().to_lowercase() == wanted));
            if done {
                break;
            }
            page.offset += page.limit;
        }
        match found.len() {
            0 => Ok(None),
            1 => Ok(found.pop()),
            n => Err(RowError(format!(
                "{n} entities you can see are called `{}`; rename all but one to import by name",
                tenure_domain::name::quoted(name)
            ))),
        }
    }

    /// An entity's name if the actor may see it.
    ///
    /// # Errors
    /// [`BackendError`] from the store.
    pub async fn visible_name(
        &self,
        actor: UserId,
        id: tenure_domain::EntityId,
    ) -> Result<Option<String>, BackendError> {
        match self.corterum.entity(actor, id).await {
            Ok(e) => Ok(Some(e.name.to_string())),
            Err(ManageError::NotFound | ManageError::Forbidden(_)) => Ok(None),
            Err(ManageError::Backend(e)) => Err(e),
            Err(e) => Err(BackendError::new(e.to_string())),
        }
    }
}

/// Sorts names as lists show them: by lower case, then as written.
pub fn sort_names(names: &mut [String]) {
    names.sort_by_cached_key(|n| (n.to_lowercase(), n.clone()));
}

/// A cell's list: items separated by `;`, each item's parts by `=`, a `\` before a `;`,
/// `=` or `\` that belongs to a name; items trimmed, empty ones dropped.
pub fn split_list(cell: &str) -> Vec<Vec<String>> {
    let mut items = Vec::new();
    let mut parts = Vec::new();
    let mut part = String::new();
    let mut chars = cell.chars();
    let mut end_item = |parts: &mut Vec<String>, part: &mut String| {
        parts.push(std::mem::take(part).trim().to_owned());
        let item = std::mem::take(parts);
        if !(item.len() == 1 && item[0].is_empty()) {
            items.push(item);
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '\\' => part.push(chars.next().unwrap_or('\\')),
            ';' => end_item(&mut parts, &mut part),
            '=' => parts.push(std::mem::take(&mut part).trim().to_owned()),
            c => part.push(c),
        }
    }
    end_item(&mut parts, &mut part);
    items
}

/// One name of a list item, escaped.
pub fn escape(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if matches!(c, '\\' | ';' | '=') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A list of items (each already escaped) as one cell: `a; b; c`.
pub fn join_list(items: &[String]) -> String {
    items.join("; ")
}

/// Single names from a list cell: every item must be one name (no `=`).
///
/// # Errors
/// The column and what is accepted.
pub fn names(field: &'static str, cell: &str) -> Result<Vec<String>, crate::usecase::FieldError> {
    split_list(cell)
        .into_iter()
        .map(|mut item| match item.len() {
            1 => Ok(item.remove(0)),
            _ => Err(crate::usecase::FieldError {
                field,
                message: "write names separated by `;` (a `\\` before a `;` or `=` in a name)"
                    .to_owned(),
            }),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_split_and_escape() {
        assert_eq!(
            split_list(" a ; b=c;;d\\;e=f\\=g "),
            vec![
                vec!["a".to_owned()],
                vec!["b".into(), "c".into()],
                vec!["d;e".into(), "f=g".into()]
            ]
        );
        assert!(split_list("").is_empty());
        let odd = "x;y=z\\w";
        assert_eq!(split_list(&escape(odd)), vec![vec![odd.to_owned()]]);
    }
}
