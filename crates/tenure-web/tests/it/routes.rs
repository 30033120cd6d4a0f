//! The route registry walked (issue 11, "A route registry"; checklist AC-03): every entry
//! of `tenure_web::routes::ALL`, which is all the router serves, requested signed out and
//! as each demo role, with the id of every record of the route's kind and an id nobody
//! has. What each answer should be comes from the engine (`World::decide` on the entry's
//! action, its `conceals()`, and the scopes), never from a table of statuses: a record
//! the engine conceals must be "Page not found", byte for byte the page for an id that
//! does not exist.

use std::collections::BTreeSet;
use std::hash::{BuildHasher as _, Hasher as _};

use axum::http::StatusCode;
use tenure_domain::{
    Action, Decision, EntityId, GroupId, LogId, OrgId, Request, Resource, ResourceKind, RoleId,
    UserId, World,
};
use tenure_testkit::contract::manage::world;
use tenure_web::routes::{ALL, Access, Method, Route, Subject};
use tenure_web::{RateLimits, WebConfig};
use uuid::Uuid;

use crate::{ADA, CAT, CORA, Client, PETE, Page, Site, org, site, site_with, user};

const BEA: &str = "bea@example.com";
/// The demo roles of the world: ada administers from Alpha; cora coordinates Alpha; pete
/// provides for Alpha; bea coordinates Beta, Alpha's managing agent; cat provides for
/// Gamma, unrelated.
const ACTORS: [(&str, u128); 5] = [(ADA, 1), (CORA, 2), (PETE, 4), (BEA, 5), (CAT, 6)];
/// The dataset the instance routes are asked about.
pub(crate) const DATASET: &str = "training_record";
/// Stands in a form for the poster's own organisation's id.
const OWN_ORGANISATION: &str = "(own organisation)";
/// The row of a table the row routes are asked about.
pub(crate) const ROW: &str = "1";
/// The stylesheet the asset route is asked for.
pub(crate) const ASSET: &str = "govuk-frontend.min.css";

/// Answers that differ from the engine, found by this walk and not yet fixed (issue 11):
/// the route, its status, and why. The walk fails on any other difference, and when one
/// of these stops happening.
/// Routes known to answer differently from the engine: none. (The walk found four, all
/// fixed: a service-wide POST answered "forbidden" where its GET was "not found", two
/// invitation steps and the new-entity form answered before asking the engine.)
const FINDINGS: &[(&str, u16, &str)] = &[];

