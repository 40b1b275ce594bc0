//! access.json's key chain edited by hand, and team changes made at once on two
//! branches: whatever a clone of a real member runs next, no new value is sealed under
//! a key that someone outside the environment holds.

use serde_json::{json, Value};

use crate::common::*;
use crate::forged_access::{access_doc, eve_edits_access, eves_production_key};
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
    let staged = edit_not_staged(&env, &alice, "DB=prod-password-2\n");
    assert!(!staged.contains(eve_key), "{staged:?}");
    // Putting the real access.json back and rotating is the way out.
    let (staged, head) = restore_access_rotate_and_stage(&env, &alice);
    assert_eq!(staged, vec![head.clone()]);
    assert!(head != *eve_key && head != real_key[0], "{head}");
}

/// Alice edits production.env to `text` and `git add` of it fails: the key ids of what
/// stays staged.
fn edit_not_staged(env: &Env, alice: &std::path::Path, text: &str) -> Vec<String> {
    write(alice.join(".secrets/production.env"), text);
    env.git(alice, &["add", ".secrets/production.env"]).fails();
    key_ids(&blob(env, alice, ":.secrets/production.env"))
}

/// Alice's way out: access.json as it was before the forged commit, a rotation (the
/// forged key is in HEAD's history now: only a key that records it as left out is
/// accepted), and production.env staged again; the key ids it is then sealed under,
/// with the new current key.
fn restore_access_rotate_and_stage(env: &Env, alice: &std::path::Path) -> (Vec<String>, String) {
    restore_secrets_sealed(env, alice, "HEAD~1");
    env.secrets(alice, &["rotate", "--env", "production"]).ok();
    env.git(alice, &["add", ".secrets/production.env"]).ok();
    let head = production_head(env, alice, "");
    (key_ids(&blob(env, alice, ":.secrets/production.env")), head)
}

// Guards: Bob, while still a member, rotates production on a branch of his own that he
// never pushes (he now holds a key that supersedes the old one, with a link that
// opens). Alice removes him, which rotates production. Bob then pushes an access.json
// whose production chain is his branch's: the old key superseded by his, Alice's new
// key gone, his key wrapped and granted to Alice, the file re-sealed under his key
// with the values he knew. Everything opens for Alice, and her clone still reaches a key
// it held (the old one): only remembering the newest current key it accepted (Alice's,
// which Bob's does not descend from) stops her next value from being sealed for Bob.
#[test]
fn a_removed_member_who_grows_the_chain_again_from_an_old_key_is_refused() {
    let env = Env::new();
    let (alice, b, bobs_key) = bob_grows_the_chain_again(&env);
    pull(&env, &alice, &b);
    assert_eq!(
        env.secrets(&alice, &["get", "production", "DB", "--yes"])
            .ok()
            .stdout,
        "prod-password-1\n"
    );
    let out = env
        .secrets(&alice, &["set", "production", "NEW", "new-prod-secret-2"])
        .fails();
    out.error_names(&[
        &format!("current key {} of `production`", bobs_key[0]),
        "does not descend from key",
        "git log -p .secrets/access.json",
    ]);
    assert!(!out.stderr.contains("new-prod-secret"), "{out:?}");
    // Nor through the filter: an edit staged is refused, not sealed under Bob's key.
    assert_eq!(
        edit_not_staged(&env, &alice, "DB=prod-password-3\n"),
        bobs_key
    );
    // Status says so too; reading still works.
    let status = env.secrets(&alice, &["status"]);
    assert!(
        status.stderr.contains("does not descend from key")
            || status.stdout.contains("does not descend from key"),
        "{status:?}"
    );
    // Putting back the access.json from before Bob's edit, and rotating, is the way out.
    let (staged, head) = restore_access_rotate_and_stage(&env, &alice);
    assert_eq!(staged, vec![head]);
    assert_ne!(staged, bobs_key);
}

