//! `.secrets/config.toml`: the environments, services, default environment and nesting.
//!
//! ```toml
//! version = 1
//! default_environment = "development"
//! environments = ["development", "test", "production"]
//! nested = false
//! services = ["api"]
//!
//! [files]                      # whole files sealed as one (`git secrets track`)
//! "certs/prod.pem" = "production"
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::Error;

pub mod merge;

pub const CONFIG_VERSION: u32 = 1;
/// The pseudo-environment of values shared by every environment of a service.
pub const SHARED: &str = "shared";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub version: u32,
    pub default_environment: String,
    pub environments: Vec<String>,
    #[serde(default)]
    pub nested: bool,
    #[serde(default)]
    pub services: BTreeSet<String>,
    /// Tracked files: path (from the work tree's root) → the environment whose key seals
    /// it (or `shared`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub files: BTreeMap<String, String>,
}

/// Why `path` cannot be tracked, if it cannot: it must be a plain relative path outside
/// `.git` and `.secrets`, with no character that .gitattributes would read as a pattern,
/// a quote or a space (its attribute line names it literally).
pub fn tracked_path_problem(path: &str) -> Option<String> {
    let bad_char = path
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || "*?[]\\\"!#".contains(*c));
    if path.is_empty() || path.starts_with('/') || path.ends_with('/') {
        Some("must be a file's path relative to the top of the work tree".into())
    } else if path
        .split('/')
        .any(|p| p.is_empty() || p == "." || p == "..")
    {
        Some("must not have empty, `.` or `..` parts".into())
    } else if let Some(c) = bad_char {
        Some(format!(
            "contains `{}`, which .gitattributes would not read literally",
            c.escape_default()
        ))
    } else if path.starts_with(".git/") || path == ".git" || path.starts_with(".secrets/") {
        Some("is inside .git or .secrets".into())
    } else if [".gitattributes", ".gitignore", ".gitmodules"].contains(&path) {
        Some("is one of git's own files".into())
    } else {
        None
    }
}

/// Environment and service names: lowercase letters, digits, `-` and `_`, starting with a
/// letter. They become file names, so nothing else is allowed.
pub fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        && name.len() <= 64
}

impl Config {
    pub fn new(environments: Vec<String>, nested: bool) -> Result<Config, Error> {
        let default_environment = if environments.iter().any(|e| e == "development") {
            "development".to_owned()
        } else {
            environments.first().cloned().ok_or_else(|| Error::Usage {
                message: "at least one environment is needed".into(),
                hint: Some("git secrets init --envs development,production".into()),
            })?
        };
        let config = Config {
            version: CONFIG_VERSION,
            default_environment,
            environments,
            nested,
            services: BTreeSet::new(),
            files: BTreeMap::new(),
        };
        config.validate().map_err(|message| Error::Usage {
            message,
            hint: None,
        })?;
        Ok(config)
    }

    pub fn load(path: &Path) -> Result<Config, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// The config.toml git stores in `treeish` (a commit), or in the index with `None`;
    /// `None` when there is none or it does not parse (which every command reports).
    pub fn stored(repo: &crate::git::Repo, treeish: Option<&str>) -> Option<Config> {
        let rev = format!(
            "{}:{}",
            treeish.unwrap_or_default(),
            crate::workspace::CONFIG_FILE
        );
        let text = repo.git(&["cat-file", "blob", &rev]).ok()?;
        Self::parse(
            &String::from_utf8_lossy(&text),
            Path::new(crate::workspace::CONFIG_FILE),
        )
        .ok()
    }

    /// Parses the text of `path` (which may come from git's index rather than the disk).
    pub fn parse(text: &str, path: &Path) -> Result<Config, Error> {
        let config: Config = toml::from_str(text).map_err(|e| Error::Config {
            path: path.to_owned(),
            message: e.to_string().trim().replace('\n', "\n  "),
        })?;
        config.validate().map_err(|message| Error::Config {
            path: path.to_owned(),
            message,
        })?;
        Ok(config)
    }

    /// The configuration of a config.toml that a merge left with conflict markers (two
    /// members each added a service or an environment on the same line): both sides
    /// parsed apart and joined, every environment and service either side declares, and
    /// the tracked files both sides agree on (a file the sides seal under different keys
    /// is left out: neither key is taken for it). `None` when the text has no markers, or
    /// a side does not parse. For the filter, so that `git status` and `git diff` keep
    /// working until the conflict is resolved; the commands still refuse the file.
    pub fn parse_conflicted(text: &str, path: &Path) -> Option<Config> {
        let (ours, theirs) = crate::envfile::conflict_sides(text)?;
        let mut config = Config::parse(&ours, path).ok()?;
        let theirs = Config::parse(&theirs, path).ok()?;
        for env in theirs.environments {
            if !config.has_env(&env) {
                config.environments.push(env);
            }
        }
        config.services.extend(theirs.services);
        for (file, env) in theirs.files {
            match config.files.get(&file) {
                None => {
                    config.files.insert(file, env);
                }
                Some(ours) if *ours != env => {
                    config.files.remove(&file);
                }
                Some(_) => {}
            }
        }
        config.validate().ok()?;
        Some(config)
    }

    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("the config serialises to TOML")
    }

    fn validate(&self) -> Result<(), String> {
        if self.version != CONFIG_VERSION {
            return Err(format!(
                "version {} is not supported (this git-secrets reads version {CONFIG_VERSION}); upgrade git-secrets",
                self.version
            ));
        }
        let mut seen = BTreeSet::new();
        for env in &self.environments {
            if !is_valid_name(env) || env == SHARED {
                return Err(format!("`{env}` is not a valid environment name (lowercase letters, digits, `-`, `_`; `{SHARED}` is reserved)"));
            }
            if !seen.insert(env) {
                return Err(format!("environment `{env}` is listed twice"));
            }
        }
        if self.environments.is_empty() {
            return Err("no environments are declared".into());
        }
        if !self.environments.contains(&self.default_environment) {
            return Err(format!(
                "default_environment `{}` is not one of the environments ({})",
                self.default_environment,
                self.environments.join(", ")
            ));
        }
        for s in &self.services {
            if !is_valid_name(s) || self.environments.contains(s) {
                return Err(format!("`{s}` is not a valid service name (lowercase letters, digits, `-`, `_`; not an environment's name)"));
            }
        }
        for (path, env) in &self.files {
            if let Some(problem) = tracked_path_problem(path) {
                return Err(format!("tracked file `{path}` {problem}"));
            }
            if env != SHARED && !self.has_env(env) {
                return Err(format!(
                    "tracked file `{path}` names environment `{env}`, which is not declared ({})",
                    self.environments.join(", ")
                ));
            }
        }
        Ok(())
    }

    pub fn has_env(&self, env: &str) -> bool {
        self.environments.iter().any(|e| e == env)
    }

    /// Whether `name` may name a new service: a valid name that is no environment's and
    /// not `shared`, which the command line reads as a scope of its own (`set shared KEY
    /// v` is a service's shared values). The message says what a name may be.
    pub fn check_new_service(&self, name: &str) -> Result<(), String> {
        if is_valid_name(name) && !self.has_env(name) && name != SHARED {
            return Ok(());
        }
        Err(format!("`{name}` is not a valid service name (lowercase letters, digits, `-`, `_`; not an environment's name, nor `{SHARED}`)"))
    }
}
