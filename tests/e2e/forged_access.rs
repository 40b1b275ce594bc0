//! access.json edited by hand by someone who can push but holds no key: a removed member
//! marking itself active again, a request marking itself approved, a key record of the
//! attacker's own beside the real one. None of them may end up holding a key that later
//! values are sealed under, whatever routine command a real member runs next.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::common::*;

/// `<repo>/.secrets/access.json` of the work tree, parsed.
pub fn access_doc(repo: &Path) -> Value {
    serde_json::from_str(&read(repo.join(".secrets/access.json"))).unwrap()
}

/// Rewrites `<repo>/.secrets/access.json` through `edit`, as a text editor would.
pub fn edit_access(repo: &Path, edit: impl FnOnce(&mut Value)) {
    let mut doc = access_doc(repo);
    edit(&mut doc);
    let path = repo.join(".secrets/access.json");
    write(&path, &(serde_json::to_string_pretty(&doc).unwrap() + "\n"));
}

/// Marks member `id` active for every environment, with no trace of a removal.
fn promote(doc: &mut Value, id: &str) {
    let m = &mut doc["members"][id];
    m["status"] = json!("active");
    m["approved_at"] = json!("2026-01-01T00:00:00Z");
    m.as_object_mut().unwrap().remove("removed_at");
    m["environments"] = json!(["development", "production", "test"]);
}

/// `eve` clones Alice's repository, asks to join, edits access.json by hand (`edit`,
/// given her member id), commits, and Alice fast-forwards to it. Returns Eve's clone and
/// her id.
pub fn eve_edits_access(
    env: &Env,
    eve: &Env,
    alice: &Path,
    edit: impl FnOnce(&mut Value, &str),
) -> (PathBuf, String) {
    let e = clone(eve, alice, "eve");
    eve.secrets(&e, &["join", "--name", "eve"]).ok();
    let id = member_id(eve, &e, "eve");
    edit_access(&e, |doc| edit(doc, &id));
    eve.commit_all(&e, "eve joins");
    pull(env, alice, &e);
    (e, id)
}

/// Alice's repository where Bob was approved, then removed (committed), and Bob's clone
/// up to date with it: (alice, bob, bob's clone, bob's id).
pub fn bob_approved_then_removed(env: &Env) -> (PathBuf, Env, PathBuf, String) {
    let alice = alice_repo(env);
    let (bob, b, id) = bob_joins(env, &alice);
    env.secrets(&alice, &["member", "approve", &id]).ok();
    env.commit_all(&alice, "approve bob");
    env.secrets(&alice, &["member", "remove", &id]).ok();
    env.git(&alice, &["commit", "-q", "-m", "remove bob"]).ok();
    pull(&bob, &b, &alice);
    (alice, bob, b, id)
}

/// Alice sets a new production value after her routine command, commits; `who` pulls and
/// must not be able to read it.
fn new_value_stays_closed(env: &Env, alice: &Path, who: &Env, clone: &Path) {
    env.secrets(alice, &["set", "production", "DB", "prod-password-2"])
        .ok();
    env.commit_all(alice, "new production value");
    pull(who, clone, alice);
    let out = who
        .secrets(clone, &["get", "production", "DB", "--yes"])
        .fails();
    assert!(!out.stdout.contains("prod-password-2"), "{out:?}");
    assert!(!read(clone.join(".secrets/production.env")).contains("prod-password-2"));
}

#[test]
fn a_removed_member_who_marks_itself_active_gets_no_new_key() {
    let env = Env::new();
    let (alice, bob, b, id) = bob_approved_then_removed(&env);
    // Bob still has push access: he writes himself back in, and Alice fast-forwards.
    edit_access(&b, |doc| promote(doc, &id));
    bob.commit_all(&b, "tidy access.json");
    pull(&env, &alice, &b);
    let status = env.secrets(&alice, &["status"]).ok().stdout;
    assert!(
        status.contains(&format!("bob ({id}) is listed for `production`"))
            && status.contains("no holder of its key granted"),
        "{status}"
    );
    // A routine rotation by Alice does not carry him over: HEAD's history removed him,
    // so he is marked removed again.
    let out = env.secrets(&alice, &["rotate"]).ok();
    assert!(
        out.stderr.contains("kept removed and given no new key") && out.stderr.contains(&id),
        "{out:?}"
    );
    env.git(&alice, &["commit", "-q", "-m", "rotate"]).ok();
    new_value_stays_closed(&env, &alice, &bob, &b);
}

