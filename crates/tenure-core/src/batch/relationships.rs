//! Relationships in batches: one row a stock owner -> managing agent relationship, both
//! ends by name (organisation names are public). The natural key is the pair.
//!
//! Creating calls `Manage::change_relationship` with `RelationshipStep::Add`, so the
//! consent rules decide: run as an administrator, who manages both ends, a row is in
//! effect at once; run as a data coordinator, who manages only their own end, it is a
//! request the other end accepts or declines ([`Outcome::Requested`](crate::batch::Outcome));
//! a row for two organisations the actor manages neither of is refused. A row already in
//! effect is unchanged; one already asked for is unchanged when run by the side that
//! asked, and agreed to (in effect, [`Outcome::Created`](crate::batch::Outcome)) when run by
//! someone who may answer for the other end, as adding it on the web does. A relationship
//! has nothing else to update.
//!
//! In a chunk ([`Bulk`]) a row the chunk's data settles (both ends found, the engine's
//! answer an add or a request, the pair not there yet) is written with the same writes
//! and audit entries as the service's (`Manage::relationship_writes`), the other end's
//! relationship managers' emails included; any other row (an end that does not exist or
//! is a company, a refusal) goes through the service on its own, which answers it.
//!
//! The export lists the relationships in effect that the actor may see: each from its
//! stock owner when the actor may view it, otherwise from its managing agent.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use tenure_domain::{
    Action, OrgId, Organisation, Relationship, RelationshipEffect, RelationshipStep, Request,
    Resource, User, UserId, World, decide_relationship,
};

use crate::batch::chunk::{Chunk, RowWrites};
use crate::batch::{
    Bulk, BulkPath, Created, Kind, Options, Outcome, Planned, Planner, RowError, Sources, cell,
};
use crate::csv::read::{Column, Columns, Row};
use crate::error::BackendError;
use crate::manage::Manage;
use crate::ports::Page;
use crate::query::OrganisationQuery;
use crate::usecase::FieldError;

/// The relationships kind.
#[derive(Clone, Debug)]
pub struct Relationships {
    sources: Sources,
}

impl Relationships {
    /// The kind over these services.
    pub fn new(sources: Sources) -> Self {
        Self { sources }
    }
}

/// A parsed row: both ends by name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelationshipRow {
    /// The stock owner's name.
    pub stock_owner: String,
    /// The managing agent's name.
    pub managing_agent: String,
}

/// Where a relationship stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Standing {
    /// In effect.
    InEffect,
    /// Asked for, waiting for the other end.
    Requested,
}

impl Relationships {
    async fn org_id(&self, field: &str, name: &str) -> Result<OrgId, RowError> {
        self.sources.manage.organisation_by_name(name).await?.ok_or_else(|| {
            RowError(format!(
                "{field}: organisation `{}` does not exist",
                tenure_domain::name::quoted(name)
            ))
        })
    }

    async fn relationship(&self, input: &RelationshipRow) -> Result<Relationship, RowError> {
        Ok(Relationship {
            stock_owner: self.org_id("stock_owner", &input.stock_owner).await?,
            managing_agent: self.org_id("managing_agent", &input.managing_agent).await?,
        })
    }

    /// The actor's snapshot about the stock owner, with both ends and any pending request,
    /// as the service decides on.
    async fn world(&self, actor: UserId, rel: Relationship) -> Result<World, RowError> {
        let mut world =
            self.sources.directory.snapshot(actor, Resource::Organisation(rel.stock_owner)).await?;
        for id in [rel.stock_owner, rel.managing_agent] {
            if world.organisation(id).is_none() {
                if let Some(org) = self.sources.changes.organisation(id).await? {
                    world.insert_organisation(org.value).map_err(|e| RowError(e.to_string()))?;
                }
            }
        }
        if let Some(p) = self.sources.changes.relationship_request(rel).await? {
            if world.relationship_request(rel).is_none() {
                world
                    .request_relationship(rel, p.requested_by)
                    .map_err(|e| RowError(e.to_string()))?;
            }
        }
        Ok(world)
    }
}

