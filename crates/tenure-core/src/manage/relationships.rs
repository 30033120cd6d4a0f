//! Relationships by consent: the steps of a relationship's life as the engine decides
//! them, the requests waiting for an answer, and the organisation names to choose from.

use tenure_domain::{
    Action, Name, OrgId, Organisation, Relationship, RelationshipEffect, RelationshipError,
    RelationshipStep, Request, Resource, User, UserId, World, decide_relationship,
};

use crate::audit::{AuditDetail, AuditEvent, AuditName, RelationshipDetail};
use crate::changes::{ChangeError, RelationshipRequest, Write};
use crate::error::BackendError;
use crate::manage::Manage;
use crate::notification::{self, Notification, RelationshipChange};
use crate::ports::Page;
use crate::usecase::ManageError;

impl Manage {
    /// A world for deciding a step about `rel`: the actor's snapshot with both ends and
    /// the pending request, if any.
    async fn relationship_world(
        &self,
        actor: UserId,
        rel: Relationship,
    ) -> Result<(World, Vec<Organisation>, bool), ManageError> {
        // A missing end is not an error here: the engine decides on the world without
        // it (someone who manages the other end may be refused, or may be told the
        // organisation does not exist by the world's own rules).
        // Relationships are CORE's, between housing organisations: a Corterum company
        // named as an end is left out like an end that does not exist, so the engine
        // answers exactly as it does for an id nothing has.
        let mut ends = Vec::new();
        let mut companies = Vec::new();
        for id in [rel.stock_owner, rel.managing_agent] {
            if let Some(org) = self.ports.changes.organisation(id).await? {
                if Self::on_core(&org.value) {
                    ends.push(org.value);
                } else {
                    companies.push(id);
                }
            }
        }
        let anchor = if companies.contains(&rel.stock_owner) {
            Resource::Service
        } else {
            Resource::Organisation(rel.stock_owner)
        };
        let mut world = self.ports.directory.snapshot(actor, anchor).await?;
        if companies.iter().any(|c| world.organisation(*c).is_some()) {
            return Err(ManageError::NotFound);
        }
        for org in &ends {
            if world.organisation(org.id).is_none() {
                world.insert_organisation(org.clone()).map_err(BackendError::new)?;
            }
        }
        let pending = self.ports.changes.relationship_request(rel).await?;
        if let Some(p) = pending {
            if world.relationship_request(rel).is_none() {
                world.request_relationship(rel, p.requested_by).map_err(BackendError::new)?;
            }
        }
        Ok((world, ends, pending.is_some()))
    }

    /// Takes a step in a relationship's life, as the engine decides
    /// ([`tenure_domain::decide_relationship`]): an administrator adds at once; a data
    /// coordinator's add is a request that the other end accepts or declines, or that
    /// they withdraw; either end removes at once. Each step is audited on both
    /// organisations, and the other organisation's relationship managers are emailed.
    ///
    /// # Errors
    /// [`ManageError::Relationship`] saying which rule (self, stock, duplicate, none
    /// pending); [`ManageError::NotFound`] or [`ManageError::Forbidden`] as the engine
    /// decides.
    pub async fn change_relationship(
        &self,
        actor: UserId,
        rel: Relationship,
        step: RelationshipStep,
    ) -> Result<RelationshipEffect, ManageError> {
        let (mut world, ends, pending) = self.relationship_world(actor, rel).await?;
        let effect = match decide_relationship(&world, actor, rel, step) {
            Ok(effect) => effect,
            Err(denial) => {
                let request = Request::new(
                    actor,
                    Action::OrganisationManageRelationships,
                    Resource::Organisation(rel.stock_owner),
                );
                return Err(self.base.refuse(&world, request, denial).await);
            }
        };
        match effect {
            RelationshipEffect::Added | RelationshipEffect::Accepted { .. } => {
                world.add_relationship(rel)?;
            }
            RelationshipEffect::Requested { by } => world.request_relationship(rel, by)?,
            RelationshipEffect::Declined { .. } | RelationshipEffect::Withdrawn { .. } => {
                world.remove_request(rel)?;
            }
            RelationshipEffect::Removed => {}
        }
        let names = |id: OrgId| {
            ends.iter().find(|o| o.id == id).map_or_else(|| id.to_string(), |o| o.name.to_string())
        };
        // The other end is told in the same transaction as the step it is told of.
        let actor_org = world.user(actor).map(|u| u.organisation);
        let mut members = Vec::new();
        for end in &ends {
            if Some(end.id) != actor_org {
                members.push((end.id, self.relationship_members(end).await?));
            }
        }
        let (writes, name, events) =
            self.relationship_writes(&world, actor, rel, effect, pending, &ends, &members)?;
        let result = self.commit(writes, events).await;
        match result {
            Ok(()) => {}
            // The store knows relationships the actor's snapshot may not hold.
            Err(ChangeError::Duplicate) => {
                return Err(if name == AuditName::RelationshipRequest {
                    RelationshipError::AlreadyRequested {
                        stock_owner: names(rel.stock_owner),
                        managing_agent: names(rel.managing_agent),
                    }
                } else {
                    RelationshipError::Duplicate {
                        stock_owner: names(rel.stock_owner),
                        managing_agent: names(rel.managing_agent),
                    }
                }
                .into());
            }
            Err(ChangeError::Conflict) if name == AuditName::RelationshipRemove => {
                return Err(RelationshipError::NotFound {
                    stock_owner: names(rel.stock_owner),
                    managing_agent: names(rel.managing_agent),
                }
                .into());
            }
            Err(e) => return Err(e.into()),
        }
        Ok(effect)
    }

