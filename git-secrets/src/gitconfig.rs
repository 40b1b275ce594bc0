//! Setting several keys of a clone's own git config at once.
//!
//! `unlock` sets eight keys; a `git config` per key is a process each (about 1.5 ms
//! apiece, on the path between decrypting the files and writing them). Keys the file
//! does not have yet are appended in one write, the way git itself writes its config:
//! under `config.lock`, created exclusively (a concurrent `git config` waits or fails as
//! it would against another git), with the file's mode kept, renamed over `config`. A
//! key the file already has (with another value, or several) goes through `git config`,
//! which knows how to replace it in place; so does everything when git's environment
//! points the config elsewhere (`GIT_DIR`, `GIT_CONFIG`). Written by hand because only
//! appending is needed, and every value is written double-quoted, which git reads back
//! exactly (no comment character or whitespace is special inside quotes).

use std::collections::BTreeMap;
use std::io::Write;

use crate::error::Error;
use crate::git::Repo;

/// `key` (`section.subsection.name`) split into git's section header and name.
fn split_key(key: &str) -> Option<(String, &str)> {
    let (section, rest) = key.split_once('.')?;
    let (sub, name) = match rest.rsplit_once('.') {
        Some((sub, name)) => (Some(sub), name),
        None => (None, rest),
    };
    let valid =
        |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if !valid(section) || !valid(name) {
        return None;
    }
    let header = match sub {
        Some(sub) if !sub.contains(['"', '\\', '\n']) => format!("[{section} \"{sub}\"]"),
        Some(_) => return None,
        None => format!("[{section}]"),
    };
    Some((header, name))
}

/// `value` double-quoted for a config file; `None` for a value git could not read back
/// from a quoted string (a line break or another control character).
fn quoted(value: &str) -> Option<String> {
    if value.chars().any(char::is_control) {
        return None;
    }
    Some(format!(
        "\"{}\"",
        value.replace('\\', "\\\\").replace('"', "\\\"")
    ))
}

/// Keys of the local config (lower-cased section and name, as `git config --list` gives
/// them) with their values.
fn local_entries(repo: &Repo) -> Result<BTreeMap<String, Vec<String>>, Error> {
    let out = repo.git(&["config", "--local", "-z", "--list"])?;
    let mut entries: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for item in out.split(|&b| b == 0).filter(|i| !i.is_empty()) {
        let text = String::from_utf8_lossy(item);
        let (key, value) = text.split_once('\n').unwrap_or((&text, ""));
        entries
            .entry(key.to_owned())
            .or_default()
            .push(value.to_owned());
    }
    Ok(entries)
}

/// git's name for `key` in `--list` output: section and name lower-cased, the
/// subsection as it is.
fn listed_name(key: &str) -> String {
    match (key.split_once('.'), key.rsplit_once('.')) {
        (Some((section, _)), Some((head, name))) if head.len() > section.len() => format!(
            "{}{}.{}",
            section.to_ascii_lowercase(),
            &head[section.len()..],
            name.to_ascii_lowercase()
        ),
        _ => key.to_ascii_lowercase(),
    }
}