fn may_view(world: &World, actor: UserId, id: OrgId) -> bool {
    world
        .decide(&Request::new(actor, Action::OrganisationView, Resource::Organisation(id)))
        .is_allowed()
}

#[async_trait]
impl Kind for Relationships {
    type Input = RelationshipRow;
    type Existing = Standing;

    const COLUMNS: Columns<'static> =
        Columns { columns: &[Column::required("stock_owner"), Column::required("managing_agent")] };

    fn parse(&self, row: &Row) -> Result<RelationshipRow, Vec<FieldError>> {
        let mut errors = Vec::new();
        for field in ["stock_owner", "managing_agent"] {
            if cell(row, field).trim().is_empty() {
                errors.push(FieldError {
                    field,
                    message: "enter the organisation's name".to_owned(),
                });
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(RelationshipRow {
            stock_owner: cell(row, "stock_owner").trim().to_owned(),
            managing_agent: cell(row, "managing_agent").trim().to_owned(),
        })
    }

    fn key(&self, input: &RelationshipRow) -> String {
        format!("{} -> {}", input.stock_owner, input.managing_agent)
    }

    async fn find(
        &self,
        actor: UserId,
        input: &RelationshipRow,
    ) -> Result<Option<Standing>, RowError> {
        let rel = self.relationship(input).await?;
        let world = self.world(actor, rel).await?;
        // Only someone who may see one end learns whether the two are related.
        if !may_view(&world, actor, rel.stock_owner) && !may_view(&world, actor, rel.managing_agent)
        {
            return Ok(None);
        }
        if self.sources.directory.relationships_of(&[rel.stock_owner]).await?.contains(&rel) {
            return Ok(Some(Standing::InEffect));
        }
        if world.relationship_request(rel).is_none() {
            return Ok(None);
        }
        // Asked for already: unchanged for its own side, but someone who may answer for
        // the other end (an administrator, the other end's coordinator) agrees by
        // importing it, as adding it on the web does.
        Ok(match decide_relationship(&world, actor, rel, RelationshipStep::Add) {
            Ok(RelationshipEffect::Requested { .. }) | Err(_) => Some(Standing::Requested),
            Ok(_) => None,
        })
    }

    fn differs(&self, _: &RelationshipRow, _: &Standing) -> bool {
        false
    }

    async fn check(
        &self,
        actor: UserId,
        input: &RelationshipRow,
        _: Option<&Standing>,
    ) -> Result<Created, RowError> {
        let rel = self.relationship(input).await?;
        let mut world = self.world(actor, rel).await?;
        match decide_relationship(&world, actor, rel, RelationshipStep::Add) {
            Ok(RelationshipEffect::Requested { by }) => {
                world.request_relationship(rel, by).map_err(|e| RowError(e.to_string()))?;
                Ok(Created::Requested)
            }
            Ok(_) => {
                world.add_relationship(rel).map_err(|e| RowError(e.to_string()))?;
                Ok(Created::Done)
            }
            Err(_) => {
                self.sources
                    .allowed(Request::new(
                        actor,
                        Action::OrganisationManageRelationships,
                        Resource::Organisation(rel.stock_owner),
                    ))
                    .await?;
                Err(RowError("you cannot change this relationship".to_owned()))
            }
        }
    }

    async fn create(&self, actor: UserId, input: &RelationshipRow) -> Result<Created, RowError> {
        let rel = self.relationship(input).await?;
        let effect =
            self.sources.manage.change_relationship(actor, rel, RelationshipStep::Add).await?;
        Ok(match effect {
            RelationshipEffect::Requested { .. } => Created::Requested,
            _ => Created::Done,
        })
    }

    async fn update(&self, _: UserId, _: &RelationshipRow, _: &Standing) -> Result<(), RowError> {
        Ok(())
    }

    fn bulk(&self) -> Option<BulkPath<'_, RelationshipRow>> {
        let chunks = self.sources.chunks.clone()?;
        Some(BulkPath { planner: self, chunks })
    }

    async fn export_page(
        &self,
        actor: UserId,
        number: usize,
    ) -> Result<Option<Vec<Vec<String>>>, BackendError> {
        let service = self.sources.directory.snapshot(actor, Resource::Service).await?;
        let page = Page::numbered(number, Page::MAX_LIMIT);
        let orgs = self
            .sources
            .manage
            .organisations_page(actor, &service, &OrganisationQuery::default(), page)
            .await?;
        if orgs.is_empty() {
            return Ok(None);
        }
        let scope = service.scope(actor, Action::OrganisationView);
        let ids: Vec<OrgId> = orgs.iter().map(|o| o.id).collect();
        // Each relationship once: from its stock owner when the actor may view it,
        // otherwise from its managing agent (a coordinator sees her stock owners).
        let edges: Vec<Relationship> = self
            .sources
            .directory
            .relationships_of(&ids)
            .await?
            .into_iter()
            .filter(|r| {
                ids.contains(&r.stock_owner)
                    || (ids.contains(&r.managing_agent)
                        && !scope.covers_organisation(r.stock_owner))
            })
            .collect();
        let mut names: HashMap<OrgId, String> =
            orgs.iter().map(|o| (o.id, o.name.to_string())).collect();
        let missing: Vec<OrgId> = edges
            .iter()
            .flat_map(|r| [r.stock_owner, r.managing_agent])
            .filter(|id| !names.contains_key(id))
            .collect();
        if !missing.is_empty() {
            for o in self.sources.manage.organisations_by_id(actor, &missing).await? {
                names.insert(o.id, o.name.to_string());
            }
        }
        let mut rows: Vec<Vec<String>> = edges
            .iter()
            .filter_map(|r| {
                Some(vec![
                    names.get(&r.stock_owner)?.clone(),
                    names.get(&r.managing_agent)?.clone(),
                ])
            })
            .collect();
        rows.sort_by_key(|r| (r[0].to_lowercase(), r[1].to_lowercase()));
        rows.dedup();
        Ok(Some(rows))
    }
}

/// A chunk of relationships: both ends of every row by name, the relationships and
/// requests they are in, and their users (for the emails), read in the chunk's
/// transaction, in the actor's snapshot of the service.
struct RelationshipsPlanner<'a> {
    kind: &'a Relationships,
    actor: UserId,
    world: World,
    /// By lower-case name.
    orgs: HashMap<String, Organisation>,
    /// In effect (or added by an earlier row): a row for one is unchanged.
    there: HashSet<Relationship>,
    /// Each end's users.
    members: HashMap<OrgId, Vec<User>>,
}

