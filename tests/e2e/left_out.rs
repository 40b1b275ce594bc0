//! Keys recorded as left out (`left_out` in access.json): what a clone that remembers the
//! key left out makes of them. Recorded by a member who held that key (an environment
//! deleted and added again, a repair rotation), they stand in for it; recorded by anyone
//! else, they do not open, and count for nothing.

use serde_json::json;

use crate::common::*;
use crate::forged_access::{access_doc, edit_access, eve_edits_access, eves_production_key};
use crate::forged_chain::{bob_grows_the_chain_again, production_head};

/// Alice's repository with `staging` and `qa` (a value each), committed.
fn with_staging_and_qa(env: &Env) -> std::path::PathBuf {
    let alice = alice_repo(env);
    for name in ["staging", "qa"] {
        env.secrets(&alice, &["env", "add", name]).ok();
        env.secrets(&alice, &["set", name, "API", "old"]).ok();
    }
    env.commit_all(&alice, "staging and qa");
    alice
}

// Guards: the same person, in a second clone, deletes `staging` and `qa` and adds them
// again (which records their old keys as left out by the new ones), and rotates `qa`
// since. Alice's clone, which held the old keys (remembered as held and as current),
// pulls it: the new keys record the remembered ones, opened, so both environments open
// and seal with no `env trust`.
#[test]
fn an_environment_deleted_and_added_again_elsewhere_is_accepted_without_trust() {
    let env = Env::new();
    let alice = with_staging_and_qa(&env);
    env.secrets(&alice, &["unlock"]).ok();
    let other = clone(&env, &alice, "other");
    env.secrets(&other, &["unlock"]).ok();
    for name in ["staging", "qa"] {
        env.secrets(&other, &["env", "del", name, "--yes"]).ok();
        env.secrets(&other, &["env", "add", name]).ok();
        env.secrets(&other, &["set", name, "API", "new"]).ok();
    }
    env.commit_all(&other, "staging and qa again");
    env.secrets(&other, &["rotate", "--env", "qa"]).ok();
    env.git(&other, &["commit", "-q", "-m", "rotate qa"]).ok();
    pull(&env, &alice, &other);
    for name in ["staging", "qa"] {
        assert_eq!(
            read(alice.join(format!(".secrets/{name}.env"))),
            "API=new\n"
        );
        let out = env.secrets(&alice, &["get", name, "API", "--yes"]).ok();
        assert_eq!(out.stdout, "new\n");
        assert!(!out.stderr.contains("env trust"), "{out:?}");
        env.secrets(&alice, &["set", name, "API", "newer"]).ok();
    }
    // A rotation elsewhere is no replacement either: the old key stays reachable.
    env.commit_all(&alice, "newer");
    pull(&env, &other, &alice);
    env.secrets(&other, &["rotate", "--env", "staging"]).ok();
    env.git(&other, &["commit", "-q", "-m", "rotate"]).ok();
    pull(&env, &alice, &other);
    env.secrets(&alice, &["set", "staging", "API", "newest"])
        .ok();
}

/// A `left_out` value naming key `id` that does not open: the shape of a real one (a
/// nonce and a sealed 32-byte key), made without the key.
fn forged_left_out(id: &str) -> serde_json::Value {
    json!({ id: "A".repeat(96) })
}

// Guards: Eve, who holds no key, replaces production's keys with one of her own (wrapped
// to Alice) whose record claims to leave out the key Alice's clone held. It does not
// open under her key: the clone still refuses to seal under it.
#[test]
fn keys_replaced_with_a_left_out_record_that_does_not_open_are_refused() {
    let env = Env::new();
    let alice = alice_repo(&env);
    env.secrets(&alice, &["unlock"]).ok();
    let real = production_head(&env, &alice, "HEAD");
    let eve = env.person("eve");
    let mut forged = eves_production_key(&env, &eve);
    for record in forged.as_object_mut().unwrap().values_mut() {
        record["left_out"] = forged_left_out(&real);
    }
    eve_edits_access(&env, &eve, &alice, |doc, _| {
        doc["keys"]["production"] = forged.clone()
    });
    let out = env
        .secrets(&alice, &["set", "production", "NEW", "new-prod-secret-9"])
        .fails();
    assert!(
        out.stderr
            .contains("reach none of the keys this clone held before"),
        "{out:?}"
    );
    assert!(!out.stderr.contains("new-prod-secret"), "{out:?}");
}

// Guards: Bob, removed, grows production's chain again from the key he held, and has
// his key claim to leave out the key Alice's removal of him made (the one her clone
// remembers as current). He never held it, so the record does not open: her clone
// still refuses to seal under his key.
#[test]
fn a_chain_grown_again_with_a_left_out_record_that_does_not_open_is_refused() {
    let env = Env::new();
    let (alice, b, bobs_key) = bob_grows_the_chain_again(&env);
    let current = production_head(&env, &alice, "HEAD");
    edit_access(&b, |doc| {
        doc["keys"]["production"][&bobs_key[0]]["left_out"] = forged_left_out(&current);
    });
    env.git(&b, &["add", ".secrets/access.json"]).ok();
    env.git(&b, &["commit", "-q", "--no-verify", "-m", "tidy"])
        .ok();
    pull(&env, &alice, &b);
    assert!(
        access_doc(&alice)["keys"]["production"][&bobs_key[0]]["left_out"]
            .get(&current)
            .is_some()
    );
    let out = env
        .secrets(&alice, &["set", "production", "NEW", "new-prod-secret-9"])
        .fails();
    out.error_names(&[
        &format!("current key {} of `production`", bobs_key[0]),
        "does not descend from key",
    ]);
    assert!(!out.stderr.contains("new-prod-secret"), "{out:?}");
}

// Guards: a fresh clone that met Bob's chain grown again remembers his key as the
// current one (trust on first use; HEAD's history keeps it from sealing under it). Alice
// repairs: .secrets put back from before his edit, and a rotation, which records his key
// as left out (she holds both). The new key does not supersede his, but records it, by
// its bytes: the clone pulls the repair and seals under the new key.
#[test]
fn a_clone_that_remembers_the_forged_key_accepts_the_repair_that_leaves_it_out() {
    let env = Env::new();
    let (alice, b, bobs_key) = bob_grows_the_chain_again(&env);
    let fresh = clone(&env, &b, "alice-fresh");
    env.secrets(&fresh, &["unlock"]).ok();
    env.secrets(&fresh, &["set", "production", "NEW", "new-prod-secret-10"])
        .fails();
    pull(&env, &alice, &b);
    restore_secrets_sealed(&env, &alice, "HEAD~1");
    env.secrets(&alice, &["rotate", "--env", "production"]).ok();
    env.commit_all(&alice, "put production's chain back, and rotate");
    let repaired = production_head(&env, &alice, "HEAD");
    assert!(
        access_doc(&alice)["keys"]["production"][&repaired]["left_out"]
            .get(&bobs_key[0])
            .is_some()
    );

    pull(&env, &fresh, &alice);
    env.secrets(&fresh, &["set", "production", "NEW", "new-prod-secret-10"])
        .ok();
    env.git(&fresh, &["add", ".secrets/production.env"]).ok();
    assert_eq!(
        crate::hooks::key_ids(&blob(&env, &fresh, ":.secrets/production.env")),
        vec![repaired]
    );
}