/// What a walk exercised: the registry entries it requested and checked, and every id it
/// found concealed (actor, entry, id).
#[derive(Default)]
struct Walk {
    exercised: BTreeSet<usize>,
    concealed: BTreeSet<(&'static str, usize, Uuid)>,
    /// Every answer that differs from what the engine says: the entry, the status and
    /// what happened.
    findings: Vec<(usize, u16, String)>,
}

/// What the engine says of one request of a route.
#[derive(Clone, Copy, Debug)]
struct Expected {
    /// "Page not found".
    hidden: bool,
    /// The engine allows the action (so the page, at least, must open).
    allowed: bool,
}

/// An id no record has, fresh for each run.
fn nobody() -> Uuid {
    let random = || std::collections::hash_map::RandomState::new().build_hasher().finish();
    Uuid::from_u64_pair(random(), random())
}

/// The demo world's site, with room for the walk's many sign-ins.
pub(crate) async fn roomy_site() -> Site {
    let mut config = WebConfig::new("http://127.0.0.1:3000");
    config.rate_limits = RateLimits { sign_in_per_minute: 1000, reset_per_minute: 1000 };
    site_with(world(), config).await
}

pub(crate) fn world_of(site: &Site) -> World {
    site.store.update(|w| w.clone()).unwrap()
}

/// The kind of record the path's `{id}` names, if the entry says.
pub(crate) fn id_kind(route: &Route) -> Option<ResourceKind> {
    match route.access {
        Access::SignedIn {
            resource: Subject::Id(kind) | Subject::Administered(_, kind), ..
        } => Some(kind),
        Access::SignedIn {
            resource: Subject::OrganisationOfUser | Subject::AdministeredInvitation(_),
            ..
        } => Some(ResourceKind::User),
        _ => None,
    }
}

/// The path with its segments filled in, or `None` for a segment the walk cannot fill.
fn fill(pattern: &str, id: Option<Uuid>) -> Option<String> {
    let mut path =
        pattern.replace("{dataset}", DATASET).replace("{file}", ASSET).replace("{row}", ROW);
    if path.contains("{id}") {
        path = path.replace("{id}", &id?.to_string());
    }
    (!path.contains('{')).then_some(path)
}

/// Every record of a kind in the world, after an id nobody has.
pub(crate) fn candidates(world: &World, kind: ResourceKind, nobody: Uuid) -> Vec<Uuid> {
    let records: Vec<Uuid> = match kind {
        ResourceKind::User => world.users().map(|u| *u.id.as_uuid()).collect(),
        ResourceKind::Organisation => world.organisations().map(|o| *o.id.as_uuid()).collect(),
        ResourceKind::Log => world.logs().map(|l| *l.id.as_uuid()).collect(),
        ResourceKind::Entity | ResourceKind::Instance => {
            world.entities().map(|e| *e.id.as_uuid()).collect()
        }
        ResourceKind::Group => world.groups().map(|g| *g.id.as_uuid()).collect(),
        ResourceKind::Role => world.roles().iter().map(|r| *r.id.as_uuid()).collect(),
        ResourceKind::Service | ResourceKind::Feature => Vec::new(),
    };
    std::iter::once(nobody).chain(records).collect()
}

fn resource(world: &World, kind: ResourceKind, id: Uuid) -> Resource {
    match kind {
        ResourceKind::User => Resource::User(UserId::from_uuid(id)),
        ResourceKind::Organisation => Resource::Organisation(OrgId::from_uuid(id)),
        ResourceKind::Log => Resource::Log(LogId::from_uuid(id)),
        ResourceKind::Entity => Resource::Entity(EntityId::from_uuid(id)),
        ResourceKind::Instance => Resource::Instance {
            dataset: world.dataset_by_key(DATASET).expect("the catalogue is installed").id,
            entity: EntityId::from_uuid(id),
        },
        ResourceKind::Group => Resource::Group(GroupId::from_uuid(id)),
        ResourceKind::Role => Resource::Role(RoleId::from_uuid(id)),
        ResourceKind::Service | ResourceKind::Feature => unreachable!("no id names these"),
    }
}

/// The engine's decision; for an action that gives a role (`user.invite`), allowed if it
/// may give any role of the world.
fn decide(world: &World, me: UserId, action: Action, on: Resource) -> Decision {
    let request = Request::new(me, action, on);
    if action.takes_role() {
        if let Some(allowed) = world
            .roles()
            .iter()
            .map(|r| world.decide(&request.giving(r.id)))
            .find(Decision::is_allowed)
        {
            return allowed;
        }
    }
    world.decide(&request)
}

/// What the engine says `me` gets from a signed-in route (with `id` in its path).
fn expected(world: &World, me: UserId, route: &Route, id: Option<Uuid>) -> Expected {
    let Access::SignedIn { action, resource: subject } = route.access else {
        return Expected { hidden: false, allowed: true };
    };
    let Some(action) = action else {
        // Every signed-in user.
        return Expected { hidden: false, allowed: true };
    };
    let of = |d: Decision| Expected { hidden: d.conceals(), allowed: d.is_allowed() };
    let by_grant = |allowed: bool| Expected { hidden: !allowed, allowed };
    let feature = |f| decide(world, me, Action::FeatureUse, Resource::Feature(f)).is_allowed();
    let mine = world.user(me).expect("the actor is in the world");
    match subject {
        Subject::Any | Subject::List => Expected { hidden: false, allowed: true },
        Subject::Reach => by_grant(if action.resource_kind() == ResourceKind::Entity {
            !world.entity_scope(me, action, None).is_nothing()
        } else {
            !world.scope(me, action).is_nothing()
        }),
        Subject::Yourself => of(decide(world, me, action, Resource::User(me))),
        Subject::YourOrganisation => {
            of(decide(world, me, action, Resource::Organisation(mine.organisation)))
        }
        Subject::Service => by_grant(decide(world, me, action, Resource::Service).is_allowed()),
        Subject::Features(features) => by_grant(features.iter().any(|f| feature(*f))),
        Subject::Id(kind) => {
            of(decide(world, me, action, resource(world, kind, id.expect("an id route"))))
        }
        Subject::OrganisationOfUser | Subject::AdministeredInvitation(_) => {
            let opened = match subject {
                Subject::AdministeredInvitation(f) => feature(f),
                _ => true,
            };
            let id = UserId::from_uuid(id.expect("an id route"));
            match world.user(id) {
                None => Expected { hidden: true, allowed: false },
                Some(u) => {
                    let view = decide(world, me, Action::UserView, Resource::User(id));
                    let on = decide(world, me, action, Resource::Organisation(u.organisation));
                    Expected {
                        hidden: !opened || view.conceals() || on.conceals(),
                        allowed: opened && view.is_allowed() && on.is_allowed(),
                    }
                }
            }
        }
        Subject::Administered(f, kind) => {
            let on = decide(world, me, action, resource(world, kind, id.expect("an id route")));
            Expected {
                hidden: !feature(f) || on.conceals(),
                allowed: feature(f) && on.is_allowed(),
            }
        }
    }
}

/// The bodies posted to each form, each changing nothing whoever sends it (a stale
/// version, an organisation that does not exist, a missing field), so the walk can post
/// every form as every role: a bare one, and for multi-step forms one well formed enough
/// to reach the engine. `None` for a form the walk does not know.
fn forms(path: &str) -> Option<Vec<Vec<(&'static str, &'static str)>>> {
    const PASSWORD: &str = "walnut orbit candle 9";
    let details = [("name", "Nina Newcomer"), ("email", "nina@example.com"), ("telephone", "")];
    let one = |fields: Vec<(&'static str, &'static str)>| Some(vec![fields]);
    match path {
        "/account/sign-in" => one(vec![("email", "nobody@example.com"), ("password", "wrong")]),
        "/account/create" | "/account/reset-password/new" => {
            one(vec![("token", "bogus"), ("password", PASSWORD), ("confirm", PASSWORD)])
        }
        "/account/reset-password" => one(vec![("email", "nobody@example.com")]),
        "/account/confirm-email" => one(vec![("token", "bogus")]),
        // The second factor's forms, each with no code: "enter the code", nothing done.
        "/account/sign-in/code"
        | "/account/second-factor/recovery-codes"
        | "/account/second-factor/remove" => one(vec![("code", "")]),
        "/account/sign-in/set-up" | "/account/second-factor/set-up" => {
            one(vec![("code", ""), ("uri", "")])
        }
        "/account/sign-in/cancel" => one(vec![]),
        "/account/confirm-identity" => one(vec![("password", ""), ("return", "/account")]),
        // Nobody in the walk's world but the administrators has one: nothing to remove.
        "/users/{id}/remove-second-factor" => one(vec![("version", "0")]),
        // A message id that is not undeliverable: "not found" for everyone.
        "/mail/retry" => one(vec![("id", "0190a5c2-7f3e-7d41-9a0b-2c4d6e8f1a3b")]),
        // Not from the confirmation page (no `confirm`): sent to it, nothing deleted.
        "/logs/{id}/delete" => one(vec![]),
        "/account/sign-out" | "/account/sign-out-everywhere" => one(vec![]),
        "/account/details" => one(vec![("name", ""), ("telephone", ""), ("version", "0")]),
        "/account/password" => one(vec![("current", ""), ("password", ""), ("confirm", "")]),
        "/users/invite" => one(vec![("name", ""), ("email", "nope"), ("telephone", "")]),
        // Steps 2 and 3: bare, and with the details and an organisation but no role.
        "/users/invite/organisation" | "/users/invite/role" => Some(vec![
            vec![("name", ""), ("email", "nope"), ("telephone", "")],
            [&details[..], &[("organisation", OWN_ORGANISATION)]].concat(),
        ]),
        "/users/{id}/edit" => one(vec![("version", "0")]),
        "/users/{id}/move" => one(vec![("version", "0"), ("organisation", "Nowhere Ltd")]),
        "/users/{id}/deactivate"
        | "/users/{id}/reactivate"
        | "/users/{id}/delete"
        | "/users/{id}/resend-invitation"
        | "/users/{id}/revoke-invitation"
        | "/organisations/{id}/deactivate"
        | "/organisations/{id}/reactivate" => one(vec![("version", "0")]),
        "/organisations/new" | "/organisations/{id}/edit" => {
            one(vec![("version", "0"), ("name", "")])
        }
        "/organisations/{id}/relationships" => {
            one(vec![("change", "add-managing-agent"), ("other", "Nowhere Ltd")])
        }
        "/organisations/{id}/merge" => one(vec![("version", "0"), ("into", "Nowhere Ltd")]),
        // A blank name: refused, nothing written.
        "/administration/companies/new" => one(vec![("name", "")]),
        "/administration/companies/{id}/edit" => one(vec![("version", "0"), ("name", "")]),
        // Bare, and with a type but no name.
        "/administration/entities/new" => Some(vec![vec![], vec![("type", "person")]]),
        "/administration/entities/{id}"
        | "/administration/groups/new"
        | "/administration/groups/{id}"
        | "/administration/roles/new"
        | "/administration/roles/{id}"
        | "/administration/users/new"
        | "/administration/users/{id}"
        | "/records/{id}/{dataset}" => one(vec![]),
        // A stale version: nothing changes, whoever sends it.
        "/administration/users/{id}/deactivate"
        | "/administration/users/{id}/reactivate"
        | "/administration/users/{id}/delete" => one(vec![("version", "0")]),
        // No body: the button is the form. The walk's actors are CORE's, with no User
        // Administration: "not found", nothing sent.
        "/administration/users/{id}/resend-invitation"
        | "/administration/users/{id}/withdraw-invitation" => one(vec![]),
        "/administration/users/{id}/email" => {
            one(vec![("version", "0"), ("email", "nina@example.com"), ("current_password", "")])
        }
        "/records/{id}/{dataset}/rows/{row}" | "/records/{id}/{dataset}/rows/{row}/remove" => {
            one(vec![("based_on", "0")])
        }
        _ => None,
    }
}

/// Whether a route ends the session it is sent on (signing out): walked last.
pub(crate) fn ends_session(route: &Route) -> bool {
    route.method == Method::Post
        && matches!(route.access, Access::SignedIn { action: None, resource: Subject::Any })
}

/// The route's answers: to a `GET`, or to each of its form's bodies.
async fn send(c: &mut Client<'_>, route: &Route, path: &str, own: OrgId) -> Vec<Page> {
    let own = own.to_string();
    match route.method {
        Method::Get => vec![c.get(path).await],
        Method::Post => {
            let mut pages = Vec::new();
            for fields in forms(route.path).unwrap_or_default() {
                let fields: Vec<(&str, &str)> = fields
                    .into_iter()
                    .map(|(k, v)| (k, if v == OWN_ORGANISATION { own.as_str() } else { v }))
                    .collect();
                pages.push(c.post(path, &fields).await);
            }
            pages
        }
    }
}

pub(crate) fn describe(method: Method, path: &str) -> String {
    format!("{} {path}", if method == Method::Get { "GET" } else { "POST" })
}

/// (1) Signed out: every route that needs a session sends a `GET` to the sign-in page and
/// refuses a `POST` without a token (403) and, with the anonymous form token, sends it to
/// sign in too; public routes answer without a session. Ids of real records and of none
/// get the same answer.
async fn walk_signed_out(site: &Site) -> Walk {
    let world = world_of(site);
    let nobody = nobody();
    let mut walk = Walk::default();
    let mut c = Client::new(site);
    c.get("/account/sign-in").await;
    let anonymous = c.csrf.clone();
    assert!(!anonymous.is_empty(), "forms signed out carry the anonymous token");
    for (i, route) in ALL.iter().enumerate() {
        let ids = match id_kind(route) {
            Some(kind) => {
                let all = candidates(&world, kind, nobody);
                // An id nobody has and the first real record.
                all.into_iter().take(2).map(Some).collect::<Vec<_>>()
            }
            None => vec![None],
        };
        let mut answers = Vec::new();
        for id in ids {
            let Some(path) = fill(route.path, id) else { continue };
            let name = describe(route.method, &path);
            let public = route.access == Access::Public;
            let page = match route.method {
                Method::Get => c.get(&path).await,
                Method::Post => {
                    let Some(fields) = forms(route.path).and_then(|f| f.into_iter().next()) else {
                        continue;
                    };
                    // No token at all: refused before any handler.
                    let bare = c.post_raw(&path, &fields).await;
                    if bare.status != StatusCode::FORBIDDEN
                        || !bare.body.contains("This page has expired")
                    {
                        walk.find(
                            i,
                            bare.status,
                            format!("{name} without a token: {}", bare.status),
                        );
                    }
                    c.csrf.clone_from(&anonymous);
                    c.post(&path, &fields).await
                }
            };
            let to_sign_in =
                page.status == StatusCode::SEE_OTHER && page.location() == "/account/sign-in";
            let ok = if public {
                // Answered (a page, or a redirect that is not "sign in first").
                (page.status == StatusCode::OK
                    || page.status == StatusCode::SEE_OTHER && !to_sign_in)
                    && !c.has_session()
            } else {
                to_sign_in
            };
            if !ok {
                walk.find(
                    i,
                    page.status,
                    format!(
                        "signed out {name} ({}): {} {}",
                        if public { "public" } else { "needs a session" },
                        page.status,
                        page.location()
                    ),
                );
            }
            answers.push((page.status, page.location().to_owned()));
            walk.exercised.insert(i);
        }
        if answers.windows(2).any(|w| w[0] != w[1]) {
            walk.find(
                i,
                answers[1].0,
                format!(
                    "signed out {}: a real record and none answer differently: {answers:?}",
                    route.path
                ),
            );
        }
    }
    walk
}

/// (2) As each demo role: every route, with every record of its kind and an id nobody
/// has, answers "Page not found" exactly when the engine conceals (the same page, byte for
/// byte, as for the id nobody has), and opens where the engine allows.
async fn walk_signed_in(site: &Site) -> Walk {
    let world = world_of(site);
    let nobody = nobody();
    let mut walk = Walk::default();
    for (email, n) in ACTORS {
        let me = user(n);
        let own = world.user(me).expect("a demo user").organisation;
        let mut c = Client::new(site);
        c.sign_in(email).await;
        let (last, first): (Vec<_>, Vec<_>) =
            ALL.iter().enumerate().partition(|(_, r)| ends_session(r));
        for (i, route) in first.into_iter().chain(last) {
            if route.access == Access::Public {
                continue;
            }
            let mut fresh;
            let c = if ends_session(route) {
                fresh = Client::new(site);
                fresh.sign_in(email).await;
                &mut fresh
            } else {
                &mut c
            };
            let ids = match id_kind(route) {
                Some(kind) => candidates(&world, kind, nobody).into_iter().map(Some).collect(),
                None => vec![None],
            };
            let mut not_found: Option<String> = None;
            for id in ids {
                let Some(path) = fill(route.path, id) else { continue };
                let name = format!("{email} {}", describe(route.method, &path));
                let expect = expected(&world, me, route, id);
                for page in send(c, route, &path, own).await {
                    walk.exercised.insert(i);
                    let is_404 = page.status == StatusCode::NOT_FOUND;
                    if page.status.is_server_error() {
                        walk.find(i, page.status, format!("{name}: {}", page.status));
                    } else if expect.hidden && !(is_404 && page.body.contains("Page not found")) {
                        walk.find(
                            i,
                            page.status,
                            format!(
                                "{name}: the engine conceals it ({expect:?}) but it answers {} {}",
                                page.status,
                                page.location()
                            ),
                        );
                    } else if !expect.hidden && is_404 {
                        walk.find(i, page.status, format!(
                            "{name}: the engine does not conceal it ({expect:?}) but it answers 404"
                        ));
                    } else if expect.allowed
                        && route.method == Method::Get
                        && !(page.status == StatusCode::OK || page.status == StatusCode::SEE_OTHER)
                    {
                        walk.find(
                            i,
                            page.status,
                            format!(
                                "{name}: the engine allows it but the page answers {}",
                                page.status
                            ),
                        );
                    }
                    if expect.hidden && is_404 {
                        if let Some(id) = id {
                            walk.concealed.insert((email, i, id));
                            // AC-03: out of reach reads exactly as not there at all.
                            match &not_found {
                                None => not_found = Some(page.body.clone()),
                                Some(body) if *body != page.body => walk.find(
                                    i,
                                    page.status,
                                    format!(
                                        "{name}: its \"Page not found\" differs from a missing id's"
                                    ),
                                ),
                                Some(_) => {}
                            }
                        }
                    }
                }
            }
        }
    }
    walk
}

impl Walk {
    fn find(&mut self, route: usize, status: StatusCode, what: String) {
        self.findings.push((route, status.as_u16(), what));
    }