#[test]
fn a_request_that_approves_itself_gets_no_key() {
    let env = Env::new();
    let alice = alice_repo(&env);
    let eve = env.person("eve");
    let (e, id) = eve_edits_access(&env, &eve, &alice, promote);
    // An approver's list says so.
    let list = env.secrets(&alice, &["member", "list"]).ok().stdout;
    let row = list.lines().find(|l| l.starts_with(&id)).unwrap();
    assert!(
        row.contains("NOT GRANTED: development,test,production,shared"),
        "{list}"
    );
    let json = env
        .secrets(&alice, &["member", "list", "--json"])
        .ok()
        .stdout;
    assert!(json.contains("\"not_granted\": ["), "{json}");
    // A new environment goes to the members who can read every other one: not to her.
    env.secrets(&alice, &["env", "add", "staging"]).ok();
    env.secrets(&alice, &["set", "staging", "API", "staging-secret"])
        .ok();
    env.commit_all(&alice, "staging");
    pull(&eve, &e, &alice);
    let out = eve.secrets(&e, &["get", "staging", "API", "--yes"]).fails();
    assert!(!out.stdout.contains("staging-secret"), "{out:?}");
    // Nor does a rotation give her production.
    env.secrets(&alice, &["rotate", "--env", "production"]).ok();
    env.git(&alice, &["commit", "-q", "-m", "rotate"]).ok();
    new_value_stays_closed(&env, &alice, &eve, &e);
    // Approving her for real is what gives her access.
    env.secrets(&alice, &["member", "approve", &id, "--env", "production"])
        .ok();
    env.commit_all(&alice, "approve eve");
    pull(&eve, &e, &alice);
    assert_eq!(
        eve.secrets(&e, &["get", "production", "DB", "--yes"])
            .ok()
            .stdout,
        "prod-password-2\n"
    );
}

#[test]
fn a_key_of_the_attackers_own_beside_the_real_one_is_rotated_away() {
    let env = Env::new();
    let alice = alice_repo(&env);
    let eve = env.person("eve");
    // Elsewhere, Eve makes a production key of her own and wraps it to Alice too (only
    // Alice's public key is needed), granting it to both of them: she holds that key.
    let forged = eves_production_key(&env, &eve);
    let (e, _) = eve_edits_access(&env, &eve, &alice, |doc, id| {
        promote(doc, id);
        for (key_id, record) in forged.as_object().unwrap() {
            doc["keys"]["production"][key_id] = record.clone();
        }
    });
    // Two current keys: new values are refused until a rotation, which Alice can run
    // (she opens both) and which must not carry Eve over.
    let status = env.secrets(&alice, &["status"]).ok().stdout;
    assert!(
        status.contains("`production` has 2 current keys"),
        "{status}"
    );
    env.secrets(&alice, &["rotate", "--env", "production"]).ok();
    env.git(&alice, &["commit", "-q", "-m", "rotate"]).ok();
    assert!(!env
        .secrets(&alice, &["status"])
        .ok()
        .stdout
        .contains("current keys"));
    new_value_stays_closed(&env, &alice, &eve, &e);
    // Alice still reads the history through the chain.
    assert_eq!(
        env.secrets(&alice, &["get", "production", "DB", "--yes"])
            .ok()
            .stdout,
        "prod-password-2\n"
    );
}

/// The honest case that looks the same: an approval on one branch, a rotation on another.
/// The merged entry says "active" with no grant of the new key; approving again fixes it,
/// and from then on rotations carry the member over.
#[test]
fn an_approval_merged_with_a_rotation_is_repaired_by_approving_again() {
    let env = Env::new();
    let alice = alice_repo(&env);
    let (bob, b, id) = bob_joins(&env, &alice);
    env.git(&alice, &["branch", "rotated"]).ok();
    env.secrets(&alice, &["member", "approve", &id]).ok();
    env.commit_all(&alice, "approve bob");
    env.git(&alice, &["checkout", "-q", "rotated"]).ok();
    env.secrets(&alice, &["rotate", "--env", "production"]).ok();
    env.git(&alice, &["commit", "-q", "-m", "rotate"]).ok();
    env.git(&alice, &["checkout", "-q", "main"]).ok();
    env.git(&alice, &["merge", "-q", "--no-edit", "rotated"])
        .ok();
    let status = env.secrets(&alice, &["status"]).ok().stdout;
    assert!(
        status.contains(&format!("bob ({id}) is listed for `production`")),
        "{status}"
    );
    assert!(!status.contains("listed for `development`"), "{status}");
    env.secrets(&alice, &["member", "approve", &id]).ok();
    env.commit_all(&alice, "approve bob again");
    assert!(!env
        .secrets(&alice, &["status"])
        .ok()
        .stdout
        .contains("is listed for"));
    let out = env.secrets(&alice, &["rotate"]).ok();
    assert!(!out.stderr.contains("not given"), "{}", out.stderr);
    env.git(&alice, &["commit", "-q", "-m", "rotate all"]).ok();
    env.secrets(&alice, &["set", "production", "DB", "prod-password-2"])
        .ok();
    env.commit_all(&alice, "new production value");
    pull(&bob, &b, &alice);
    bob.secrets(&b, &["unlock"]).ok();
    assert_eq!(
        bob.secrets(&b, &["get", "production", "DB", "--yes"])
            .ok()
            .stdout,
        "prod-password-2\n"
    );
}

