//! The CORE rules for the benchmarked actions, written as Cedar policies under a strict
//! schema, and a world converted into Cedar entities.
//!
//! Cedar's `in` follows parents transitively, so making a managing agent a child of its
//! stock owner would let a coordinator reach an agent's agents. Instead each organisation
//! has two leaf "reach" entities: `AgentReach::"X"` holds X and its direct managing agents,
//! `RelatedReach::"X"` holds X and every organisation directly related to it. The parents
//! encode exactly one hop.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;

use anyhow::Context as _;
use cedar_policy::{
    Authorizer, Context, Decision, Entities, Entity, EntityId, EntityTypeName, EntityUid,
    PolicySet, Request as CedarRequest, RestrictedExpression, Schema, ValidationMode, Validator,
};
use tenure_domain::role::builtin::{ADMINISTRATOR, DATA_COORDINATOR, DATA_PROVIDER};
use tenure_domain::{OrgId, Organisation, Request, Resource, World};

pub(crate) const SCHEMA: &str = r#"
entity AgentReach;
entity RelatedReach;
entity Organisation in [AgentReach, RelatedReach] {
  active: Bool,
  active_coordinators: Long,
};
entity User {
  organisation: Organisation,
  agent_reach: AgentReach,
  related_reach: RelatedReach,
  role: String,
  rank: Long,
  active: Bool,
};
entity Log {
  owning: Organisation,
  managing: Organisation,
  assigned_to?: User,
};
action "user.view", "user.edit_details", "user.deactivate" appliesTo { principal: User, resource: User, context: {} };
action "organisation.view" appliesTo { principal: User, resource: Organisation, context: {} };
action "log.view", "log.delete" appliesTo { principal: User, resource: Log, context: {} };
"#;

pub(crate) const POLICIES: &str = r#"
// A deactivated user, or a user of a deactivated organisation, gets nothing.
forbid (principal, action, resource) unless { principal.active && principal.organisation.active };

permit (principal, action, resource) when { principal.role == "administrator" };

permit (principal, action in [Action::"user.view", Action::"user.edit_details", Action::"user.deactivate"], resource is User)
when { principal.role == "data_coordinator" && resource.organisation in principal.agent_reach };

permit (principal, action == Action::"user.view", resource is User)
when { principal.role == "data_provider" && resource.organisation == principal.organisation };

permit (principal, action == Action::"user.edit_details", resource is User)
when { principal.role == "data_provider" && resource == principal };

permit (principal, action == Action::"organisation.view", resource is Organisation)
when { (principal.role == "data_coordinator" || principal.role == "data_provider") && resource in principal.related_reach };

permit (principal, action == Action::"log.view", resource is Log)
when {
  (principal.role == "data_coordinator" || principal.role == "data_provider") &&
  (resource.owning == principal.organisation || resource.managing == principal.organisation)
};

permit (principal, action == Action::"log.delete", resource is Log)
when { principal.role == "data_coordinator" && (resource.owning == principal.organisation || resource.managing == principal.organisation) };

permit (principal, action == Action::"log.delete", resource is Log)
when { principal.role == "data_provider" && resource has assigned_to && resource.assigned_to == principal };

// Rules no role overrides.
forbid (principal, action == Action::"user.deactivate", resource) when { resource == principal };

forbid (principal, action in [Action::"user.edit_details", Action::"user.deactivate"], resource is User)
when { resource != principal && resource.rank > principal.rank };

forbid (principal, action == Action::"user.deactivate", resource is User) unless { resource.active };

// A user of a deactivated organisation is restored by the organisation's reactivation,
// not deactivated on their own.
forbid (principal, action == Action::"user.deactivate", resource is User)
unless { resource.organisation.active };

forbid (principal, action == Action::"user.deactivate", resource is User)
when { resource.role == "data_coordinator" && resource.active && resource.organisation.active_coordinators <= 1 };
"#;

/// Cedar's side of the comparison.
pub(crate) struct CedarWorld {
    pub(crate) schema: Schema,
    pub(crate) policies: PolicySet,
    pub(crate) entities: Entities,
    pub(crate) authorizer: Authorizer,
    types: Types,
}

struct Types {
    user: EntityTypeName,
    org: EntityTypeName,
    log: EntityTypeName,
    agent: EntityTypeName,
    related: EntityTypeName,
    action: EntityTypeName,
}

impl Types {
    fn new() -> anyhow::Result<Self> {
        Ok(Self {
            user: EntityTypeName::from_str("User")?,
            org: EntityTypeName::from_str("Organisation")?,
            log: EntityTypeName::from_str("Log")?,
            agent: EntityTypeName::from_str("AgentReach")?,
            related: EntityTypeName::from_str("RelatedReach")?,
            action: EntityTypeName::from_str("Action")?,
        })
    }
    fn uid(ty: &EntityTypeName, id: impl std::fmt::Display) -> EntityUid {
        EntityUid::from_type_name_and_id(ty.clone(), EntityId::new(id.to_string()))
    }
}

impl CedarWorld {
    /// Parses the schema and policies, validates the policies strictly, and converts the
    /// world into entities.
    pub(crate) fn build(world: &World) -> anyhow::Result<Self> {
        let (schema, _) = Schema::from_cedarschema_str(SCHEMA).context("schema")?;
        let policies = PolicySet::from_str(POLICIES).context("policies")?;
        let result = Validator::new(schema.clone()).validate(&policies, ValidationMode::Strict);
        anyhow::ensure!(result.validation_passed(), "policies fail strict validation: {result}");
        let types = Types::new()?;
        let entities = Entities::from_entities(entities(world, &types)?, Some(&schema))?;
        Ok(Self { schema, policies, entities, authorizer: Authorizer::new(), types })
    }