    /// Every answer that differs from the engine is one of `known`, and each of `known`
    /// is still seen (a fixed one must leave the list).
    fn assert_findings(&self, known: &[(&str, u16, &str)]) {
        let matches = |(route, status, _): &(usize, u16, String),
                       (at, code, _): &(&str, u16, &str)| {
            describe(ALL[*route].method, ALL[*route].path) == *at && status == code
        };
        let unexplained: Vec<&str> = self
            .findings
            .iter()
            .filter(|f| !known.iter().any(|k| matches(f, k)))
            .map(|(_, _, what)| what.as_str())
            .collect();
        assert!(
            unexplained.is_empty(),
            "{} route answers differ from the engine:\n{}",
            unexplained.len(),
            unexplained.join("\n")
        );
        for k in known {
            assert!(
                self.findings.iter().any(|f| matches(f, k)),
                "no longer seen, take it off the list: {} answering {} ({})",
                k.0,
                k.1,
                k.2
            );
        }
    }
}

#[tokio::test]
async fn signed_out_every_route_but_the_public_ones_asks_to_sign_in() {
    let site = site().await;
    let walk = walk_signed_out(&site).await;
    walk.assert_findings(&[]);
    assert!(site.mailer.sent().is_empty(), "no reset or invitation went out");
}

#[tokio::test]
async fn as_each_role_every_route_answers_as_the_engine_decides() {
    let site = roomy_site().await;
    let before = world_of(&site);
    let walk = walk_signed_in(&site).await;
    walk.assert_findings(FINDINGS);
    // The walk's forms change nothing and send nothing.
    assert!(site.mailer.sent().is_empty(), "nothing was sent");
    let people = |w: &World| {
        let mut all: Vec<String> = w.users().map(|u| format!("{u:?}")).collect();
        all.sort();
        all
    };
    assert_eq!(people(&before), people(&world_of(&site)), "nobody was changed");
    // Out of reach for cora and pete: Gamma and Cat, on every user and organisation route.
    let cat = *user(6).as_uuid();
    let gamma = Uuid::parse_str(&org(3)).unwrap();
    for (i, route) in ALL.iter().enumerate() {
        let target = match id_kind(route) {
            Some(ResourceKind::User) if !route.path.starts_with("/administration") => cat,
            // Corterum's company pages are not CORE's: ada reaches no company.
            Some(ResourceKind::Organisation) if !route.path.starts_with("/administration") => gamma,
            _ => continue,
        };
        for email in [CORA, PETE] {
            assert!(
                walk.concealed.contains(&(email, i, target)),
                "{email} {} with {target}: not found",
                describe(route.method, route.path)
            );
        }
        assert!(
            !walk.concealed.contains(&(ADA, i, target)),
            "ada reaches {target} on {}",
            route.path
        );
    }
}

#[tokio::test]
async fn every_route_in_the_registry_is_walked() {
    let mut seen = BTreeSet::new();
    for route in ALL {
        assert!(seen.insert((route.method, route.path)), "{} listed twice", route.path);
    }
    let site = site().await;
    let signed_out = walk_signed_out(&site).await;
    let site = roomy_site().await;
    let signed_in = walk_signed_in(&site).await;
    let mut missing = Vec::new();
    for (i, route) in ALL.iter().enumerate() {
        let name = describe(route.method, route.path);
        if !signed_out.exercised.contains(&i) {
            missing.push(format!("{name}: not requested signed out"));
        }
        if route.access != Access::Public && !signed_in.exercised.contains(&i) {
            missing.push(format!("{name}: not requested signed in"));
        }
        if id_kind(route).is_some()
            && ACTORS.iter().any(|(email, _)| {
                !signed_in.concealed.iter().any(|(e, r, _)| e == email && *r == i)
            })
        {
            missing.push(format!("{name}: not requested with an id out of reach by every role"));
        }
    }
    assert!(missing.is_empty(), "registry entries the walks miss:\n{}", missing.join("\n"));
}