#[async_trait]
impl Bulk<RelationshipRow> for Relationships {
    async fn load<'a>(
        &'a self,
        chunk: &mut (dyn Chunk + '_),
        actor: UserId,
        rows: &[&RelationshipRow],
    ) -> Result<Box<dyn Planner<RelationshipRow> + 'a>, BackendError> {
        let mut names: Vec<String> =
            rows.iter().flat_map(|r| [r.stock_owner.clone(), r.managing_agent.clone()]).collect();
        names.sort_unstable();
        names.dedup();
        let orgs = chunk.organisations_by_name(&names).await?;
        // Relationships are CORE's: a company named is left to the service's answer.
        let housing: Vec<OrgId> =
            orgs.iter().filter(|o| Manage::on_core(&o.value)).map(|o| o.value.id).collect();
        let (edges, requests) = chunk.relationships_among(&housing).await?;
        let mut members: HashMap<OrgId, Vec<User>> = HashMap::new();
        for user in chunk.members_of(&housing).await? {
            members.entry(user.organisation).or_default().push(user);
        }
        // As the service's world: the actor's snapshot with both ends and the pending
        // request; on SQLite the chunk holds the write lock, so it reads what the chunk
        // reads.
        let mut world = self.sources.directory.snapshot(actor, Resource::Service).await?;
        for org in &orgs {
            if Manage::on_core(&org.value) && world.organisation(org.value.id).is_none() {
                world.insert_organisation(org.value.clone()).map_err(BackendError::new)?;
            }
        }
        let there: HashSet<Relationship> = edges.into_iter().collect();
        for p in requests {
            let rel = p.relationship;
            let ends_known = world.organisation(rel.stock_owner).is_some()
                && world.organisation(rel.managing_agent).is_some();
            if ends_known && world.relationship_request(rel).is_none() {
                world.request_relationship(rel, p.requested_by).map_err(BackendError::new)?;
            }
        }
        Ok(Box::new(RelationshipsPlanner {
            kind: self,
            actor,
            world,
            orgs: orgs
                .into_iter()
                .map(|o| (o.value.name.as_str().to_lowercase(), o.value))
                .collect(),
            there,
            members,
        }))
    }
}