// Guards: the same forged chain, met by a clone that remembers nothing: Alice clones
// Bob's push afresh (a new laptop). HEAD's history still has the version that made her
// new key current and gave it to her, which Bob's key does not supersede: nothing new
// is sealed under Bob's key, though everything reads. The hint names the repair (a
// rotation); `env trust` stays the user's deliberate way past it on this clone.
#[test]
fn a_fresh_clone_refuses_a_chain_grown_again_after_a_key_its_history_gave_it() {
    let env = Env::new();
    let (_, b, bobs_key) = bob_grows_the_chain_again(&env);
    let fresh = clone(&env, &b, "alice-fresh");
    env.secrets(&fresh, &["unlock"]).ok();
    assert_eq!(
        env.secrets(&fresh, &["get", "production", "DB", "--yes"])
            .ok()
            .stdout,
        "prod-password-1\n"
    );
    let out = env
        .secrets(&fresh, &["set", "production", "NEW", "new-prod-secret-2"])
        .fails();
    out.error_names(&[
        &format!("current key {} of `production`", bobs_key[0]),
        "does not supersede key",
        "HEAD's history",
        "git log -p .secrets/access.json",
        "git secrets rotate --env production",
    ]);
    assert!(!out.stderr.contains("new-prod-secret"), "{out:?}");
    assert_eq!(
        edit_not_staged(&env, &fresh, "DB=prod-password-3\n"),
        bobs_key
    );
    env.git(&fresh, &["checkout", "--", ".secrets/production.env"])
        .ok();
    let status = env.secrets(&fresh, &["status"]);
    assert!(
        format!("{}{}", status.stdout, status.stderr).contains("does not supersede key"),
        "{status:?}"
    );
    // Another environment, untouched by Bob, seals as ever.
    env.secrets(&fresh, &["set", "development", "NEW", "dev-value"])
        .ok();
    // Trusting the environment is a decision the user makes, and then it seals.
    env.secrets(&fresh, &["env", "trust", "production"]).ok();
    env.secrets(&fresh, &["set", "production", "NEW", "new-prod-secret-2"])
        .ok();
}

// Guards: a clone of Alice's that last unlocked before Bob's removal remembers the key
// Bob held as current, which his chain does supersede. HEAD's history, once pulled,
// gave her the key the removal made, which his chain does not: nothing new is sealed
// under his key.
#[test]
fn a_clone_that_last_used_the_old_key_refuses_a_chain_grown_again_from_it() {
    let env = Env::new();
    let (alice, b, bobs_key) = bob_grows_the_chain_again(&env);
    let stale = clone(&env, &alice, "alice-stale");
    env.git(&stale, &["reset", "-q", "--hard", "HEAD~1"]).ok();
    env.secrets(&stale, &["unlock"]).ok();
    pull(&env, &stale, &b);
    let out = env
        .secrets(&stale, &["set", "production", "NEW", "new-prod-secret-6"])
        .fails();
    out.error_names(&[
        &format!("current key {} of `production`", bobs_key[0]),
        "does not supersede key",
    ]);
    assert!(!out.stderr.contains("new-prod-secret"), "{out:?}");
    assert_eq!(
        edit_not_staged(&env, &stale, "DB=prod-password-3\n"),
        bobs_key
    );
}

// Guards: the documented repair leaves no fresh clone stuck. Alice's clone refuses Bob's
// chain; she puts back .secrets from before his edit and rotates. His key, which
// HEAD's history made current and gave to her, is recorded as left out by the new key
// (she holds both), so a fresh clone of hers accepts it and seals under the new key,
// which Bob was not given.
#[test]
fn after_the_repair_a_fresh_clone_seals_under_the_new_key() {
    let env = Env::new();
    let (alice, b, bobs_key) = bob_grows_the_chain_again(&env);
    pull(&env, &alice, &b);
    env.secrets(&alice, &["set", "production", "NEW", "new-prod-secret-2"])
        .fails();
    restore_secrets_sealed(&env, &alice, "HEAD~1");
    env.secrets(&alice, &["rotate", "--env", "production"]).ok();
    env.commit_all(&alice, "put production's chain back, and rotate");
    let repaired = production_head(&env, &alice, "HEAD");
    let doc = access_doc(&alice);
    // Bob's key is recorded as left out by the new key, not taken into its chain.
    let left_out = &doc["keys"]["production"][&repaired]["left_out"];
    assert_eq!(
        left_out.as_object().map(|s| s.keys().collect::<Vec<_>>()),
        Some(vec![&bobs_key[0]]),
        "{left_out}"
    );
    assert!(
        doc["keys"]["production"].get(&bobs_key[0]).is_none(),
        "{doc}"
    );

    let fresh = clone(&env, &alice, "alice-fresh");
    env.secrets(&fresh, &["unlock"]).ok();
    env.secrets(&fresh, &["set", "production", "NEW", "new-prod-secret-3"])
        .ok();
    env.git(&fresh, &["add", ".secrets/production.env"]).ok();
    assert_eq!(
        key_ids(&blob(&env, &fresh, ":.secrets/production.env")),
        vec![repaired.clone()]
    );
    let wrapped = &access_doc(&fresh)["keys"]["production"][&repaired]["wrapped"];
    let bob_id = member_id(&env, &fresh, "bob");
    assert!(wrapped.get(&bob_id).is_none(), "{wrapped}");
}

