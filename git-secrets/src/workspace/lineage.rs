//! The workspace's side of crate::continuity's lineage check: HEAD's history and this
//! identity, to decide whether the current key of an environment supersedes every key
//! that history made current and gave to this member, and to record the keys a
//! rotation or a re-made environment leaves behind (`Access::record_left_out`).

use std::collections::BTreeSet;

use serde_json::Value;

use super::history::Recovered;
use super::Workspace;
use crate::access::{Access, OpenChain};
use crate::continuity::{Lineage, LineageBroken};
use crate::error::Error;
use crate::identity::Identity;
use crate::seal::KeyId;

impl Workspace {
    /// Refuses a current key of `env` that does not supersede a key HEAD's history made
    /// current and gave to this member (crate::continuity::lineage). Decided once per
    /// process.
    pub(super) fn check_lineage(&self, env: &str) -> Result<(), Error> {
        match self.lineage_verdict(env) {
            Some(broken) => Err(broken.into()),
            None => Ok(()),
        }
    }

    /// The verdict of [`Workspace::check_lineage`] (None: nothing refused). The chain is
    /// opened here: one this identity cannot open seals nothing anyway.
    fn lineage_verdict(&self, env: &str) -> Option<LineageBroken> {
        let noted = self
            .lineage
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(env)
            .cloned();
        if let Some(verdict) = noted {
            return verdict;
        }
        let identity = self.identity_opt().ok().flatten()?;
        let chain = self.access.open_chain(env, identity).ok()?;
        let verdict = self.lineage_of(env, &self.access, &chain).refused;
        self.lineage
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(env.to_owned(), verdict.clone());
        verdict
    }

    /// crate::continuity::lineage of `env` in `access` (opened in `chain`).
    pub(super) fn lineage_of(&self, env: &str, access: &Access, chain: &OpenChain) -> Lineage {
        self.lineage_from(env, access, chain, true)
    }

    /// [`Workspace::lineage_of`]; `step_back`: whether a lost key whose chain leads back
    /// to the current key is excused (it is for sealing under the current key, not for
    /// a rotation from it: the new key would not be in that chain).
    fn lineage_from(
        &self,
        env: &str,
        access: &Access,
        chain: &OpenChain,
        step_back: bool,
    ) -> Lineage {
        let seen = self.seen().clone();
        let head_key = access
            .heads(env)
            .first()
            .and_then(|h| chain.get(h))
            .map(crate::seal::memory_fingerprint);
        let steps_back = |lost: &KeyId, head: &KeyId| {
            step_back
                && head_key
                    .as_deref()
                    .is_some_and(|fp| self.steps_back(env, lost, head, fp))
        };
        let check = |former: &BTreeSet<String>| {
            crate::continuity::lineage(self.root(), &seen, former, env, access, chain, &steps_back)
        };
        // What every history read made current first (a superset of HEAD's history's):
        // nothing left behind there, nothing in HEAD's history, which is not read then.
        let all = check(&seen.heads);
        if all.lost.is_empty() {
            return all;
        }
        check(&self.former_heads())
    }

    /// Whether key `lost` of `env`, in a version of HEAD's history that made it current
    /// and gave it to this member, supersedes `head` by links that open there to the
    /// bytes whose fingerprint is `head_key` (crate::seal::memory_fingerprint): a
    /// rotation reverted. A version's word alone is not enough: a forged key can claim
    /// to supersede anything.
    fn steps_back(&self, env: &str, lost: &KeyId, head: &KeyId, head_key: &str) -> bool {
        let Some(InHistory {
            identity,
            versions,
            member,
        }) = self.me_in_history()
        else {
            return false;
        };
        versions.iter().any(|(_, version)| {
            let record = &version["keys"][env][&lost.0];
            if record["wrapped"].get(&member).is_none() {
                return false;
            }
            let Ok(access) = serde_json::from_value::<Access>(version.clone()) else {
                return false;
            };
            // A link that does not open fails the whole chain: no proof.
            access.descends(env, lost, &head.0)
                && access.open_chain(env, identity).is_ok_and(|chain| {
                    chain
                        .get(head)
                        .is_some_and(|k| crate::seal::memory_fingerprint(k) == head_key)
                })
        })
    }

    /// The keys versions of access.json in HEAD's history made current, one line per key
    /// (see `history::heads`): HEAD's history only, not every branch this clone has
    /// seen, since a branch may rotate without the others.
    fn former_heads(&self) -> BTreeSet<String> {
        self.access_history()
            .iter()
            .flatten()
            .flat_map(|(_, version)| super::history::heads(version))
            .collect()
    }

    /// What a rotation of `env` (opened in `chain`) must record as left out: the keys
    /// HEAD's history gave this member that its current key leaves behind, recovered from
    /// that history with the members they were granted to. Refused when one cannot be
    /// recovered and was not excused (the rotation would carry over readers nothing
    /// vouches for).
    pub fn keys_left_behind(&self, env: &str, chain: &OpenChain) -> Result<Vec<Recovered>, Error> {
        let lineage = self.lineage_from(env, &self.access, chain, false);
        let recovered = self.recover(env, &lineage.lost);
        let missing = |id: &KeyId| !recovered.iter().any(|r| &r.id == id);
        if lineage.lost.iter().any(missing) {
            // Refused only when sealing under the current key is: a key left behind that
            // cannot be recovered but was excused is left unrecorded.
            if let Some(refused) = self.lineage_of(env, &self.access, chain).refused {
                return Err(refused.into());
            }
        }
        Ok(recovered)
    }

    /// The keys an earlier environment named `env` had in HEAD's history, given to this
    /// member: what `env add` records as left out by the new key.
    pub fn keys_of_former_env(&self, env: &str) -> Vec<Recovered> {
        let Some(InHistory { member, .. }) = self.me_in_history() else {
            return Vec::new();
        };
        let seen = self.seen().clone();
        let ids = crate::continuity::former_keys(&seen, &self.former_heads(), env, &member);
        self.recover(env, &ids)
    }

    /// The keys `ids` of `env`, recovered from the versions of HEAD's history that gave
    /// them to this member (those that cannot be are left out).
    fn recover(&self, env: &str, ids: &[KeyId]) -> Vec<Recovered> {
        let Some(InHistory {
            identity,
            versions,
            member,
        }) = self.me_in_history()
        else {
            return Vec::new();
        };
        ids.iter()
            .filter_map(|id| super::history::recover_key(versions, env, id, &member, identity))
            .collect()
    }

    /// What reading a key out of HEAD's history takes (None without an identity or that
    /// history).
    fn me_in_history(&self) -> Option<InHistory<'_>> {
        let identity = self.identity().ok()?;
        let versions = self.access_history().as_deref()?;
        let member = crate::identity::member_id(&identity.recipient());
        Some(InHistory {
            identity,
            versions,
            member,
        })
    }
}

/// This identity, the versions of access.json in HEAD's history, and this identity's
/// member id.
struct InHistory<'a> {
    identity: &'a Identity,
    versions: &'a [(String, Value)],
    member: String,
}