    /// Organisations whose names contain `term`, by name, at most ten, for choosing the
    /// other end of a relationship. Organisation names are public in CORE (they are
    /// registered providers), so this reads every organisation's name and nothing else,
    /// and is for anyone who manages some organisation's relationships.
    ///
    /// # Errors
    /// [`ManageError::NotFound`] for anyone who manages no organisation's relationships.
    pub async fn organisation_names(
        &self,
        actor: UserId,
        term: &str,
    ) -> Result<Vec<(OrgId, Name)>, ManageError> {
        let world = self.ports.directory.snapshot(actor, Resource::Service).await?;
        if world.scope(actor, Action::OrganisationManageRelationships).is_nothing() {
            return Err(ManageError::NotFound);
        }
        let Some(search) = crate::query::Search::parse(term) else { return Ok(Vec::new()) };
        // Housing organisations only: relationships are CORE's, and a Corterum company
        // is never offered.
        let public = tenure_domain::Scope {
            actor,
            everything: true,
            kind: tenure_domain::OrganisationKind::Housing,
            organisations: Vec::new(),
            own: false,
        };
        let query = crate::query::OrganisationQuery { search: Some(search), active: Some(true) };
        let found =
            self.ports.directory.organisations(&public, &query, Page::numbered(1, 10)).await?;
        Ok(found.into_iter().map(|o| (o.id, o.name)).collect())
    }

    /// The pending relationship requests with this organisation at either end, for those
    /// who manage its relationships.
    ///
    /// # Errors
    /// [`ManageError::NotFound`] or [`ManageError::Forbidden`] as the engine decides.
    pub async fn relationship_requests(
        &self,
        actor: UserId,
        organisation: OrgId,
    ) -> Result<Vec<RelationshipRequest>, ManageError> {
        let resource = Resource::Organisation(organisation);
        let world = self.ports.directory.snapshot(actor, resource).await?;
        self.base
            .require(&world, Request::new(actor, Action::OrganisationManageRelationships, resource))
            .await?;
        Ok(self.ports.changes.relationship_requests(organisation).await?)
    }