impl Planner<RelationshipRow> for RelationshipsPlanner<'_> {
    fn plan(&mut self, input: &RelationshipRow, _: Options) -> Planned {
        let end = |name: &str| self.orgs.get(&name.trim().to_lowercase()).cloned();
        let (Some(owner), Some(agent)) = (end(&input.stock_owner), end(&input.managing_agent))
        else {
            return Planned::Services;
        };
        if !Manage::on_core(&owner) || !Manage::on_core(&agent) {
            return Planned::Services;
        }
        let actor = self.actor;
        let rel = Relationship { stock_owner: owner.id, managing_agent: agent.id };
        // As `find`: only someone who may see one end learns whether the two are related.
        if !may_view(&self.world, actor, rel.stock_owner)
            && !may_view(&self.world, actor, rel.managing_agent)
        {
            return Planned::Services;
        }
        if self.there.contains(&rel) {
            return Planned::Done(Outcome::Unchanged);
        }
        let pending = self.world.relationship_request(rel).is_some();
        // A refusal is the service's to answer and audit, on its own.
        let Ok(effect) = decide_relationship(&self.world, actor, rel, RelationshipStep::Add) else {
            return Planned::Services;
        };
        let (taken, outcome) = match effect {
            // Asked for already, by the actor's own side: unchanged (as `find`).
            RelationshipEffect::Requested { .. } if pending => {
                return Planned::Done(Outcome::Unchanged);
            }
            RelationshipEffect::Added | RelationshipEffect::Accepted { .. } => {
                (self.world.add_relationship(rel), Outcome::Created)
            }
            RelationshipEffect::Requested { by } => {
                (self.world.request_relationship(rel, by), Outcome::Requested)
            }
            _ => return Planned::Services,
        };
        if taken.is_err() {
            return Planned::Services;
        }
        self.there.insert(rel);
        let ends = [owner, agent];
        let actor_org = self.world.user(actor).map(|u| u.organisation);
        let members: Vec<(OrgId, Vec<User>)> = ends
            .iter()
            .filter(|e| Some(e.id) != actor_org)
            .map(|e| (e.id, self.members.get(&e.id).cloned().unwrap_or_default()))
            .collect();
        let manage = &self.kind.sources.manage;
        let built = manage
            .relationship_writes(&self.world, actor, rel, effect, pending, &ends, &members)
            .map_err(crate::usecase::ManageError::from)
            .and_then(|(writes, _, audit)| Ok((manage.seal(writes)?, audit)));
        match built {
            Ok((writes, audit)) => Planned::Write(outcome, RowWrites { writes, audit }),
            Err(e) => Planned::Refused(e.into(), None),
        }
    }
}
