//! A shallow clone (`git clone --depth`, as CI checkouts are by default) lacks the older
//! versions of access.json, so it cannot see a removal there: the commands that give a
//! key to someone (rotate, member remove, member approve, keys create, env add) refuse
//! until the history is fetched, instead of handing a removed member a new key. Sealing
//! a value there is warned about, and a deepened clone reads the history it lacked.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::common::*;
use crate::forged_access::{bob_approved_then_removed, edit_access};

/// `who` clones `from` with `--depth 1` into `<tmp>/name`.
fn shallow_clone(who: &Env, from: &Path, name: &str) -> PathBuf {
    let url = format!("file://{}", from.display());
    who.git(who.path(), &["clone", "-q", "--depth", "1", &url, name])
        .ok();
    who.path().join(name)
}

/// Bob reverts his removal and adds a commit on top (so the shallow clone's one commit
/// is not the revert itself); `who` then makes a shallow clone of Bob's repository.
fn reverted_then_shallow(env: &Env, bob: &Env, b: &Path) -> PathBuf {
    bob.git(b, &["revert", "--no-edit", "HEAD"]).ok();
    write(b.join("README"), "work\n");
    bob.git(b, &["add", "README"]).ok();
    bob.git(b, &["commit", "-q", "-m", "work"]).ok();
    shallow_clone(env, b, "alice-shallow")
}

/// Asserts `out` is the refusal of a shallow clone, with its fix.
fn refused_as_shallow(out: Out) {
    out.fails()
        .error_names(&["shallow", "git fetch --unshallow"]);
}

#[test]
fn a_rotation_in_a_shallow_clone_is_refused_until_the_history_is_fetched() {
    let env = Env::new();
    let (_alice, bob, b, id) = bob_approved_then_removed(&env);
    let shallow = reverted_then_shallow(&env, &bob, &b);
    env.secrets(&shallow, &["unlock"]).ok();
    // A scheduled rotation in a CI checkout: the revert put Bob back in the entry, and
    // the one commit this clone has does not show his removal.
    refused_as_shallow(env.secrets(&shallow, &["rotate", "--env", "production"]));
    let access: Value = serde_json::from_str(&read(shallow.join(".secrets/access.json"))).unwrap();
    assert_eq!(
        access["members"][&id]["status"], "active",
        "nothing written"
    );
    refused_as_shallow(env.secrets(
        &shallow,
        &["keys", "create", "--name", "ci", "--env", "production"],
    ));
    refused_as_shallow(env.secrets(&shallow, &["env", "add", "staging"]));
    // With the whole history, the rotation keeps Bob removed.
    env.git(&shallow, &["fetch", "-q", "--unshallow"]).ok();
    env.secrets(&shallow, &["rotate", "--env", "production"])
        .ok();
    let access: Value = serde_json::from_str(&read(shallow.join(".secrets/access.json"))).unwrap();
    assert_eq!(access["members"][&id]["status"], "removed");
}

#[test]
fn an_approval_in_a_shallow_clone_is_refused_until_the_history_is_fetched() {
    let env = Env::new();
    let (_alice, bob, b, id) = bob_approved_then_removed(&env);
    // Bob, who can still push, turns his entry back into a request.
    edit_access(&b, |doc| {
        let m = &mut doc["members"][id.as_str()];
        m["status"] = json!("pending");
        m["environments"] = json!([]);
        let m = m.as_object_mut().unwrap();
        m.remove("removed_at");
        m.remove("approved_at");
    });
    bob.commit_all(&b, "bob asks again");
    let shallow = shallow_clone(&env, &b, "alice-shallow");
    refused_as_shallow(env.secrets(&shallow, &["member", "approve", &id]));
    env.git(&shallow, &["fetch", "-q", "--unshallow"]).ok();
    env.secrets(&shallow, &["member", "approve", &id])
        .fails()
        .error_names(&["was removed", "new identity"]);
    // A removal in a shallow clone is refused too (what it rotates comes from history).
    let shallow2 = shallow_clone(&env, &b, "alice-shallow2");
    refused_as_shallow(env.secrets(&shallow2, &["member", "remove", &id]));
}

#[test]
fn a_value_sealed_in_a_shallow_clone_warns_and_the_removal_counts_once_deepened() {
    let env = Env::new();
    let (_alice, bob, b, _id) = bob_approved_then_removed(&env);
    let shallow = reverted_then_shallow(&env, &bob, &b);
    // Reading says nothing: only sealing can hand a value to someone.
    let out = env
        .secrets(&shallow, &["get", "production", "DB", "--yes"])
        .ok();
    assert!(!out.stderr.contains("shallow"), "{out:?}");
    // Sealing in the locked clone is not refused (a CI job setting a value), but said.
    let out = env
        .secrets(&shallow, &["set", "production", "LATER", "v1"])
        .ok();
    assert!(
        out.stderr.contains("shallow") && out.stderr.contains("git fetch --unshallow"),
        "{out:?}"
    );
    assert!(!out.stderr.contains("v1"), "{out:?}");
    // Deepened, the clone reads the history it lacked (what it read while shallow was
    // not taken for HEAD's whole history): the key Bob holds seals nothing more.
    env.git(&shallow, &["fetch", "-q", "--unshallow"]).ok();
    env.secrets(&shallow, &["set", "production", "LATER", "v2"])
        .fails()
        .error_names(&["removed"]);
}
