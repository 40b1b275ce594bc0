//! A scope is one service (or the root) in one environment, and one file:
//! `.secrets/<service>/<env>.env`, or `.secrets/<env>.env` for the root. Values shared
//! by every environment of a service live in the pseudo-environment `shared`.

use std::path::{Path, PathBuf};

use crate::config::{Config, SHARED};

pub const SECRETS_DIR: &str = ".secrets";

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Scope {
    pub service: Option<String>,
    pub env: String,
}

impl Scope {
    pub fn new(service: Option<&str>, env: &str) -> Scope {
        Scope {
            service: service.map(str::to_owned),
            env: env.to_owned(),
        }
    }

    /// The name bound into every sealed value: `api/production` or `production`.
    pub fn label(&self) -> String {
        match &self.service {
            Some(s) => format!("{s}/{}", self.env),
            None => self.env.clone(),
        }
    }

    /// The path relative to the work tree root, with `/` separators (as git names it).
    pub fn rel_path(&self) -> String {
        format!("{SECRETS_DIR}/{}.env", self.label())
    }

    pub fn path(&self, root: &Path) -> PathBuf {
        root.join(self.rel_path())
    }

    /// The scope of values shared by every environment of this scope's service.
    pub fn shared(&self) -> Scope {
        Scope {
            service: self.service.clone(),
            env: SHARED.to_owned(),
        }
    }

    pub fn is_shared(&self) -> bool {
        self.env == SHARED
    }

    /// The scope a repository path names, if it is a scope file.
    pub fn from_rel_path(path: &str) -> Option<Scope> {
        let rest = path.strip_prefix(SECRETS_DIR)?.strip_prefix('/')?;
        let rest = rest.strip_suffix(".env")?;
        let (service, env) = match rest.split_once('/') {
            Some((s, e)) => (Some(s), e),
            None => (None, rest),
        };
        let ok = |n: &str| crate::config::is_valid_name(n);
        if !ok(env) || service.is_some_and(|s| !ok(s)) || env.contains('/') {
            return None;
        }
        Some(Scope::new(service, env))
    }

    /// Every scope the configuration declares (services × environments, plus shared).
    pub fn all(config: &Config) -> Vec<Scope> {
        let services =
            std::iter::once(None).chain(config.services.iter().map(|s| Some(s.as_str())));
        let mut out = Vec::new();
        for service in services {
            for env in config
                .environments
                .iter()
                .map(String::as_str)
                .chain([SHARED])
            {
                out.push(Scope::new(service, env));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_round_trip() {
        for s in [
            Scope::new(Some("api"), "production"),
            Scope::new(None, "test"),
        ] {
            assert_eq!(Scope::from_rel_path(&s.rel_path()), Some(s));
        }
        assert_eq!(Scope::from_rel_path(".secrets/a/b/c.env"), None);
        assert_eq!(Scope::from_rel_path(".secrets/config.toml"), None);
    }
}
