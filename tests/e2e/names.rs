//! Who a member is: names printed safely (access.json is text anyone who can push edits),
//! and recipients compared by their key, not their spelling (an SSH comment, upper case).

use std::path::{Path, PathBuf};

use crate::common::*;

/// Characters that would let a name redraw the approver's terminal: CR, LF, ESC (an
/// erase-line and a conceal sequence), a bidi override and an isolate.
const EVIL: &str = "bob\r\x1b[2Kalice\n\x1b[8m\u{202e}x\u{2066}";
/// How git-secrets prints [`EVIL`].
const EVIL_SHOWN: &str = "bob\\r\\x1b[2Kalice\\n\\x1b[8m\\u{202e}x\\u{2066}";

fn is_unsafe(c: char) -> bool {
    c.is_control() && c != '\n' || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Asserts `out` prints no character that a terminal interprets (line breaks between
/// lines aside), and shows `shown` where the name goes.
fn printed_safely(out: &Out, shown: &str) {
    let all = format!("{}{}", out.stdout, out.stderr);
    assert!(
        !all.chars().any(is_unsafe),
        "raw control character: {all:?}"
    );
    assert!(
        !all.lines()
            .any(|l| l.starts_with("alice") || l.starts_with("\\x1b")),
        "the name broke the line: {all:?}"
    );
    assert!(all.contains(shown), "{shown} not in {all:?}");
}

/// Sets the name of member `id` in `repo`'s access.json, as an edit by hand would.
fn rename_by_hand(repo: &Path, id: &str, name: &str) {
    let path = repo.join(".secrets/access.json");
    let mut doc: serde_json::Value = serde_json::from_str(&read(&path)).unwrap();
    doc["members"][id]["name"] = name.into();
    write(
        &path,
        &format!("{}\n", serde_json::to_string_pretty(&doc).unwrap()),
    );
}

// Guards: `join` refuses a name a terminal would not print as text, and writes nothing.
#[test]
fn join_refuses_control_and_bidi_characters_in_names() {
    let env = Env::new();
    let alice = alice_repo(&env);
    let bob = env.person("bob");
    let b = clone(&bob, &alice, "bob");
    let before = read(b.join(".secrets/access.json"));
    for (name, shown) in [
        ("bob\rcarol", "bob\\rcarol"),
        ("bob\x1b[8m", "bob\\x1b[8m"),
        ("bob\u{202e}lol", "bob\\u{202e}lol"),
        ("bob\u{2067}", "bob\\u{2067}"),
        ("bob\u{85}", "bob\\u{85}"),
    ] {
        let out = bob.secrets(&b, &["join", "--name", name]).fails();
        out.error_names(&["member name", shown]);
        printed_safely(&out, shown);
        assert_eq!(read(b.join(".secrets/access.json")), before, "{shown}");
    }
    // `keys create` names a member too.
    let out = env
        .secrets(
            &alice,
            &["keys", "create", "--name", "ci\x1b[2K", "-e", "test"],
        )
        .fails();
    out.error_names(&["member name", "ci\\x1b[2K"]);
    bob.secrets(&b, &["join", "--name", "Bob (laptop) ü"]).ok();
}

// Guards: a name written into access.json by hand is escaped by every command that
// prints it: member list, approve, status, doctor, remove.
#[test]
fn names_edited_by_hand_are_printed_escaped() {
    let env = Env::new();
    let alice = alice_repo(&env);
    let (_bob, _b, id) = bob_joins(&env, &alice);
    let me = member_id(&env, &alice, "Alice Test");
    rename_by_hand(&alice, &id, EVIL);
    rename_by_hand(&alice, &me, &format!("me{EVIL}"));

    let list = env.secrets(&alice, &["member", "list"]).ok();
    printed_safely(&list, EVIL_SHOWN);
    let row = list.stdout.lines().find(|l| l.starts_with(&id)).unwrap();
    assert!(row.contains("pending"), "the row keeps its columns: {row}");
    let json = env.secrets(&alice, &["member", "list", "--json"]).ok();
    let rows: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert!(
        rows.as_array().unwrap().iter().any(|r| r["name"] == EVIL),
        "JSON keeps the name as data"
    );

    let approve = env
        .secrets(&alice, &["member", "approve", &id, "--env", "development"])
        .ok();
    printed_safely(&approve, EVIL_SHOWN);
    let status = env.secrets(&alice, &["status"]).ok();
    printed_safely(&status, &format!("me{EVIL_SHOWN}"));
    let doctor = env.secrets(&alice, &["doctor"]);
    printed_safely(&doctor, &format!("me{EVIL_SHOWN}"));
    let remove = env.secrets(&alice, &["member", "remove", &id]).ok();
    printed_safely(&remove, EVIL_SHOWN);
}

/// Bob's SSH key pair (the ed25519 test fixture) in his HOME; returns (private, public).
fn bobs_ssh_key(bob: &Env) -> (PathBuf, PathBuf) {
    let key = bob.home.join("id_ed25519");
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/ssh");
    std::fs::copy(fixtures.join("id_ed25519"), &key).unwrap();
    std::fs::copy(fixtures.join("id_ed25519.pub"), key.with_extension("pub")).unwrap();
    chmod(&key, 0o600);
    (key.clone(), key.with_extension("pub"))
}

/// The same key with another comment, as a new laptop's `.pub` would have it.
fn recomment(pubkey: &Path, comment: &str) {
    let text = read(pubkey);
    let mut fields = text.split_whitespace();
    let (kind, blob) = (fields.next().unwrap(), fields.next().unwrap());
    write(pubkey, &format!("{kind} {blob} {comment}\n"));
}

/// What `ssh-keygen -lf tests/fixtures/ssh/id_ed25519.pub` prints.
const FIXTURE_FINGERPRINT: &str = "SHA256:BYQA0/1X4xLmtEHnrDLqqFFA/f5TAURQFgxGgSCIeeg";

// Guards: an SSH key is one member whatever its comment: the fingerprint shown is
// ssh-keygen's, a member whose .pub comment changed still decrypts, and once removed
// the key cannot join again under another comment.
#[test]
fn a_removed_ssh_key_cannot_rejoin_with_another_comment() {
    let env = Env::new();
    let alice = alice_repo(&env);
    let mut bob = env.person("bob");
    let (key, pubkey) = bobs_ssh_key(&bob);
    bob.vars.push((
        "GIT_SECRETS_IDENTITY_FILE".into(),
        key.display().to_string(),
    ));
    let b = clone(&bob, &alice, "bob");
    let pubkey_arg = pubkey.to_str().unwrap();
    let out = bob
        .secrets(&b, &["join", "--name", "bob", "--ssh-key", pubkey_arg])
        .ok();
    assert!(out.stderr.contains(FIXTURE_FINGERPRINT), "{}", out.stderr);
    bob.commit_all(&b, "bob joins");
    pull(&env, &alice, &b);
    let list = env.secrets(&alice, &["member", "list"]).ok().stdout;
    let row = list.lines().find(|l| l.contains(" bob ")).unwrap();
    assert!(row.ends_with(FIXTURE_FINGERPRINT), "{row}");
    let id = member_id(&env, &alice, "bob");
    approve_and_unlock(&env, &alice, &bob, &b, &id, "production");

    // A new comment on the same key pair: still Bob.
    recomment(&pubkey, "bob@new-laptop");
    let out = bob.secrets(&b, &["get", "production", "DB", "--yes"]).ok();
    assert_eq!(out.stdout, "prod-password-1\n");
    let out = bob
        .secrets(&b, &["join", "--name", "bob2", "--ssh-key", pubkey_arg])
        .fails();
    out.error_names(&["already a member", &id]);

    env.secrets(&alice, &["member", "remove", &id]).ok();
    env.commit_all(&alice, "remove bob");
    pull(&bob, &b, &alice);
    let before = read(b.join(".secrets/access.json"));
    for comment in ["bob@laptop", "mal (new laptop)"] {
        recomment(&pubkey, comment);
        let out = bob
            .secrets(&b, &["join", "--name", "mal", "--ssh-key", pubkey_arg])
            .fails();
        out.error_names(&["was removed", &id]);
        assert_eq!(read(b.join(".secrets/access.json")), before, "{comment}");
    }
}

// Guards: `member approve` refuses a key removed earlier in the history even when an
// edit by hand brought it back under another spelling (an SSH comment changed, an age
// recipient in upper case) and took the removal out.
#[test]
fn approve_refuses_a_removed_key_brought_back_under_another_spelling() {
    for spelling in ["ssh comment", "age upper case"] {
        let env = Env::new();
        let alice = alice_repo(&env);
        let bob = env.person("bob");
        let b = clone(&bob, &alice, "bob");
        let id = if spelling == "ssh comment" {
            let (_, pubkey) = bobs_ssh_key(&bob);
            let pubkey = pubkey.to_str().unwrap();
            bob.secrets(&b, &["join", "--name", "bob", "--ssh-key", pubkey])
                .ok();
            bob.commit_all(&b, "bob joins");
            pull(&env, &alice, &b);
            member_id(&env, &alice, "bob")
        } else {
            bob.secrets(&b, &["join", "--name", "bob"]).ok();
            bob.commit_all(&b, "bob joins");
            pull(&env, &alice, &b);
            member_id(&env, &alice, "bob")
        };
        env.secrets(&alice, &["member", "approve", &id, "-e", "development"])
            .ok();
        env.commit_all(&alice, "approve bob");
        env.secrets(&alice, &["member", "remove", &id]).ok();
        env.commit_all(&alice, "remove bob");

        // A pusher puts Bob back as a request, his key spelled another way.
        let path = alice.join(".secrets/access.json");
        let mut doc: serde_json::Value = serde_json::from_str(&read(&path)).unwrap();
        let m = &mut doc["members"][&id];
        let recipient = m["recipient"].as_str().unwrap().to_owned();
        m["recipient"] = if spelling == "ssh comment" {
            format!("{recipient} bob@new-laptop")
        } else {
            recipient.to_uppercase()
        }
        .into();
        m["status"] = "pending".into();
        m["name"] = "bob (new laptop)".into();
        let m = m.as_object_mut().unwrap();
        m.remove("removed_at");
        m.remove("approved_at");
        write(
            &path,
            &format!("{}\n", serde_json::to_string_pretty(&doc).unwrap()),
        );
        env.commit_all(&alice, "bob again");

        let before = read(&path);
        let out = env
            .secrets(&alice, &["member", "approve", &id, "-e", "development"])
            .fails();
        out.error_names(&["was removed", "new identity"]);
        assert_eq!(read(&path), before, "{spelling}");
    }
}
