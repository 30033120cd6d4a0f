//! Embedding the permission engine in another service.
//!
//! A service that keeps its own records builds a `World` (or, per request, just the rows a
//! decision needs: see `World::slice`), asks for decisions, and turns scopes into its own
//! queries. Run it with `cargo run -p tenure-domain --example embed`.

use tenure_domain::role::builtin::{ADMINISTRATOR, DATA_COORDINATOR, DATA_PROVIDER};
use tenure_domain::{
    Action, Email, Log, LogId, Name, OrgId, Organisation, Relationship, Request, Resource, User,
    UserId, World,
};
use uuid::Uuid;

#[expect(clippy::print_stdout, reason = "an example shows its results")]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let id = |n: u128| Uuid::from_u128(n);
    let (service, alpha, beta) =
        (OrgId::from_uuid(id(1)), OrgId::from_uuid(id(2)), OrgId::from_uuid(id(3)));
    let mut world = World::new();
    let mut desk = Organisation::new(service, Name::parse("Service desk")?);
    desk.holds_stock = false;
    world.insert_organisation(desk)?;
    world.insert_organisation(Organisation::new(alpha, Name::parse("Alpha Homes")?))?;
    world.insert_organisation(Organisation::new(beta, Name::parse("Beta Lettings")?))?;
    world.add_relationship(Relationship { stock_owner: alpha, managing_agent: beta })?;

    let person =
        |n: u128, name: &str, org: OrgId, role| -> Result<User, Box<dyn std::error::Error>> {
            let email = Email::parse(&format!("{}@example.com", name.to_lowercase()))?;
            Ok(User::new(UserId::from_uuid(id(n)), Name::parse(name)?, email, org, vec![role]))
        };
    let admin = person(10, "Ada", service, ADMINISTRATOR)?;
    let alice = person(11, "Alice", alpha, DATA_COORDINATOR)?;
    let bob = person(12, "Bob", beta, DATA_PROVIDER)?;
    let (admin_id, alice_id, bob_id) = (admin.id, alice.id, bob.id);
    for user in [admin, alice, bob] {
        world.upsert_user(user)?;
    }
    world.upsert_log(Log {
        id: LogId::from_uuid(id(100)),
        owning_organisation: alpha,
        managing_organisation: beta,
        assigned_to: Some(bob_id),
        created_by: Some(bob_id),
    })?;

    // Decisions, each with its reason.
    for (actor, action, resource) in [
        (alice_id, Action::UserDeactivate, Resource::User(bob_id)),
        (bob_id, Action::UserDeactivate, Resource::User(alice_id)),
        (alice_id, Action::UserView, Resource::User(admin_id)),
        (bob_id, Action::LogDelete, Resource::Log(LogId::from_uuid(id(100)))),
    ] {
        let decision = world.decide(&Request::new(actor, action, resource));
        let answer = if decision.is_allowed() {
            "200"
        } else if decision.conceals() {
            "404"
        } else {
            "403"
        };
        println!("{action:<16} -> {answer}: {}", decision.explain(&world));
    }

    // Lists: a scope is data your storage turns into a WHERE clause.
    let scope = world.scope(alice_id, Action::UserView);
    println!(
        "alice sees users in organisations {:?} (everything: {})",
        scope.organisations, scope.everything
    );
    let names: Vec<_> = world.users_in(&scope).map(|u| u.name.to_string()).collect();
    println!("alice's user list: {names:?}");
    Ok(())
}
