//! Entities: the lists (administration and reach), one entity, creating and changing
//! them with their companies and links, and an entity's links in both directions as one
//! actor may see them.

use tenure_domain::entity::{EntityLink, LinkKind};
use tenure_domain::{
    Action, Entity, EntityId, EntityKind, EntityScope, Feature, Name, OrgId, Request, Resource,
    Scope, UserId, World,
};

use crate::audit::{AuditDetail, AuditName, EntityDetail, EntitySave};
use crate::changes::Write;
use crate::corterum::{
    Corterum, EntityInput, EntityLinks, EntityQuery, Listed, check_companies, covers_entity,
    invalid,
};
use crate::ports::Page;
use crate::usecase::{FieldError, ManageError};

impl Corterum {
    /// The scope of the Entities administration page: every entity of the companies the
    /// actor administers entities in (every entity for the root administrator).
    fn admin_scope(world: &World, actor: UserId) -> EntityScope {
        let companies = world.company_scope(actor, Feature::EntityAdministration);
        EntityScope {
            everything: companies.everything,
            company_wide: !companies.everything,
            companies: if companies.everything { Vec::new() } else { companies.organisations },
            ..EntityScope::nothing(actor)
        }
    }

    /// Entities the actor sees: with `entity_administration`, every entity of their
    /// companies; otherwise those their roles reach.
    ///
    /// # Errors
    /// [`ManageError::Backend`] when storage fails.
    pub async fn entities(
        &self,
        actor: UserId,
        query: &EntityQuery,
        page: Page,
    ) -> Result<Vec<Entity>, ManageError> {
        let world = self.world(actor, Resource::Feature(Feature::EntityAdministration)).await?;
        let admin = world
            .decide(&Request::new(
                actor,
                Action::FeatureUse,
                Resource::Feature(Feature::EntityAdministration),
            ))
            .is_allowed();
        let scope = if admin {
            Self::admin_scope(&world, actor)
        } else {
            world.entity_scope(actor, Action::EntityView, None)
        };
        Ok(self.ports.store.entities(&scope, query, page).await?)
    }

    /// One page of the Entities administration list (`entity_administration`): the
    /// entities of the actor's companies (every entity for the root administrator),
    /// searched and filtered by the store, narrowed to one of those companies when
    /// `company` is given (one outside them matches nothing), with how many match in all.
    ///
    /// # Errors
    /// [`ManageError::NotFound`] without the feature.
    pub async fn entity_list(
        &self,
        actor: UserId,
        query: &EntityQuery,
        company: Option<OrgId>,
        page: Page,
    ) -> Result<Listed<Entity>, ManageError> {
        let world = self.feature(actor, Feature::EntityAdministration).await?;
        let mut scope = Self::admin_scope(&world, actor);
        if let Some(c) = company {
            let mine = world.company_scope(actor, Feature::EntityAdministration);
            if !mine.covers_organisation(c) {
                return Ok(Listed::default());
            }
            scope.everything = false;
            scope.company_wide = true;
            scope.companies = vec![c];
        }
        if scope.is_nothing() {
            return Ok(Listed::default());
        }
        let total = self.ports.store.entity_count(&scope, query).await?;
        let items = self.ports.store.entities(&scope, query, page).await?;
        Ok(Listed { items, total })
    }

    /// An entity the actor may see (or administer).
    ///
    /// # Errors
    /// [`ManageError::NotFound`] for an entity out of reach or missing.
    pub async fn entity(&self, actor: UserId, id: EntityId) -> Result<Entity, ManageError> {
        let world = self.world(actor, Resource::Entity(id)).await?;
        let view = world.decide(&Request::new(actor, Action::EntityView, Resource::Entity(id)));
        let admin = world
            .decide(&Request::new(
                actor,
                Action::FeatureUse,
                Resource::Feature(Feature::EntityAdministration),
            ))
            .is_allowed()
            && Self::admin_scope(&world, actor).matches(&world, id);
        if !view.is_allowed() && !admin {
            return Err(ManageError::NotFound);
        }
        self.ports.store.entity(id).await?.ok_or(ManageError::NotFound)
    }

    fn build_entity(
        id: EntityId,
        kind: EntityKind,
        input: &EntityInput,
    ) -> Result<Entity, ManageError> {
        let mut errors = Vec::new();
        let name = match Name::parse(&input.name) {
            Ok(n) => Some(n),
            Err(e) => {
                errors.push(FieldError { field: "name", message: e.to_string() });
                None
            }
        };
        let mut entity = Entity::new(
            id,
            kind,
            name.unwrap_or_else(|| {
                // INVARIANT: only used when errors is not empty, which returns below.
                Name::parse("-").unwrap_or_else(|_| unreachable!())
            }),
        );
        for (field, value) in &input.fields {
            if let Err(e) = entity.set_field(field, value) {
                errors.push(FieldError { field: "fields", message: e.to_string() });
            }
        }
        entity.set_companies(input.companies.clone());
        if errors.is_empty() { Ok(entity) } else { Err(ManageError::Invalid(errors)) }
    }

    /// Links to other entities may point at any entity the administrator can see (of
    /// their companies), never at the entity itself; a link the entity already had to an
    /// entity out of the administrator's sight stays as it was (they cannot see it to
    /// remove it) and cannot be added by id.
    async fn check_links(
        &self,
        mine: &Scope,
        id: EntityId,
        before: &[EntityLink],
        links: &[EntityLink],
    ) -> Result<Vec<EntityLink>, ManageError> {
        let mut out = Vec::new();
        for link in before {
            let to = self.ports.store.entity(link.to).await?;
            if !to.is_some_and(|e| covers_entity(mine, &e)) {
                out.push(link.clone());
            }
        }
        for link in links {
            if let LinkKind::Custom(label) = &link.kind {
                LinkKind::custom(label).map_err(|e| invalid("links", e.to_string()))?;
            }
            let to = if link.to == id { None } else { self.ports.store.entity(link.to).await? };
            match to {
                Some(e) if covers_entity(mine, &e) => out.push(link.clone()),
                _ if link.to == id => {
                    return Err(invalid("links", "an entity cannot be linked to itself"));
                }
                _ => {
                    return Err(invalid(
                        "links",
                        "link to an entity of your companies: choose it from the list",
                    ));
                }
            }
        }
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }

    /// An entity's links in both directions, as the actor may see them: the entity must
    /// be one [`Corterum::entity`] shows them, and so must each entity at the other end
    /// (the rest are left out without a trace, so links never reveal what the actor may
    /// not see).
    ///
    /// # Errors
    /// [`ManageError::NotFound`] for an entity out of reach or missing.
    pub async fn entity_links(
        &self,
        actor: UserId,
        id: EntityId,
    ) -> Result<EntityLinks, ManageError> {
        let entity = self.entity(actor, id).await?;
        let mut to = Vec::new();
        for link in &entity.links {
            if let Some(other) = self.visible(actor, link.to).await? {
                to.push((link.kind.clone(), other));
            }
        }
        let mut from = Vec::new();
        for (other, kind) in self.ports.store.linked_from(id).await? {
            if let Some(other) = self.visible(actor, other).await? {
                from.push((other, kind));
            }
        }
        let key = |e: &Entity| (e.name.as_str().to_lowercase(), e.id);
        to.sort_by_cached_key(|(k, e)| (k.label().to_owned(), key(e)));
        from.sort_by_cached_key(|(e, k)| (key(e), k.label().to_owned()));
        Ok(EntityLinks { entity, to, from })
    }

    /// An entity if the actor may see it, else `None`.
    async fn visible(&self, actor: UserId, id: EntityId) -> Result<Option<Entity>, ManageError> {
        match self.entity(actor, id).await {
            Ok(e) => Ok(Some(e)),
            Err(ManageError::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Creates an entity (`entity_administration`), linked to companies of the actor's.
    ///
    /// # Errors
    /// [`ManageError::NotFound`] without the feature; [`ManageError::Invalid`] for a
    /// missing name or type, unknown fields, or companies not the actor's.
    pub async fn create_entity(
        &self,
        actor: UserId,
        input: &EntityInput,
    ) -> Result<EntityId, ManageError> {
        let world = self.feature(actor, Feature::EntityAdministration).await?;
        let kind = input.kind.ok_or_else(|| {
            invalid("type", "choose the entity's type: person, business or regulator")
        })?;
        let mine = world.company_scope(actor, Feature::EntityAdministration);
        check_companies(&mine, &input.companies)?;
        self.check_linkable(&mine, &input.companies).await?;
        let id = EntityId::from_uuid(self.ports.ids.next_id());
        let mut entity = Self::build_entity(id, kind, input)?;
        if let Some(links) = &input.links {
            entity.links = self.check_links(&mine, id, &[], links).await?;
        }
        let audit = self.event(AuditName::EntitySave, actor, None, entity_detail(None, &entity));
        self.ports.changes.apply(vec![Write::UpsertEntity(entity)], vec![audit]).await?;
        Ok(id)
    }

    /// Changes an entity's name, static data and companies (`entity_administration`,
    /// within the actor's companies). Its type stays.
    ///
    /// # Errors
    /// As [`Corterum::create_entity`]; [`ManageError::NotFound`] out of reach.
    pub async fn update_entity(
        &self,
        actor: UserId,
        id: EntityId,
        input: &EntityInput,
    ) -> Result<(), ManageError> {
        let world = self.world(actor, Resource::Entity(id)).await?;
        self.base
            .require(
                &world,
                Request::new(
                    actor,
                    Action::FeatureUse,
                    Resource::Feature(Feature::EntityAdministration),
                ),
            )
            .await?;
        let before = self.ports.store.entity(id).await?.ok_or(ManageError::NotFound)?;
        if !Self::admin_scope(&world, actor).matches(&world, id) {
            return Err(ManageError::NotFound);
        }
        // Companies the actor is not linked to stay as they were: they cannot see them.
        let mine = world.company_scope(actor, Feature::EntityAdministration);
        let mut companies: Vec<OrgId> =
            before.companies.iter().copied().filter(|c| !mine.covers_organisation(*c)).collect();
        check_companies(&mine, &input.companies)?;
        self.check_linkable(&mine, &input.companies).await?;
        companies.extend_from_slice(&input.companies);
        let mut entity =
            Self::build_entity(id, before.kind, &EntityInput { companies, ..input.clone() })?;
        entity.links = match &input.links {
            Some(links) => self.check_links(&mine, id, &before.links, links).await?,
            None => before.links.clone(),
        };
        if entity == before {
            return Ok(());
        }
        let audit =
            self.event(AuditName::EntitySave, actor, None, entity_detail(Some(&before), &entity));
        self.ports.changes.apply(vec![Write::UpsertEntity(entity)], vec![audit]).await?;
        Ok(())
    }
}

fn entity_detail(before: Option<&Entity>, after: &Entity) -> AuditDetail {
    let one = |e: &Entity| EntityDetail {
        name: e.name.to_string(),
        entity_type: e.kind.to_string(),
        fields: e.fields.keys().cloned().collect(),
        companies: e.companies.len(),
        links: e.links.iter().map(|l| format!("{} {}", l.kind, l.to)).collect(),
    };
    AuditDetail::EntitySave(EntitySave {
        entity: after.id.to_string(),
        before: before.map(one),
        after: one(after),
    })
}
