//! The repair of a forged key chain: what a rotation carries over from it.

use crate::common::*;
use crate::forged_access::access_doc;
use crate::forged_chain::{bob_grows_the_chain_again_with, production_head};

// Guards: Bob, removed but still able to push, grows production's chain again from the
// key he held, and brings Mallory in: an entry marked active for production, his key
// wrapped and granted to her (he held it, so the grant verifies). Alice's clone, which
// holds the real current key, refuses to seal under his. The repair is a rotation
// from his key (it opens for Alice): every member it grants would be carried over, but
// the real key it leaves behind was never granted to Mallory, so she is left out, by
// name, and nothing sealed after the repair opens for her.
#[test]
fn a_repair_rotation_does_not_carry_over_an_accomplice_only_the_forged_chain_grants() {
    let env = Env::new();
    let mallory = env.person("mallory");
    let mut mallory_id = String::new();
    let (alice, b, bobs_key) = bob_grows_the_chain_again_with(&env, |bob, own| {
        let m = clone(&mallory, own, "mallory");
        mallory.secrets(&m, &["join", "--name", "mallory"]).ok();
        mallory.commit_all(&m, "mallory asks to join");
        pull(bob, own, &m);
        mallory_id = member_id(bob, own, "mallory");
        bob.secrets(
            own,
            &["member", "approve", &mallory_id, "--env", "production"],
        )
        .ok();
        bob.commit_all(own, "approve mallory");
    });
    pull(&env, &alice, &b);
    // The forged file as pushed: Mallory active for production, Bob's key granted to her.
    let forged = access_doc(&alice);
    assert_eq!(forged["members"][&mallory_id]["status"], "active");
    assert!(
        forged["keys"]["production"][&bobs_key[0]]["grants"]
            .get(&mallory_id)
            .is_some(),
        "{forged}"
    );
    env.secrets(&alice, &["set", "production", "NEW", "new-prod-secret-8"])
        .fails()
        .error_names(&[&format!("current key {} of `production`", bobs_key[0])]);

    let out = env.secrets(&alice, &["rotate", "--env", "production"]).ok();
    assert!(
        out.stderr.contains(&format!(
            "mallory ({mallory_id}) was not given the new key of `production`"
        )),
        "{out:?}"
    );
    env.git(&alice, &["commit", "-q", "-m", "repair production"])
        .ok();
    let repaired = production_head(&env, &alice, "HEAD");
    let record = &access_doc(&alice)["keys"]["production"][&repaired];
    assert!(record["wrapped"].get(&mallory_id).is_none(), "{record}");
    assert!(record["grants"].get(&mallory_id).is_none(), "{record}");
    env.secrets(&alice, &["set", "production", "NEW", "new-prod-secret-8"])
        .ok();
    env.commit_all(&alice, "a value after the repair");

    let m = clone(&mallory, &alice, "mallory-after");
    mallory.secrets(&m, &["unlock"]);
    let out = mallory.secrets(&m, &["get", "production", "NEW", "--yes"]);
    assert!(!out.success(), "{out:?}");
    assert!(!out.stdout.contains("new-prod-secret-8"), "{out:?}");
    assert!(!read(m.join(".secrets/production.env")).contains("new-prod-secret-8"));
}
