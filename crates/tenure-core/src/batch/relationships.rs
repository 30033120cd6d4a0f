//! Relationships in batches: one row a stock owner -> managing agent relationship, both
//! ends by name (organisation names are public). The natural key is the pair.
//!
//! Creating calls `Manage::change_relationship` with `RelationshipStep::Add`, so the
//! consent rules decide: run as an administrator, who manages both ends, a row is in
//! effect at once; run as a data coordinator, who manages only their own end, it is a
//! request the other end accepts or declines ([`Outcome::Requested`](crate::batch::Outcome));
//! a row for two organisations the actor manages neither of is refused. A row already in
//! effect, or already asked for, is unchanged. A relationship has nothing else to
//! update.
//!
//! The export lists the relationships in effect that the actor may see: each from its
//! stock owner when the actor may view it, otherwise from its managing agent.

use std::collections::HashMap;

use async_trait::async_trait;
use tenure_domain::{
    Action, OrgId, Relationship, RelationshipEffect, RelationshipStep, Request, Resource, UserId,
    World, decide_relationship,
};

use crate::batch::{Created, Kind, RowError, Sources, cell};
use crate::csv::read::{Columns, Row};
use crate::error::BackendError;
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
        Columns { required: &["stock_owner", "managing_agent"], optional: &[] };
    const HEADER: &'static [&'static str] = &["stock_owner", "managing_agent"];

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
        Ok(world.relationship_request(rel).map(|_| Standing::Requested))
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
