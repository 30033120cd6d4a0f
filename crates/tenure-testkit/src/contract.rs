//! Contract suites: what every adapter of a port must do, checked against the engine on
//! the whole world as the reference.
#![allow(
    clippy::expect_used,
    reason = "a contract suite fails the test that runs it, loudly, on the first difference"
)]

use std::future::Future;
use std::sync::Arc;

use tenure_core::{Authorizer, Directory, Page};
use tenure_domain::{Action, Request, Resource, ResourceKind, Scope, UserId, World};
use uuid::Uuid;

use crate::worlds;

/// Every request in the world: every actor, action and resource of the action's kind,
/// with each role for the actions that give one.
pub fn requests(world: &World) -> Vec<Request> {
    let users: Vec<UserId> = world.users().map(|u| u.id).collect();
    let mut out = Vec::new();
    for &actor in &users {
        for &action in Action::ALL {
            let resources: Vec<Resource> = match action.resource_kind() {
                ResourceKind::User => users.iter().map(|u| Resource::User(*u)).collect(),
                ResourceKind::Organisation => {
                    world.organisations().map(|o| Resource::Organisation(o.id)).collect()
                }
                ResourceKind::Log => world.logs().map(|l| Resource::Log(l.id)).collect(),
                ResourceKind::Service => vec![Resource::Service],
            };
            for resource in resources {
                let request = Request::new(actor, action, resource);
                if action.takes_role() {
                    out.extend(world.roles().iter().map(|r| request.giving(r.id)));
                } else {
                    out.push(request);
                }
            }
        }
    }
    out
}

/// Pages through a listing with the given page size until a short page.
async fn all_pages<T, F, Fut>(size: usize, mut page: F) -> Vec<T>
where
    F: FnMut(Page) -> Fut,
    Fut: Future<Output = Vec<T>>,
{
    let mut out = Vec::new();
    for number in 1.. {
        let rows = page(Page::numbered(number, size)).await;
        let done = rows.len() < size;
        out.extend(rows);
        if done {
            break;
        }
    }
    out
}

fn sort_key(name: &str, id: &Uuid) -> (String, [u8; 16]) {
    (name.to_lowercase(), *id.as_bytes())
}

/// The `Directory` contract: `make` turns a world into a directory holding it. Every
/// decision through the directory equals the engine's on the whole world, and every
/// listing, at page sizes 1, 2 and 100, holds exactly the scope's records in the
/// documented order (users and organisations by lower-cased name then id, logs by id).
///
/// `stride` samples every n-th request, to keep slower backends quick; 1 checks all.
///
/// # Panics
/// On the first difference, naming the world, request and both answers.
pub async fn directory<F, Fut>(make: F, stride: usize)
where
    F: Fn(World) -> Fut,
    Fut: Future<Output = Arc<dyn Directory>>,
{
    for (name, world) in worlds::standard() {
        let directory = make(world.clone()).await;
        let auth = Authorizer::new(directory.clone());

        for request in requests(&world).into_iter().step_by(stride.max(1)) {
            let got = auth
                .decide(&request)
                .await
                .unwrap_or_else(|e| panic!("world {name}: {request:?}: backend failed: {e:?}"));
            let expected = world.decide(&request);
            assert_eq!(
                got,
                expected,
                "world {name}: {request:?}: expected {}",
                expected.explain(&world)
            );
        }

        let unknown = UserId::from_uuid(Uuid::from_u128(u128::MAX));
        assert!(
            auth.visible_users(unknown, Page::numbered(1, 100)).await.expect("list").is_empty()
        );

        for actor in world.users().map(|u| u.id) {
            check_lists(&name, &world, &auth, actor).await;
        }
    }
}

async fn check_lists(name: &str, world: &World, auth: &Authorizer, actor: UserId) {
    let scope: Scope = world.scope(actor, Action::UserView);
    let mut expected: Vec<_> = world.users().filter(|u| scope.matches_user(u)).collect();
    expected.sort_by_key(|u| sort_key(u.name.as_str(), u.id.as_uuid()));
    let expected: Vec<_> = expected.into_iter().cloned().collect();
    for size in [1, 2, 100] {
        let got =
            all_pages(
                size,
                |p| async move { auth.visible_users(actor, p).await.expect("list users") },
            )
            .await;
        assert_eq!(got, expected, "world {name}: users visible to {actor}, pages of {size}");
    }

    let scope = world.scope(actor, Action::OrganisationView);
    let mut expected: Vec<_> =
        world.organisations().filter(|o| scope.matches_organisation(o)).cloned().collect();
    expected.sort_by_key(|o| sort_key(o.name.as_str(), o.id.as_uuid()));
    for size in [1, 2, 100] {
        let got = all_pages(size, |p| async move {
            auth.visible_organisations(actor, p).await.expect("list organisations")
        })
        .await;
        assert_eq!(
            got, expected,
            "world {name}: organisations visible to {actor}, pages of {size}"
        );
    }

    let scope = world.scope(actor, Action::LogView);
    let mut expected: Vec<_> = world.logs().filter(|l| scope.matches_log(l)).cloned().collect();
    expected.sort_by_key(|l| *l.id.as_uuid().as_bytes());
    for size in [2, 100] {
        let got =
            all_pages(
                size,
                |p| async move { auth.visible_logs(actor, p).await.expect("list logs") },
            )
            .await;
        assert_eq!(got, expected, "world {name}: logs visible to {actor}, pages of {size}");
    }
}