    /// What a step writes, and its audit entries (one on each end), as the engine decided
    /// it on `world` (the step already taken in it): the relationship or request, and an
    /// email to each of `members` (the users of each end to tell, by end) who manages
    /// that end's relationships. Shared by [`Manage::change_relationship`] and a batch
    /// import's chunk (`batch::relationships`), so both write the same.
    ///
    /// # Errors
    /// [`BackendError`] when a message cannot be sealed for the queue.
    #[expect(clippy::too_many_arguments, reason = "one step's facts, read apart by its callers")]
    pub(crate) fn relationship_writes(
        &self,
        world: &World,
        actor: UserId,
        rel: Relationship,
        effect: RelationshipEffect,
        pending: bool,
        ends: &[Organisation],
        members: &[(OrgId, Vec<User>)],
    ) -> Result<(Vec<Write>, AuditName, Vec<AuditEvent>), BackendError> {
        let drop_request = Write::DropRelationshipRequest(rel);
        let (mut writes, name) = match effect {
            RelationshipEffect::Added => {
                let mut writes = Vec::new();
                if pending {
                    writes.push(drop_request);
                }
                writes.push(Write::InsertRelationship(rel));
                (writes, AuditName::RelationshipAdd)
            }
            RelationshipEffect::Requested { by } => {
                let request = RelationshipRequest {
                    relationship: rel,
                    requested_by: by,
                    requested_at: self.base.now(),
                };
                (vec![Write::RequestRelationship(request)], AuditName::RelationshipRequest)
            }
            RelationshipEffect::Accepted { .. } => {
                (vec![drop_request, Write::InsertRelationship(rel)], AuditName::RelationshipAccept)
            }
            RelationshipEffect::Declined { .. } => {
                (vec![drop_request], AuditName::RelationshipDecline)
            }
            RelationshipEffect::Withdrawn { .. } => {
                (vec![drop_request], AuditName::RelationshipWithdraw)
            }
            RelationshipEffect::Removed => {
                (vec![Write::DeleteRelationship(rel)], AuditName::RelationshipRemove)
            }
        };
        for (end, users) in members {
            if let Some(to) = ends.iter().find(|o| o.id == *end) {
                writes.extend(self.relationship_mail(world, to, users, ends, rel, effect)?);
            }
        }
        Ok((writes, name, self.relationship_event(name, actor, rel)))
    }

    /// The users of `to` a relationship step may be told of (the mail decides who, with
    /// the engine).
    async fn relationship_members(&self, to: &Organisation) -> Result<Vec<User>, BackendError> {
        let scope = tenure_domain::Scope {
            actor: UserId::from_uuid(uuid::Uuid::nil()),
            everything: false,
            kind: to.kind,
            organisations: vec![to.id],
            own: false,
        };
        self.ports
            .directory
            .users(&scope, &crate::query::UserQuery::default(), Page::numbered(1, Page::MAX_LIMIT))
            .await
    }

    /// The writes that queue an email to each of `members` who manages `to`'s
    /// relationships (the engine says who) about a step another organisation took.
    fn relationship_mail(
        &self,
        world: &World,
        to: &Organisation,
        members: &[User],
        ends: &[Organisation],
        rel: Relationship,
        effect: RelationshipEffect,
    ) -> Result<Vec<Write>, BackendError> {
        let mut local = World::with_roles(world.roles().clone());
        local.insert_organisation(to.clone()).map_err(BackendError::new)?;
        let name = |id: OrgId| ends.iter().find(|o| o.id == id).map(|o| o.name.clone());
        let change = match effect {
            RelationshipEffect::Added => RelationshipChange::Added,
            RelationshipEffect::Requested { by } => RelationshipChange::Requested { by: name(by) },
            RelationshipEffect::Accepted { .. } => RelationshipChange::Accepted,
            RelationshipEffect::Declined { .. } => RelationshipChange::Declined,
            RelationshipEffect::Withdrawn { .. } => RelationshipChange::Withdrawn,
            RelationshipEffect::Removed => RelationshipChange::Removed,
        };
        let path = format!("/organisations/{}/relationships", to.id);
        let url = notification::page(&self.policy.base_url, &path);
        let mut mail = Vec::new();
        for user in members {
            // Only this organisation's; users whose roles this world does not hold
            // (custom roles) are not told.
            if user.organisation != to.id
                || !user.active
                || local.upsert_user(user.clone()).is_err()
            {
                continue;
            }
            let may = local.decide(&Request::new(
                user.id,
                Action::OrganisationManageRelationships,
                Resource::Organisation(to.id),
            ));
            if !may.is_allowed() {
                continue;
            }
            let message = Notification::RelationshipChanged {
                to: user.email.clone(),
                name: user.name.clone(),
                organisation: to.name.clone(),
                stock_owner: name(rel.stock_owner),
                managing_agent: name(rel.managing_agent),
                change: change.clone(),
                url: url.clone(),
            };
            mail.push(self.queue(message));
        }
        Ok(mail)
    }

    fn relationship_event(
        &self,
        name: AuditName,
        actor: UserId,
        rel: Relationship,
    ) -> Vec<AuditEvent> {
        let detail = AuditDetail::Relationship(RelationshipDetail {
            stock_owner: rel.stock_owner.to_string(),
            managing_agent: rel.managing_agent.to_string(),
        });
        vec![
            self.base.event(name, Some(actor), None, Some(rel.stock_owner), detail.clone()),
            self.base.event(name, Some(actor), None, Some(rel.managing_agent), detail),
        ]
    }
}