// Guards: an environment deleted and added again by a member who held its keys records
// them as left out by its new key, so fresh clones of the members who held them accept
// it.
#[test]
fn an_environment_deleted_and_added_again_is_accepted_by_a_fresh_clone() {
    let env = Env::new();
    let alice = alice_repo(&env);
    let old = production_head(&env, &alice, "HEAD");
    env.secrets(&alice, &["env", "del", "production", "--yes"])
        .ok();
    env.commit_all(&alice, "drop production");
    env.secrets(&alice, &["env", "add", "production"]).ok();
    env.secrets(&alice, &["set", "production", "DB", "prod-password-2"])
        .ok();
    env.commit_all(&alice, "production again");
    let new = production_head(&env, &alice, "HEAD");
    assert_ne!(new, old);

    let fresh = clone(&env, &alice, "alice-fresh");
    env.secrets(&fresh, &["unlock"]).ok();
    env.secrets(&fresh, &["set", "production", "NEW", "new-prod-secret-5"])
        .ok();
    assert_eq!(
        env.secrets(&fresh, &["get", "production", "NEW", "--yes"])
            .ok()
            .stdout,
        "new-prod-secret-5\n"
    );
}

/// Alice's repository where Bob, removed, pushed production's chain grown again from
/// the key he held (see the test above), into his clone `b`, not yet pulled by Alice:
/// (Alice's repository, Bob's clone, the key ids Bob's production.env is sealed under).
pub fn bob_grows_the_chain_again(
    env: &Env,
) -> (std::path::PathBuf, std::path::PathBuf, Vec<String>) {
    bob_grows_the_chain_again_with(env, |_, _| ())
}

/// [`bob_grows_the_chain_again`], where `before_rotating` runs as Bob in his own clone
/// (committed) before he rotates there: members it adds (an accomplice he approves) go
/// into the forged access.json with his key's wraps and grants to them.
pub fn bob_grows_the_chain_again_with(
    env: &Env,
    before_rotating: impl FnOnce(&Env, &std::path::Path),
) -> (std::path::PathBuf, std::path::PathBuf, Vec<String>) {
    let alice = alice_repo(env);
    let (bob, b, id) = bob_joins(env, &alice);
    approve_and_unlock(env, &alice, &bob, &b, &id, "production");
    let own = clone(&bob, &b, "bob-own");
    bob.secrets(&own, &["unlock"]).ok();
    before_rotating(&bob, &own);
    bob.secrets(&own, &["rotate", "--env", "production"]).ok();
    bob.git(&own, &["commit", "-q", "-m", "mine"]).ok();
    let mine = access_doc(&own)["keys"]["production"].clone();
    let members = access_doc(&own)["members"].clone();
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
    crate::forged_access::edit_access(&b, |doc| {
        doc["keys"]["production"] = chain;
        for (member, entry) in members.as_object().unwrap() {
            if doc["members"].get(member).is_none() {
                doc["members"][member] = entry.clone();
            }
        }
    });
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
    (alice, b, key_ids(&sealed))
}

/// The one current production key in `repo`'s access.json at `rev`.
pub fn production_head(env: &Env, repo: &std::path::Path, rev: &str) -> String {
    let doc: Value =
        serde_json::from_str(&blob(env, repo, &format!("{rev}:.secrets/access.json"))).unwrap();
    let heads: Vec<&String> = doc["keys"]["production"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, r)| r.get("superseded_by").is_none_or(|s| s == &json!({})))
        .map(|(id, _)| id)
        .collect();
    assert_eq!(heads.len(), 1, "{heads:?}");
    heads[0].clone()
}

