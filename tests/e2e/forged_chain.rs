//! access.json's key chain edited by hand, and team changes made at once on two
//! branches: whatever a clone of a real member runs next, no new value is sealed under
//! a key that someone outside the environment holds.

use serde_json::json;

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