    /// Converts a request, checked against the schema (outside any timing).
    pub(crate) fn request(&self, request: &Request) -> anyhow::Result<CedarRequest> {
        let t = &self.types;
        let resource = match request.resource {
            Resource::User(id) => Types::uid(&t.user, id),
            Resource::Organisation(id) => Types::uid(&t.org, id),
            Resource::Log(id) => Types::uid(&t.log, id),
            Resource::Service
            | Resource::Entity(_)
            | Resource::Instance { .. }
            | Resource::Feature(_)
            | Resource::Group(_)
            | Resource::Role(_) => {
                anyhow::bail!("service and Corterum actions are not in the CORE Cedar model")
            }
        };
        Ok(CedarRequest::new(
            Types::uid(&t.user, request.actor),
            Types::uid(&t.action, request.action.as_str()),
            resource,
            Context::empty(),
            Some(&self.schema),
        )?)
    }

    #[inline]
    pub(crate) fn is_allowed(&self, request: &CedarRequest) -> bool {
        self.authorizer.is_authorized(request, &self.policies, &self.entities).decision()
            == Decision::Allow
    }

    /// Applies a relationship change to the organisations it touches, as an embedder of
    /// Cedar must: the changed organisations' entities are replaced (their parents encode
    /// the reach) and Cedar recomputes its hierarchy.
    pub(crate) fn apply_change(self, world: &World, changed: &[OrgId]) -> anyhow::Result<Self> {
        let orgs: Vec<Entity> = changed
            .iter()
            .filter_map(|id| world.organisation(*id))
            .map(|o| org_entity(world, o, &self.types))
            .collect::<anyhow::Result<_>>()?;
        let entities = self.entities.upsert_entities(orgs, Some(&self.schema))?;
        Ok(Self { entities, ..self })
    }
}

fn org_entity(world: &World, o: &Organisation, t: &Types) -> anyhow::Result<Entity> {
    let mut parents = HashSet::new();
    parents.insert(Types::uid(&t.agent, o.id));
    parents.insert(Types::uid(&t.related, o.id));
    for owner in world.stock_owners(o.id) {
        parents.insert(Types::uid(&t.agent, owner));
        parents.insert(Types::uid(&t.related, owner));
    }
    for agent in world.managing_agents(o.id) {
        parents.insert(Types::uid(&t.related, agent));
    }
    let attrs = HashMap::from([
        ("active".to_owned(), RestrictedExpression::new_bool(o.active)),
        (
            "active_coordinators".to_owned(),
            RestrictedExpression::new_long(world.guarded_holders(o.id) as i64),
        ),
    ]);
    Ok(Entity::new(Types::uid(&t.org, o.id), attrs, parents)?)
}

fn entities(world: &World, t: &Types) -> anyhow::Result<Vec<Entity>> {
    let mut out = Vec::new();
    for o in world.organisations() {
        out.push(Entity::new_no_attrs(Types::uid(&t.agent, o.id), HashSet::new()));
        out.push(Entity::new_no_attrs(Types::uid(&t.related, o.id), HashSet::new()));
        out.push(org_entity(world, o, t)?);
    }
    for u in world.users() {
        let (role, rank) = match u.roles.first() {
            Some(r) if *r == ADMINISTRATOR => ("administrator", 3),
            Some(r) if *r == DATA_COORDINATOR => ("data_coordinator", 2),
            Some(r) if *r == DATA_PROVIDER => ("data_provider", 1),
            _ => ("none", 0),
        };
        let attrs = HashMap::from([
            (
                "organisation".to_owned(),
                RestrictedExpression::new_entity_uid(Types::uid(&t.org, u.organisation)),
            ),
            (
                "agent_reach".to_owned(),
                RestrictedExpression::new_entity_uid(Types::uid(&t.agent, u.organisation)),
            ),
            (
                "related_reach".to_owned(),
                RestrictedExpression::new_entity_uid(Types::uid(&t.related, u.organisation)),
            ),
            ("role".to_owned(), RestrictedExpression::new_string(role.to_owned())),
            ("rank".to_owned(), RestrictedExpression::new_long(rank)),
            ("active".to_owned(), RestrictedExpression::new_bool(u.active)),
        ]);
        out.push(Entity::new(Types::uid(&t.user, u.id), attrs, HashSet::new())?);
    }
    for l in world.logs() {
        let mut attrs = HashMap::from([
            (
                "owning".to_owned(),
                RestrictedExpression::new_entity_uid(Types::uid(&t.org, l.owning_organisation)),
            ),
            (
                "managing".to_owned(),
                RestrictedExpression::new_entity_uid(Types::uid(&t.org, l.managing_organisation)),
            ),
        ]);
        if let Some(a) = l.assigned_to {
            attrs.insert(
                "assigned_to".to_owned(),
                RestrictedExpression::new_entity_uid(Types::uid(&t.user, a)),
            );
        }
        out.push(Entity::new(Types::uid(&t.log, l.id), attrs, HashSet::new())?);
    }
    Ok(out)
}