/// Eve's own production key, wrapped and granted to Alice (whose public key is all that
/// takes): the key record(s) of a scratch repository Eve set up, for `edit_access`.
pub fn eves_production_key(env: &Env, eve: &Env) -> Value {
    let scratch = eve.repo("scratch", &["--envs"]);
    env.secrets(&scratch, &["join", "--name", "alice"]).ok();
    let alice_id = member_id(eve, &scratch, "alice");
    eve.secrets(&scratch, &["member", "approve", &alice_id])
        .ok();
    let forged = access_doc(&scratch);
    forged["keys"]["production"].clone()
}

#[test]
fn keys_replaced_wholesale_are_refused_by_a_clone_that_held_the_old_ones() {
    let env = Env::new();
    let alice = alice_repo(&env);
    let eve = env.person("eve");
    let forged = eves_production_key(&env, &eve);
    eve_edits_access(&env, &eve, &alice, |doc, _| {
        doc["keys"]["production"] = forged.clone()
    });
    let staged = blob(&env, &alice, ":.secrets/production.env");
    // Nothing is sealed under the new keys: not by a set, not by a git add. (The
    // plaintext already in the work tree still reads: it needs no key.)
    for out in [
        env.secrets(&alice, &["set", "production", "NEW", "value"]),
        {
            write(
                alice.join(".secrets/production.env"),
                "DB=prod-password-2\n",
            );
            env.git(&alice, &["add", ".secrets/production.env"])
        },
    ] {
        assert!(!out.success(), "{out:?}");
        assert!(
            out.stderr
                .contains("reach none of the keys this clone held before"),
            "{}",
            out.stderr
        );
    }
    assert_eq!(blob(&env, &alice, ":.secrets/production.env"), staged);
    // Putting the real keys back (what `git log -p .secrets/access.json` leads to) and
    // rotating is the way out: Eve's keys are in HEAD's history now, made current and
    // given to Alice, so only a key that records them as left out is accepted. The edit
    // then seals under it.
    restore_secrets_sealed(&env, &alice, "HEAD~1");
    env.secrets(&alice, &["rotate", "--env", "production"]).ok();
    env.git(&alice, &["add", ".secrets/production.env"]).ok();
    assert_ne!(blob(&env, &alice, ":.secrets/production.env"), staged);
    env.secrets(&alice, &["set", "production", "NEW", "value"])
        .ok();
    // The other environments are untouched.
    assert_eq!(
        env.secrets(&alice, &["get", "DB", "--yes"]).ok().stdout,
        "dev-password-1\n"
    );
}

/// An entry edited by hand does not count as someone who can still read an environment:
/// removing the last real reader is refused, not done with the new key given to nobody.
#[test]
fn a_forged_member_does_not_count_as_another_reader() {
    let env = Env::new();
    let alice = alice_repo(&env);
    let eve = env.person("eve");
    eve_edits_access(&env, &eve, &alice, promote);
    let alice_id = member_id(&env, &alice, "Alice Test");
    let before = read(alice.join(".secrets/access.json"));
    let out = env
        .secrets(&alice, &["member", "remove", &alice_id])
        .fails();
    assert!(
        out.stderr.contains("is the last member who can read"),
        "{}",
        out.stderr
    );
    assert_eq!(read(alice.join(".secrets/access.json")), before);
    assert_eq!(
        env.secrets(&alice, &["get", "production", "DB", "--yes"])
            .ok()
            .stdout,
        "prod-password-1\n"
    );
}