// Guards: what the memory of current keys leaves alone. On a branch made before a
// rotation this clone saw, everything reads, an unchanged file stages as it is, and new
// values are refused only until the rotation is merged in; then they are sealed under
// the new key.
#[test]
fn a_branch_made_before_a_rotation_reads_and_seals_again_once_the_rotation_is_merged() {
    let env = Env::new();
    let alice = alice_repo(&env);
    env.git(&alice, &["branch", "old"]).ok();
    env.secrets(&alice, &["rotate", "--env", "production"]).ok();
    env.commit_all(&alice, "rotate production");
    let rotated = production_head(&env, &alice, "HEAD");
    env.git(&alice, &["checkout", "-q", "old"]).ok();
    assert_eq!(
        read(alice.join(".secrets/production.env")),
        "DB=prod-password-1\n"
    );
    assert_eq!(
        env.secrets(&alice, &["get", "production", "DB", "--yes"])
            .ok()
            .stdout,
        "prod-password-1\n"
    );
    // An unchanged file stages as it is (its tokens kept), and other work commits.
    let staged = blob(&env, &alice, ":.secrets/production.env");
    write(
        alice.join(".secrets/production.env"),
        "DB=prod-password-1\n",
    );
    env.git(&alice, &["add", ".secrets/production.env"]).ok();
    assert_eq!(blob(&env, &alice, ":.secrets/production.env"), staged);
    write(alice.join("README.md"), "docs\n");
    env.commit_all(&alice, "docs on the old branch");
    // A new value waits for the rotation.
    env.secrets(&alice, &["set", "production", "NEW", "new-prod-secret-4"])
        .fails()
        .error_names(&["does not descend from key", "git merge main"]);
    env.git(&alice, &["merge", "-q", "--no-edit", "main"]).ok();
    env.secrets(&alice, &["set", "production", "NEW", "new-prod-secret-4"])
        .ok();
    env.commit_all(&alice, "new value");
    assert_eq!(
        key_ids(&blob(&env, &alice, "HEAD:.secrets/production.env")),
        vec![rotated]
    );
}

// Guards: two rotations at once, in two clones (a fork once merged), repaired by the
// rotation after the merge: its key supersedes both, so both clones seal under it.
#[test]
fn concurrent_rotations_merged_then_rotated_again_seal_in_both_clones() {
    let env = Env::new();
    let alice = alice_repo(&env);
    let (bob, b, id) = bob_joins(&env, &alice);
    approve_and_unlock(&env, &alice, &bob, &b, &id, "production");
    env.secrets(&alice, &["rotate", "--env", "production"]).ok();
    env.commit_all(&alice, "alice rotates");
    bob.secrets(&b, &["rotate", "--env", "production"]).ok();
    bob.commit_all(&b, "bob rotates");
    pull(&bob, &b, &alice);
    bob.secrets(&b, &["set", "production", "NEW", "new-prod-secret-5"])
        .fails();
    bob.secrets(&b, &["rotate", "--env", "production"]).ok();
    bob.commit_all(&b, "one key again");
    bob.secrets(&b, &["set", "production", "NEW", "new-prod-secret-5"])
        .ok();
    bob.commit_all(&b, "new value");
    pull(&env, &alice, &b);
    env.secrets(&alice, &["set", "production", "NEW2", "new-prod-secret-6"])
        .ok();
    env.commit_all(&alice, "another value");
    let head = production_head(&env, &alice, "HEAD");
    assert_eq!(
        key_ids(&blob(&env, &alice, "HEAD:.secrets/production.env")),
        vec![head]
    );
    // The same in one clone: rotations on two branches, merged, then rotated.
    env.git(&alice, &["checkout", "-q", "-b", "side"]).ok();
    env.secrets(&alice, &["rotate", "--env", "production"]).ok();
    env.commit_all(&alice, "rotate on a side branch");
    env.git(&alice, &["checkout", "-q", "main"]).ok();
    env.secrets(&alice, &["rotate", "--env", "production"]).ok();
    env.commit_all(&alice, "rotate on main");
    env.git(&alice, &["merge", "-q", "--no-edit", "side"]).ok();
    env.secrets(&alice, &["rotate", "--env", "production"]).ok();
    env.commit_all(&alice, "one key again");
    env.secrets(&alice, &["set", "production", "NEW3", "new-prod-secret-7"])
        .ok();
    assert_eq!(
        env.secrets(&alice, &["get", "production", "NEW", "--yes"])
            .ok()
            .stdout,
        "new-prod-secret-5\n"
    );
}
