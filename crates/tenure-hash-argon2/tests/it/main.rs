//! The Argon2id hasher: PHC format, salts, no truncation, normalisation, and rehashing
//! when parameters change (security checklist AUTH-01, AUTH-02, AUTH-03).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on the first surprise"
)]

use std::sync::Arc;

use tenure_core::{PasswordHasher, Verified};
use tenure_domain::NewPassword;
use tenure_domain::password::{PasswordContext, PasswordPolicy};
use tenure_hash_argon2::Argon2id;

fn new_password(s: &str) -> NewPassword {
    PasswordPolicy::default().check(s, &PasswordContext::default()).unwrap()
}

#[tokio::test]
async fn owasp_hashes_are_argon2id_v19_with_the_floor_parameters() {
    let hasher = Argon2id::owasp().unwrap();
    let hash = hasher.hash(&new_password("quiet river lantern")).await.unwrap();
    assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
    assert_eq!(hasher.verify("quiet river lantern", &hash).await, Verified::Match);
    assert_eq!(hasher.verify("quiet river lanterns", &hash).await, Verified::NoMatch);
}

#[tokio::test]
async fn the_same_password_hashes_differently_each_time() {
    let hasher = Argon2id::cheap_for_tests().unwrap();
    let p = new_password("quiet river lantern");
    assert_ne!(hasher.hash(&p).await.unwrap(), hasher.hash(&p).await.unwrap());
}

#[tokio::test]
async fn long_passwords_are_never_truncated() {
    let hasher = Argon2id::cheap_for_tests().unwrap();
    let long = "correct horse battery staple ".repeat(4);
    assert!(long.len() > 72);
    let hash = hasher.hash(&new_password(&long)).await.unwrap();
    assert_eq!(hasher.verify(&long, &hash).await, Verified::Match);
    assert_eq!(hasher.verify(&long[..72], &hash).await, Verified::NoMatch);
}

#[tokio::test]
async fn compatible_forms_are_one_password() {
    let hasher = Argon2id::cheap_for_tests().unwrap();
    let hash = hasher.hash(&new_password("ﬁsh ﬁngers and custard")).await.unwrap();
    assert_eq!(hasher.verify("fish fingers and custard", &hash).await, Verified::Match);
}

#[tokio::test]
async fn hashes_with_other_parameters_verify_and_ask_to_be_rehashed() {
    let old = Argon2id::cheap_for_tests().unwrap();
    let current = Argon2id::with_params(64, 1, 1).unwrap();
    let hash = old.hash(&new_password("quiet river lantern")).await.unwrap();
    assert_eq!(current.verify("quiet river lantern", &hash).await, Verified::MatchNeedsRehash);
    assert_eq!(current.verify("wrong wrong wrong", &hash).await, Verified::NoMatch);
    let fresh = current.hash(&new_password("quiet river lantern")).await.unwrap();
    assert_eq!(current.verify("quiet river lantern", &fresh).await, Verified::Match);
}

#[tokio::test]
async fn malformed_stored_hashes_never_match() {
    let hasher = Argon2id::cheap_for_tests().unwrap();
    for stored in ["", "not a hash", "$argon2id$v=19$m=8,t=1,p=1$", "$2b$12$abcdefghijklmnopqrstuv"]
    {
        assert_eq!(
            hasher.verify("anything at all here", stored).await,
            Verified::NoMatch,
            "{stored}"
        );
    }
}

#[tokio::test]
async fn the_dummy_hash_is_a_real_hash_that_nothing_typed_matches() {
    let hasher = Argon2id::cheap_for_tests().unwrap();
    assert!(hasher.dummy().starts_with("$argon2id$v=19$m=8,t=1,p=1$"));
    assert_eq!(hasher.verify("", hasher.dummy()).await, Verified::NoMatch);
    assert_eq!(hasher.verify("quiet river lantern", hasher.dummy()).await, Verified::NoMatch);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_checks_queues_behind_the_permits_and_all_complete() {
    let hasher = Argon2id::cheap_for_tests().unwrap().with_permits(1);
    let hash = hasher.hash(&new_password("quiet river lantern")).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..40 {
        let (hasher, hash) = (hasher.clone(), hash.clone());
        tasks.push(tokio::spawn(async move {
            let typed = if i % 2 == 0 { "quiet river lantern" } else { "wrong wrong wrong" };
            (i, hasher.verify(typed, &hash).await)
        }));
    }
    for task in tasks {
        let (i, verified) = task.await.unwrap();
        let expected = if i % 2 == 0 { Verified::Match } else { Verified::NoMatch };
        assert_eq!(verified, expected, "check {i}");
    }
}

/// Past its limit of work in progress and waiting, the hasher refuses at once instead of
/// queueing without bound, and recovers when the load passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_its_queue_it_answers_unavailable_instead_of_waiting() {
    let hasher = Arc::new(Argon2id::owasp().unwrap().with_permits(1).with_max_waiting(2));
    let stored = hasher.hash(&NewPassword::verified("river stone lantern")).await.unwrap();
    let tasks: Vec<_> = (0..12)
        .map(|_| {
            let (hasher, stored) = (hasher.clone(), stored.clone());
            tokio::spawn(async move { hasher.verify("river stone lantern", &stored).await })
        })
        .collect();
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.push(t.await.unwrap());
    }
    let checked = outcomes.iter().filter(|v| **v == Verified::Match).count();
    let refused = outcomes.iter().filter(|v| **v == Verified::Unavailable).count();
    assert_eq!(checked + refused, 12, "{outcomes:?}");
    assert!(refused >= 1 && checked >= 1, "{outcomes:?}");
    assert_eq!(hasher.verify("river stone lantern", &stored).await, Verified::Match);
}