/// Sets each `(key, value)` of `pairs` in the local config of `repo` (see the module's
/// docs for how).
pub fn set_all(repo: &Repo, pairs: &[(&str, &str)]) -> Result<(), Error> {
    let redirected = ["GIT_DIR", "GIT_COMMON_DIR", "GIT_CONFIG"]
        .iter()
        .any(|v| std::env::var_os(v).is_some());
    let path = crate::continuity::common_dir(&repo.root).map(|d| d.join("config"));
    let (Some(path), false) = (path, redirected) else {
        return one_by_one(repo, pairs);
    };
    let lock_path = path.with_file_name("config.lock");
    let Ok(mut lock) = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&lock_path)
    else {
        return one_by_one(repo, pairs);
    };
    let result = (|| -> Result<Vec<(&str, &str)>, Error> {
        // Read under the lock, so no other writer adds a key in between.
        let entries = local_entries(repo)?;
        let mut later = Vec::new();
        let mut sections: BTreeMap<String, String> = BTreeMap::new();
        for &(key, value) in pairs {
            match entries.get(&listed_name(key)) {
                Some(values) if values.len() == 1 && values[0] == value => {}
                Some(_) => later.push((key, value)),
                None => match (split_key(key), quoted(value)) {
                    (Some((header, name)), Some(value)) => {
                        let text = sections.entry(header).or_default();
                        text.push_str(&format!("\t{name} = {value}\n"));
                    }
                    _ => later.push((key, value)),
                },
            }
        }
        let io = |source| Error::Io {
            path: lock_path.clone(),
            source,
        };
        let mut text = std::fs::read(&path).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        if sections.is_empty() {
            return Ok(later);
        }
        if !text.is_empty() && !text.ends_with(b"\n") {
            text.push(b'\n');
        }
        for (header, body) in &sections {
            text.extend_from_slice(format!("{header}\n{body}").as_bytes());
        }
        lock.write_all(&text).map_err(io)?;
        if let Ok(meta) = std::fs::metadata(&path) {
            let _ = std::fs::set_permissions(&lock_path, meta.permissions());
        }
        std::fs::rename(&lock_path, &path).map_err(io)?;
        Ok(later)
    })();
    // Renamed on success; otherwise the lock must not stay behind.
    let _ = std::fs::remove_file(&lock_path);
    one_by_one(repo, &result?)
}

fn one_by_one(repo: &Repo, pairs: &[(&str, &str)]) -> Result<(), Error> {
    for (key, value) in pairs {
        repo.config_set(key, value)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_split_into_headers() {
        assert_eq!(
            split_key("filter.secrets.process"),
            Some(("[filter \"secrets\"]".into(), "process"))
        );
        assert_eq!(
            split_key("merge.secrets-access.driver"),
            Some(("[merge \"secrets-access\"]".into(), "driver"))
        );
        assert_eq!(
            split_key("core.fsmonitor"),
            Some(("[core]".into(), "fsmonitor"))
        );
        assert_eq!(split_key("nodot"), None);
        assert_eq!(
            listed_name("core.fsmonitorHookVersion"),
            "core.fsmonitorhookversion"
        );
        assert_eq!(
            listed_name("Diff.Secrets.textConv"),
            "diff.Secrets.textconv"
        );
    }

    /// Values written by `set_all` read back through git exactly, next to keys that
    /// existed (replaced in place) and in a file without a final newline.
    #[test]
    fn values_read_back_through_git() {
        let dir = tempfile::tempdir().unwrap();
        let git = |args: &[&str]| crate::git::hermetic_git(dir.path(), args);
        git(&["init", "-q"]);
        git(&["config", "--local", "diff.secrets.textconv", "old"]);
        let config = dir.path().join(".git/config");
        let text = std::fs::read_to_string(&config).unwrap();
        std::fs::write(&config, text.trim_end()).unwrap();
        let repo = Repo {
            root: dir.path().to_owned(),
        };
        let tricky = r#""/opt/my apps/#1;x\git-secrets" filter-process"#;
        set_all(
            &repo,
            &[
                ("filter.secrets.process", tricky),
                ("filter.secrets.required", "true"),
                ("diff.secrets.textconv", "new"),
                ("core.fsmonitorHookVersion", "2"),
            ],
        )
        .unwrap();
        assert_eq!(
            git(&["config", "--get", "filter.secrets.process"]),
            format!("{tricky}\n")
        );
        assert_eq!(
            git(&["config", "--get", "filter.secrets.required"]),
            "true\n"
        );
        assert_eq!(
            git(&["config", "--get-all", "diff.secrets.textconv"]),
            "new\n"
        );
        assert_eq!(
            git(&["config", "--get", "core.fsmonitorhookversion"]),
            "2\n"
        );
        assert!(!dir.path().join(".git/config.lock").exists());
        // Again: nothing changes.
        let before = std::fs::read(&config).unwrap();
        set_all(&repo, &[("filter.secrets.process", tricky)]).unwrap();
        assert_eq!(std::fs::read(&config).unwrap(), before);
    }
}
