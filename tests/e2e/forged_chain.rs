//! access.json's key chain edited by hand, and team changes made at once on two
//! branches: whatever a clone of a real member runs next, no new value is sealed under
//! a key that someone outside the environment holds.

use serde_json::{json, Value};

use crate::common::*;
use crate::forged_access::{eve_edits_access, eves_production_key};
use crate::hooks::key_ids;

// Guards: Eve, who can push but holds no key, adds a production key of her own (wrapped
// and granted to Alice) and marks the real current key superseded by it, with a link
// that does not open (she cannot seal a key she does not hold). The real key is still
// wrapped to Alice, so it opens without the link, and the clone's memory of keys finds
// it: only checking the link stops Eve's key from becoming the one new values are
// sealed under.
#[test]
fn a_key_of_the_attackers_own_made_current_by_a_link_that_does_not_open_is_refused() {
    let env = Env::new();
    let alice = alice_repo(&env);
    let eve = env.person("eve");
    let forged = eves_production_key(&env, &eve);
    let (eve_key, record) = forged.as_object().unwrap().iter().next().unwrap();
    let real = blob(&env, &alice, "HEAD:.secrets/production.env");
    let real_key = key_ids(&real);
    assert_eq!(real_key.len(), 1);
    eve_edits_access(&env, &eve, &alice, |doc, _| {
        let keys = &mut doc["keys"]["production"];
        keys[&real_key[0]]["superseded_by"] = json!({ eve_key: "A".repeat(96) });
        keys[eve_key] = record.clone();
    });
    let out = env
        .secrets(&alice, &["set", "production", "NEW", "new-prod-secret-1"])
        .fails();
    assert!(
        out.stderr.contains(&format!(
            "key {} of `production` does not open under key {eve_key}",
            real_key[0]
        )),
        "{out:?}"
    );
    assert!(!out.stderr.contains("new-prod-secret"), "{out:?}");
    // Nor through the filter: an edit staged is refused, not sealed under Eve's key.
    write(
        alice.join(".secrets/production.env"),
        "DB=prod-password-2\n",
    );
    env.git(&alice, &["add", ".secrets/production.env"]).fails();
    let staged = blob(&env, &alice, ":.secrets/production.env");
    assert!(!key_ids(&staged).contains(eve_key), "{staged}");
    // Putting the real access.json back is the way out.
    env.git(
        &alice,
        &["checkout", "HEAD~1", "--", ".secrets/access.json"],
    )
    .ok();
    env.git(&alice, &["add", ".secrets/production.env"]).ok();
    assert_eq!(
        key_ids(&blob(&env, &alice, ":.secrets/production.env")),
        real_key
    );
}

/// The production key chain of `repo`'s access.json.
fn production_chain(repo: &std::path::Path) -> Value {
    let doc: Value = serde_json::from_str(&read(repo.join(".secrets/access.json"))).unwrap();
    doc["keys"]["production"].clone()
}

// Guards: Bob, while still a member, rotates production on a branch of his own that he
// never pushes (he now holds a key that supersedes the old one, with a link that
// opens). Alice removes him, which rotates production. Bob then pushes an access.json
// whose production chain is his branch's: the old key superseded by his, Alice's new
// key gone, his key wrapped and granted to Alice, the file re-sealed under his key
// with the values he knew. Everything opens for Alice, and her clone still reaches a key
// it held (the old one): only remembering what superseded that key stops her next value
// from being sealed for Bob. (The memory must hold only links this clone opened, and
// only the first keys seen to supersede a key, or Bob's own link, remembered too, would
// refuse the real chain once it is put back.)
#[test]
#[ignore = "not fixed yet: a clone keeps no memory of which key superseded which (see the rt-team report)"]
fn a_removed_member_who_grows_the_chain_again_from_an_old_key_is_refused() {
    let env = Env::new();
    let alice = alice_repo(&env);
    let (bob, b, id) = bob_joins(&env, &alice);
    approve_and_unlock(&env, &alice, &bob, &b, &id, "production");
    let own = clone(&bob, &b, "bob-own");
    bob.secrets(&own, &["unlock"]).ok();
    bob.secrets(&own, &["rotate", "--env", "production"]).ok();
    bob.git(&own, &["commit", "-q", "-m", "mine"]).ok();
    let mine = production_chain(&own);
    env.secrets(&alice, &["member", "remove", &id]).ok();
    env.git(&alice, &["commit", "-q", "-m", "remove bob"]).ok();
    pull(&bob, &b, &alice);
    // The forged commit, made past every hook.
    let mut chain = mine.clone();
    for record in chain.as_object_mut().unwrap().values_mut() {
        for field in ["wrapped", "grants"] {
            if let Some(map) = record.get_mut(field).and_then(Value::as_object_mut) {
                map.remove(&id);
            }
        }
    }
    crate::forged_access::edit_access(&b, |doc| doc["keys"]["production"] = chain);
    let sealed = bob
        .git(&own, &["show", "HEAD:.secrets/production.env"])
        .ok()
        .stdout;
    write(b.join("forged.env"), &sealed);
    let oid = bob
        .git(&b, &["hash-object", "-w", "--no-filters", "forged.env"])
        .ok()
        .stdout;
    std::fs::remove_file(b.join("forged.env")).unwrap();
    let info = format!("100644,{},.secrets/production.env", oid.trim());
    bob.git(&b, &["update-index", "--cacheinfo", &info]).ok();
    bob.git(&b, &["add", ".secrets/access.json"]).ok();
    bob.git(&b, &["commit", "-q", "--no-verify", "-m", "tidy"])
        .ok();
    pull(&env, &alice, &b);
    assert_eq!(
        env.secrets(&alice, &["get", "production", "DB", "--yes"])
            .ok()
            .stdout,
        "prod-password-1\n"
    );
    let bobs_key = key_ids(&sealed);
    let out = env
        .secrets(&alice, &["set", "production", "NEW", "new-prod-secret-2"])
        .fails();
    out.error_names(&["grown again from key", "git log -p .secrets/access.json"]);
    assert!(!out.stderr.contains("new-prod-secret"), "{out:?}");
    // Nor through the filter: an edit staged is refused, not sealed under Bob's key.
    write(
        alice.join(".secrets/production.env"),
        "DB=prod-password-3\n",
    );
    env.git(&alice, &["add", ".secrets/production.env"]).fails();
    let staged = blob(&env, &alice, ":.secrets/production.env");
    assert_eq!(key_ids(&staged), bobs_key, "{staged}");
    // A fresh clone reads the same from HEAD's history, without having seen Alice's key.
    let fresh = clone(&env, &alice, "alice-fresh");
    env.secrets(&fresh, &["unlock"]).ok();
    env.secrets(&fresh, &["set", "production", "NEW", "new-prod-secret-2"])
        .fails()
        .error_names(&["grown again from key"]);
    // Putting back the access.json from before Bob's edit is the way out.
    env.git(
        &alice,
        &["checkout", "HEAD~1", "--", ".secrets/access.json"],
    )
    .ok();
    env.git(&alice, &["add", ".secrets/production.env"]).ok();
    assert_ne!(
        key_ids(&blob(&env, &alice, ":.secrets/production.env")),
        bobs_key
    );
}
