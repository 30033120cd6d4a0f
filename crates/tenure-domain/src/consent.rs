//! Relationships by consent.
//!
//! A relationship widens reach: a data coordinator manages the users of their
//! organisation's managing agents. So a relationship takes effect only when someone who
//! manages the relationships of *each* end agrees. An actor who manages both ends (an
//! administrator) adds it at once; an actor who manages one end (a data coordinator)
//! makes a request that someone managing the other end accepts or declines, and that the
//! requesting end may withdraw. Either end may remove a relationship at once: removing
//! never widens anyone's reach.
//!
//! "Manages the relationships of an organisation" is the engine's
//! `organisation.manage_relationships` decision on that organisation, so who may do what
//! comes from role data like every other rule.

use crate::action::Action;
use crate::engine::{Decision, DenyReason, Precondition, Request, Resource};
use crate::id::{OrgId, UserId};
use crate::organisation::Relationship;
use crate::world::World;

/// A step in a relationship's life.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum RelationshipStep {
    /// Make it: at once, or as a request to the other end.
    Add,
    /// Agree to a pending request from the other end.
    Accept,
    /// Refuse a pending request from the other end.
    Decline,
    /// Take back one's own end's pending request.
    Withdraw,
    /// End a relationship in effect.
    Remove,
}

/// What an allowed step does.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum RelationshipEffect {
    /// The relationship is in effect now.
    Added,
    /// A request from this end now waits for the other end.
    Requested {
        /// The end that asked.
        by: OrgId,
    },
    /// The other end's pending request was agreed to: the relationship is in effect.
    Accepted {
        /// The end that asked.
        by: OrgId,
    },
    /// The pending request was refused.
    Declined {
        /// The end that asked.
        by: OrgId,
    },
    /// The pending request was taken back.
    Withdrawn {
        /// The end that asked.
        by: OrgId,
    },
    /// The relationship ended.
    Removed,
}

/// Decides a relationship step. A denial is a [`Decision::Deny`], concealing when the
/// actor may see neither end.
///
/// The relationship's own validity (no self-relationship, the stock owner holds stock,
/// no duplicate) is the world's to check when the step is applied
/// ([`World::add_relationship`], [`World::request_relationship`]).
///
/// # Errors
/// The denial, as a [`Decision::Deny`].
pub fn decide_relationship(
    world: &World,
    actor: UserId,
    rel: Relationship,
    step: RelationshipStep,
) -> Result<RelationshipEffect, Decision> {
    let manage = |end: OrgId| {
        world.decide(&Request::new(
            actor,
            Action::OrganisationManageRelationships,
            Resource::Organisation(end),
        ))
    };
    let owner = manage(rel.stock_owner);
    let agent = manage(rel.managing_agent);
    let manages = |end: OrgId| {
        if end == rel.stock_owner { owner.is_allowed() } else { agent.is_allowed() }
    };
    if !owner.is_allowed() && !agent.is_allowed() {
        // Say "forbidden" where the actor may see one end, "not found" otherwise.
        return Err(if owner.conceals() { agent } else { owner });
    }
    let forbidden = |reason| Decision::Deny { reason, conceal: false };
    let pending = world.relationship_request(rel);
    let answer = |by: OrgId, effect: RelationshipEffect| {
        let other = if by == rel.stock_owner { rel.managing_agent } else { rel.stock_owner };
        if manages(other) { Ok(effect) } else { Err(forbidden(DenyReason::AwaitingConsent)) }
    };
    let no_request = forbidden(DenyReason::Precondition(Precondition::RequestMustBePending));
    match step {
        RelationshipStep::Add => match pending {
            // The other end asked already: adding it is agreeing.
            Some(by) if !manages(by) => Ok(RelationshipEffect::Accepted { by }),
            _ if owner.is_allowed() && agent.is_allowed() => Ok(RelationshipEffect::Added),
            _ if owner.is_allowed() => Ok(RelationshipEffect::Requested { by: rel.stock_owner }),
            _ => Ok(RelationshipEffect::Requested { by: rel.managing_agent }),
        },
        RelationshipStep::Accept => match pending {
            Some(by) => answer(by, RelationshipEffect::Accepted { by }),
            None => Err(no_request),
        },
        RelationshipStep::Decline => match pending {
            Some(by) => answer(by, RelationshipEffect::Declined { by }),
            None => Err(no_request),
        },
        RelationshipStep::Withdraw => match pending {
            Some(by) if manages(by) => Ok(RelationshipEffect::Withdrawn { by }),
            Some(_) => Err(forbidden(DenyReason::NoGrant)),
            None => Err(no_request),
        },
        RelationshipStep::Remove => Ok(RelationshipEffect::Removed),
    }
}

#[cfg(test)]
mod tests;
