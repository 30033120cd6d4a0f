//! Second factors as role data: a role says whether its holders must sign in with one
//! ([`Role::requires_second_factor`](crate::Role::requires_second_factor)), and the
//! engine answers, from the world, what a person's sign-in asks of them.
//!
//! Two questions, both pure:
//!
//! - [`demand`]: must this person have a second factor at all? `Required` names the
//!   role that asks for it (the first of theirs that does), so a page or a policy file
//!   can say why; `Optional` otherwise (anyone may set one up).
//! - [`next_step`]: after the password, what comes next, given whether the person has a
//!   second factor set up (a fact the store holds, not the world): the code, setting one
//!   up, or nothing.
//!
//! Removing a second factor is an ordinary action, `user.remove_second_factor`, decided
//! by [`crate::engine::decide`]: an administrator's grant reaches the people they manage
//! (never one who outranks them), everyone holds it over themselves, and stage 3 refuses
//! removing one's own while a role of theirs requires one
//! ([`DenyReason::SecondFactorRequired`](crate::DenyReason::SecondFactorRequired)).

use crate::id::{RoleId, UserId};
use crate::world::World;

/// Whether a person must have a second factor.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Demand {
    /// None of their roles requires one; they may still set one up.
    Optional,
    /// This role of theirs requires one.
    Required(RoleId),
}

impl Demand {
    /// Whether one is required.
    pub const fn is_required(self) -> bool {
        matches!(self, Self::Required(_))
    }
}

/// What a sign-in asks for once the password has passed.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Step {
    /// Nothing more: the person is signed in.
    Done,
    /// A code from their authenticator app (or a recovery code) before anything else.
    Code,
    /// Their role requires a second factor and they have none: set one up before
    /// anything else.
    SetUp(RoleId),
}

/// Whether `user` must have a second factor: `Required` when a role they hold requires
/// one. A person the world does not hold is `Optional` (they cannot sign in anyway).
pub fn demand(world: &World, user: UserId) -> Demand {
    world
        .facts(user)
        .and_then(|facts| crate::engine::second_factor_role(world, facts))
        .map_or(Demand::Optional, Demand::Required)
}

/// What comes after the password: the code when the person has a second factor set up
/// (`enrolled`), whether or not one is required; setting one up when it is required and
/// they have none; nothing otherwise.
pub const fn next_step(demand: Demand, enrolled: bool) -> Step {
    match (enrolled, demand) {
        (true, _) => Step::Code,
        (false, Demand::Required(role)) => Step::SetUp(role),
        (false, Demand::Optional) => Step::Done,
    }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::{Demand, Step, demand, next_step};
    use crate::role::builtin;
    use crate::{Email, Name, OrgId, Organisation, User, UserId, World};

    fn world_with(role: crate::RoleId) -> (World, UserId) {
        let org = OrgId::from_uuid(Uuid::from_u128(1));
        let user = UserId::from_uuid(Uuid::from_u128(2));
        let mut world = World::new();
        let Ok(name) = Name::parse("Alpha") else { unreachable!() };
        let _ = world.insert_organisation(Organisation::new(org, name.clone()));
        let Ok(email) = Email::parse("a@alpha.example") else { unreachable!() };
        let _ = world.upsert_user(User::new(user, name, email, org, vec![role]));
        (world, user)
    }

    #[test]
    fn administrators_must_have_one_coordinators_and_providers_may() {
        let (world, ada) = world_with(builtin::ADMINISTRATOR);
        assert_eq!(demand(&world, ada), Demand::Required(builtin::ADMINISTRATOR));
        for role in [builtin::DATA_COORDINATOR, builtin::DATA_PROVIDER] {
            let (world, user) = world_with(role);
            assert_eq!(demand(&world, user), Demand::Optional);
        }
        assert_eq!(demand(&world, UserId::from_uuid(Uuid::from_u128(99))), Demand::Optional);
    }

    #[test]
    fn the_step_after_the_password() {
        let required = Demand::Required(builtin::ADMINISTRATOR);
        assert_eq!(next_step(required, false), Step::SetUp(builtin::ADMINISTRATOR));
        assert_eq!(next_step(required, true), Step::Code);
        assert_eq!(next_step(Demand::Optional, true), Step::Code);
        assert_eq!(next_step(Demand::Optional, false), Step::Done);
    }
}
