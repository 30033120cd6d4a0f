//! Organisations: creating, editing, deactivating and reactivating them, and merging one
//! into another.

use tenure_domain::{
    Action, Name, OrgId, Organisation, ProviderType, Request, Resource, Telephone, UserId,
};

use crate::audit::{
    AuditDetail, AuditName, Change, MergedFrom, MergedInto, OrganisationCreate, OrganisationDetail,
};
use crate::changes::{AuditQuery, Write};
use crate::error::BackendError;
use crate::manage::{Manage, OrganisationInput, optional, required, text_or_none};
use crate::ports::Page;
use crate::query::UserQuery;
use crate::usecase::ManageError;

impl Manage {
    fn parse_organisation(
        input: &OrganisationInput,
        id: OrgId,
        active: bool,
    ) -> Result<Organisation, ManageError> {
        let mut errors = Vec::new();
        let name = required(&input.name, "name", Name::parse, &mut errors);
        let telephone = optional(&input.telephone, "telephone", Telephone::parse, &mut errors);
        let Some(name) = name.filter(|_| errors.is_empty()) else {
            return Err(ManageError::Invalid(errors));
        };
        Ok(Organisation {
            id,
            name,
            kind: tenure_domain::OrganisationKind::Housing,
            address: text_or_none(&input.address),
            telephone,
            provider_type: input.provider_type,
            registration_number: text_or_none(&input.registration_number),
            holds_stock: input.holds_stock,
            active,
        })
    }

    /// Creates an organisation.
    ///
    /// # Errors
    /// [`ManageError::Invalid`], or the engine's refusal.
    pub async fn create_organisation(
        &self,
        actor: UserId,
        input: &OrganisationInput,
    ) -> Result<OrgId, ManageError> {
        let world = self.ports.directory.snapshot(actor, Resource::Service).await?;
        self.base
            .require(&world, Request::new(actor, Action::OrganisationCreate, Resource::Service))
            .await?;
        let (org, writes, audit) = self.organisation_writes(actor, input)?;
        self.ports.changes.apply(writes, audit).await?;
        Ok(org.id)
    }

    /// What creating an organisation writes once the engine allowed it: the organisation
    /// (active) and its audit entry. [`Manage::create_organisation`] and a batch import's
    /// chunks write the same.
    ///
    /// # Errors
    /// [`ManageError::Invalid`] for bad details.
    pub(crate) fn organisation_writes(
        &self,
        actor: UserId,
        input: &OrganisationInput,
    ) -> Result<(Organisation, Vec<Write>, Vec<crate::audit::AuditEvent>), ManageError> {
        let id = OrgId::from_uuid(self.ports.ids.next_id());
        let org = Self::parse_organisation(input, id, true)?;
        let audit = self.base.event(
            AuditName::OrganisationCreate,
            Some(actor),
            None,
            Some(id),
            AuditDetail::OrganisationCreate(OrganisationCreate { name: org.name.to_string() }),
        );
        Ok((org.clone(), vec![Write::InsertOrganisation(org)], vec![audit]))
    }

    /// Changes an organisation's details: name, address and telephone need
    /// `organisation.edit_details`, anything else `organisation.edit_all`. Audited with
    /// before and after values.
    ///
    /// # Errors
    /// [`ManageError::Invalid`], [`ManageError::Conflict`], or the engine's refusal.
    pub async fn edit_organisation(
        &self,
        actor: UserId,
        id: OrgId,
        version: i64,
        input: &OrganisationInput,
    ) -> Result<(), ManageError> {
        let current = self.org(id).await?;
        let resource = Resource::Organisation(id);
        let world = self.ports.directory.snapshot(actor, resource).await?;
        self.base.require(&world, Request::new(actor, Action::OrganisationView, resource)).await?;
        let mut next = Self::parse_organisation(input, id, current.value.active)?;
        let before = &current.value;
        // The kind never changes (the engine decided on the organisation as it is).
        next.kind = before.kind;
        let details_only = next.provider_type == before.provider_type
            && next.registration_number == before.registration_number
            && next.holds_stock == before.holds_stock;
        let action = if details_only {
            Action::OrganisationEditDetails
        } else {
            Action::OrganisationEditAll
        };
        self.base.require(&world, Request::new(actor, action, resource)).await?;
        if current.version != version {
            return Err(ManageError::Conflict);
        }
        if next == current.value {
            return Ok(());
        }
        let audit = self.base.event(
            AuditName::OrganisationUpdate,
            Some(actor),
            None,
            Some(id),
            AuditDetail::OrganisationChange(Change {
                before: organisation_detail(before),
                after: organisation_detail(&next),
            }),
        );
        self.ports
            .changes
            .apply(vec![Write::UpdateOrganisation { organisation: next, version }], vec![audit])
            .await?;
        Ok(())
    }

