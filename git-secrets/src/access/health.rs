//! What can be wrong with the keys of a repository after merges and edits, for `status`
//! and `doctor`: each problem with what it blocks and its fix.

use std::fmt;

use super::Access;
use crate::config::SHARED;
use crate::identity::Identity;
use crate::seal::KeyId;

pub enum KeyProblem {
    /// Two rotations merged: no new value is sealed until one more.
    Fork { env: String, heads: usize },
    /// The current key was wrapped to a removed member: no new value is sealed under it.
    Exposed {
        env: String,
        key: KeyId,
        removed: Vec<String>,
    },
    /// An entry allows a member an environment that no key holder gave it.
    Ungranted {
        env: String,
        member: String,
        name: String,
        /// Whether the grants could be checked (this identity opens the environment), or
        /// only the wraps.
        checked: bool,
    },
}

impl KeyProblem {
    /// The environment a rotation repairs, for the problems a rotation repairs.
    pub fn rotation_fixes(&self) -> Option<&str> {
        match self {
            KeyProblem::Fork { env, .. } | KeyProblem::Exposed { env, .. } => Some(env),
            KeyProblem::Ungranted { .. } => None,
        }
    }
}

impl fmt::Display for KeyProblem {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            KeyProblem::Fork { env, heads } => write!(
                f,
                "`{env}` has {heads} current keys (two rotations were merged); new values cannot be sealed there until `git secrets rotate --env {env}`"
            ),
            KeyProblem::Exposed { env, key, removed } => write!(
                f,
                "the current key {key} of `{env}` was given to removed member(s) {}; run `git secrets rotate --env {env}`",
                removed.join(", ")
            ),
            KeyProblem::Ungranted {
                env,
                member,
                name,
                checked,
            } => write!(
                f,
                "{} ({member}) is listed for `{env}` but {} (an approval merged with a rotation, or an edit by hand: `git log -p .secrets/access.json` shows who changed it); they get no new key of it. If they should read it: `git secrets member approve {member} --env {env}`",
                super::name::shown(name),
                if *checked {
                    "no holder of its key granted it"
                } else {
                    "its current key is not wrapped to them"
                }
            ),
        }
    }
}

impl Access {
    /// The key problems of `environments` (and `shared`). Grants are checked where
    /// `identity` opens the environment; elsewhere only missing wraps are seen.
    pub fn problems(
        &self,
        environments: &[String],
        identity: Option<&Identity>,
    ) -> Vec<KeyProblem> {
        let envs: Vec<&str> = environments
            .iter()
            .map(String::as_str)
            .chain([SHARED])
            .collect();
        let mut out = Vec::new();
        for env in &envs {
            let heads = self.heads(env).len();
            if heads > 1 {
                out.push(KeyProblem::Fork {
                    env: env.to_string(),
                    heads,
                });
            }
            for (key, removed) in self.exposed_heads(env) {
                out.push(KeyProblem::Exposed {
                    env: env.to_string(),
                    key,
                    removed,
                });
            }
        }
        let ungranted = |env: &str, member: String, checked| KeyProblem::Ungranted {
            env: env.to_owned(),
            name: self.members[&member].name.clone(),
            member,
            checked,
        };
        let mut checked = Vec::new();
        for env in &envs {
            if let Some(chain) = identity.and_then(|id| self.open_chain(env, id).ok()) {
                checked.push(env.to_string());
                for member in self.ungranted(env, &chain) {
                    out.push(ungranted(env, member, true));
                }
            }
        }
        for (member, env) in self.missing_wraps() {
            if !checked.contains(&env) {
                out.push(ungranted(&env, member, false));
            }
        }
        out
    }
}