/// A removal taken out of access.json by hand (the entry back to a request) is still
/// found in history when someone goes to approve it.
#[test]
fn a_removal_edited_away_is_found_when_approving() {
    let env = Env::new();
    let (alice, bob, b, id) = bob_approved_then_removed(&env);
    edit_access(&b, |doc| {
        let m = &mut doc["members"][&id];
        m["status"] = json!("pending");
        let m = m.as_object_mut().unwrap();
        m.remove("removed_at");
        m.remove("approved_at");
        m.insert("environments".into(), json!([]));
    });
    bob.commit_all(&b, "ask again");
    pull(&env, &alice, &b);
    let before = read(alice.join(".secrets/access.json"));
    let out = env.secrets(&alice, &["member", "approve", &id]).fails();
    assert!(
        out.stderr.contains("was removed (commit") && out.stderr.contains("new identity"),
        "{}",
        out.stderr
    );
    assert_eq!(read(alice.join(".secrets/access.json")), before);
}

// Guards: Eve, who can push but holds no key, plants a stray file of an environment
// `old` sealed under a key of her own, and an `old` chain in access.json that lists the
// record of the real development key beside hers (key ids and records are public). The
// stray then looks kin to development; `doctor --fix`, which moves a renamed
// environment's stray values home, must not take hers for development's: nothing links
// her key to development's.
#[test]
fn a_forged_stray_file_is_not_moved_into_a_real_environment() {
    let env = Env::new();
    let alice = alice_repo(&env);
    let eve = env.person("eve");
    // Elsewhere, a key of Eve's wrapped to Alice, and a file sealed under it for `old`.
    let scratch = eve.repo("scratch", &["--envs", "old"]);
    env.secrets(&scratch, &["join", "--name", "alice"]).ok();
    let alice_id = member_id(&eve, &scratch, "alice");
    eve.secrets(&scratch, &["member", "approve", &alice_id])
        .ok();
    eve.secrets(
        &scratch,
        &["set", "old", "EVIL_URL", "https://evil.example/collect"],
    )
    .ok();
    eve.git(&scratch, &["add", "-A"]).ok();
    let sealed = eve
        .git(&scratch, &["show", ":.secrets/old.env"])
        .ok()
        .stdout;
    assert!(sealed.contains("EVIL_URL=gs1:"), "{sealed}");
    let forged = access_doc(&scratch);
    // In Alice's repository, as a push of Eve's would bring them.
    edit_access(&alice, |doc| {
        let mut chain = forged["keys"]["old"].clone();
        // Only Alice is a member there: Eve's own wrap and grant go.
        for record in chain.as_object_mut().unwrap().values_mut() {
            for field in ["wrapped", "grants"] {
                record[field]
                    .as_object_mut()
                    .unwrap()
                    .retain(|member, _| *member == alice_id);
            }
        }
        for (id, record) in doc["keys"]["development"].as_object().unwrap().clone() {
            chain[id] = record;
        }
        doc["keys"]["old"] = chain;
    });
    write(alice.join(".secrets/old.env"), &sealed);
    let oid = env
        .git(
            &alice,
            &["hash-object", "-w", "--no-filters", ".secrets/old.env"],
        )
        .ok()
        .stdout;
    let info = format!("100644,{},.secrets/old.env", oid.trim());
    env.git(&alice, &["update-index", "--add", "--cacheinfo", &info])
        .ok();
    env.git(&alice, &["add", ".secrets/access.json"]).ok();
    env.git(&alice, &["commit", "-q", "--no-verify", "-m", "eve"])
        .ok();
    env.secrets(&alice, &["doctor", "--fix"]);
    env.secrets(&alice, &["get", "development", "EVIL_URL", "--yes"])
        .fails();
    let dev = read(alice.join(".secrets/development.env"));
    assert!(!dev.contains("evil.example"), "{dev}");
}

#[test]
fn a_removed_member_is_told_to_join_with_a_new_identity() {
    let env = Env::new();
    let (_alice, bob, b, id) = bob_approved_then_removed(&env);
    // `join` refuses his key, so being told to ask for approval of this device (or to
    // join with it) would send him in a circle.
    for args in [
        &["get", "production", "DB", "--yes"][..],
        &["run", "--", "true"][..],
    ] {
        let out = bob.secrets(&b, args).fails();
        out.error_names(&["no access", &id, "was removed", "new identity"]);
        assert!(!out.stderr.contains("if you have not"), "{out:?}");
    }
    bob.secrets(&b, &["join", "--name", "bob"])
        .fails()
        .error_names(&["removed", "new identity"]);
}