    /// Deactivates an organisation: its users are denied everything until it is
    /// reactivated, which restores exactly those who were active before (individually
    /// deactivated users stay deactivated).
    ///
    /// # Errors
    /// [`ManageError::Conflict`], or the engine's refusal.
    pub async fn deactivate_organisation(
        &self,
        actor: UserId,
        id: OrgId,
        version: i64,
    ) -> Result<(), ManageError> {
        self.set_organisation_active(actor, id, version, false).await
    }

    /// Reactivates an organisation.
    ///
    /// # Errors
    /// As [`Manage::deactivate_organisation`].
    pub async fn reactivate_organisation(
        &self,
        actor: UserId,
        id: OrgId,
        version: i64,
    ) -> Result<(), ManageError> {
        self.set_organisation_active(actor, id, version, true).await
    }

    async fn set_organisation_active(
        &self,
        actor: UserId,
        id: OrgId,
        version: i64,
        active: bool,
    ) -> Result<(), ManageError> {
        let current = self.org(id).await?;
        let resource = Resource::Organisation(id);
        let world = self.ports.directory.snapshot(actor, resource).await?;
        let (action, name) = if active {
            (Action::OrganisationReactivate, AuditName::OrganisationReactivate)
        } else {
            (Action::OrganisationDeactivate, AuditName::OrganisationDeactivate)
        };
        self.base.require(&world, Request::new(actor, action, resource)).await?;
        if current.version != version {
            return Err(ManageError::Conflict);
        }
        let mut next = current.value.clone();
        next.active = active;
        let audit = self.base.event(name, Some(actor), None, Some(id), AuditDetail::Empty);
        self.ports
            .changes
            .apply(vec![Write::UpdateOrganisation { organisation: next, version }], vec![audit])
            .await?;
        Ok(())
    }

    /// Merges `from` into `into`: users, logs and relationships move; `from` is
    /// deactivated and its history stays.
    ///
    /// # Errors
    /// [`ManageError::Conflict`]; the engine's refusal (which covers merging into itself
    /// or into a deactivated organisation, see [`tenure_domain::decide_merge`]).
    pub async fn merge_organisation(
        &self,
        actor: UserId,
        from: OrgId,
        version: i64,
        into: OrgId,
    ) -> Result<(), ManageError> {
        let source = self.org(from).await?;
        // The engine decides first, on a world holding `into` if it exists, so a missing
        // `into` is answered as the engine answers it.
        let target = self.ports.changes.organisation(into).await?;
        let mut world = self.ports.directory.snapshot(actor, Resource::Organisation(from)).await?;
        if let Some(t) = target.as_ref().filter(|t| world.organisation(t.value.id).is_none()) {
            world.insert_organisation(t.value.clone()).map_err(BackendError::new)?;
        }
        let decision = tenure_domain::decide_merge(&world, actor, from, into);
        if !decision.is_allowed() {
            let request =
                Request::new(actor, Action::OrganisationMerge, Resource::Organisation(from));
            return Err(self.base.refuse(&world, request, decision).await);
        }
        let target = target.ok_or(ManageError::NotFound)?;
        if source.version != version {
            return Err(ManageError::Conflict);
        }
        let mut merged = source.value.clone();
        merged.active = false;
        let audit = self.base.event(
            AuditName::OrganisationMerge,
            Some(actor),
            None,
            Some(from),
            AuditDetail::MergedInto(MergedInto {
                into: into.to_string(),
                into_name: target.value.name.to_string(),
            }),
        );
        let audit_into = self.base.event(
            AuditName::OrganisationMerge,
            Some(actor),
            None,
            Some(into),
            AuditDetail::MergedFrom(MergedFrom {
                from: from.to_string(),
                from_name: source.value.name.to_string(),
            }),
        );
        self.ports
            .changes
            .apply(
                vec![
                    Write::TouchOrganisation { id: into, version: target.version },
                    Write::MergeOrganisation { from, into },
                    Write::UpdateOrganisation { organisation: merged, version },
                ],
                vec![audit, audit_into],
            )
            .await?;
        Ok(())
    }
}

/// What merging one organisation into another would move ([`Manage::merge_preview`]).
#[derive(Clone, Debug)]
pub struct MergePreview {
    /// The organisation merged away.
    pub from: Organisation,
    /// The one that receives everything.
    pub into: Organisation,
    /// Its users, who move.
    pub users: usize,
    /// Its logs (owned or managed), which move.
    pub logs: usize,
    /// Its relationships in effect, which move to `into` (those that would duplicate
    /// one of `into`'s or join it to itself are dropped).
    pub relationships: usize,
}

impl Manage {
    /// What merging `from` into `into` would move, once the engine allows the merge
    /// ([`tenure_domain::decide_merge`]): the two organisations and the counts of users,
    /// logs and relationships. For the check page a merge shows before it is confirmed.
    ///
    /// # Errors
    /// The engine's refusal, as [`Manage::merge_organisation`] answers it ("not found"
    /// for an organisation the actor may not see or that does not exist).
    pub async fn merge_preview(
        &self,
        actor: UserId,
        from: OrgId,
        into: OrgId,
    ) -> Result<MergePreview, ManageError> {
        let source = self.org(from).await?;
        let target = self.ports.changes.organisation(into).await?;
        let mut world = self.ports.directory.snapshot(actor, Resource::Organisation(from)).await?;
        if let Some(t) = target.as_ref().filter(|t| world.organisation(t.value.id).is_none()) {
            world.insert_organisation(t.value.clone()).map_err(BackendError::new)?;
        }
        let decision = tenure_domain::decide_merge(&world, actor, from, into);
        if !decision.is_allowed() {
            let request =
                Request::new(actor, Action::OrganisationMerge, Resource::Organisation(from));
            return Err(self.base.refuse(&world, request, decision).await);
        }
        let target = target.ok_or(ManageError::NotFound)?;
        let scope = tenure_domain::Scope {
            organisations: vec![from],
            ..tenure_domain::Scope::nothing(actor)
        };
        let directory = &self.ports.directory;
        let (mut users, mut logs) = (0, 0);
        for n in 1.. {
            let page = Page::numbered(n, Page::MAX_LIMIT);
            let found = directory.users(&scope, &UserQuery::default(), page).await?.len();
            users += found;
            if found < Page::MAX_LIMIT {
                break;
            }
        }
        for n in 1.. {
            let found = directory.logs(&scope, Page::numbered(n, Page::MAX_LIMIT)).await?.len();
            logs += found;
            if found < Page::MAX_LIMIT {
                break;
            }
        }
        // The snapshot about `from` holds its relationships.
        let relationships = world.stock_owners(from).len() + world.managing_agents(from).len();
        Ok(MergePreview { from: source.value, into: target.value, users, logs, relationships })
    }

    /// Where an organisation went, if it was merged: the organisation it was merged
    /// into, by the latest merge the audit trail records of it, once the actor may view
    /// the merged organisation (`organisation.view`).
    ///
    /// # Errors
    /// [`ManageError::NotFound`] when the actor may not view it.
    pub async fn merged_into(
        &self,
        actor: UserId,
        id: OrgId,
    ) -> Result<Option<Organisation>, ManageError> {
        let world = self.ports.directory.snapshot(actor, Resource::Organisation(id)).await?;
        if !world
            .decide(&Request::new(actor, Action::OrganisationView, Resource::Organisation(id)))
            .is_allowed()
        {
            return Err(ManageError::NotFound);
        }
        let query = AuditQuery {
            organisation: Some(id),
            name: Some(AuditName::OrganisationMerge),
            ..AuditQuery::default()
        };
        let events = self.ports.changes.audit(&query, Page::numbered(1, 20)).await?;
        let into = events.iter().find_map(|e| match &e.detail {
            AuditDetail::MergedInto(m) => uuid::Uuid::parse_str(&m.into).ok().map(OrgId::from_uuid),
            _ => None,
        });
        Ok(match into {
            Some(into) => self.ports.changes.organisation(into).await?.map(|o| o.value),
            None => None,
        })
    }
}

pub(crate) fn organisation_detail(o: &Organisation) -> OrganisationDetail {
    OrganisationDetail {
        name: o.name.to_string(),
        address: o.address.clone(),
        telephone: o.telephone.as_ref().map(|t| t.as_str().to_owned()),
        provider_type: match o.provider_type {
            ProviderType::LocalAuthority => "local_authority",
            ProviderType::PrivateRegisteredProvider => "private_registered_provider",
        }
        .to_owned(),
        registration_number: o.registration_number.clone(),
        holds_stock: o.holds_stock,
        active: o.active,
    }
}
