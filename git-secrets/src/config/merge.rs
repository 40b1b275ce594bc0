//! The three-way merge of `.secrets/config.toml` (`git-secrets-merge config`): two members
//! who each add a service or an environment edit the same line (`services = [...]`), which
//! git's line merge can only give as a conflict. Merged as what it is instead: the
//! environments and services as sets (what either side added is kept, what either side
//! removed goes), the tracked files key by key, and each setting taken from the side that
//! changed it. Only two different changes of the same setting or the same tracked file
//! are a conflict (`None`), left to git's line merge and a person.

use std::collections::{BTreeMap, BTreeSet};

use super::Config;

/// `ours` and `theirs` merged from `base` (`None`: the file was added on both sides);
/// `None` on a conflict, or when the result would not be a valid configuration (the
/// default environment removed on one side, say).
pub fn merge(base: Option<&Config>, ours: &Config, theirs: &Config) -> Option<Config> {
    let empty = Config {
        environments: Vec::new(),
        services: BTreeSet::new(),
        files: BTreeMap::new(),
        ..ours.clone()
    };
    let b = base.unwrap_or(&empty);
    let set = |s: &BTreeSet<String>| s.iter().cloned().collect::<Vec<_>>();
    let merged = Config {
        version: pick(base.map(|b| &b.version), &ours.version, &theirs.version)?,
        default_environment: pick(
            base.map(|b| &b.default_environment),
            &ours.default_environment,
            &theirs.default_environment,
        )?,
        nested: pick(base.map(|b| &b.nested), &ours.nested, &theirs.nested)?,
        environments: merge_list(&b.environments, &ours.environments, &theirs.environments),
        services: merge_list(
            &set(&b.services),
            &set(&ours.services),
            &set(&theirs.services),
        )
        .into_iter()
        .collect(),
        files: merge_map(&b.files, &ours.files, &theirs.files)?,
    };
    merged.validate().ok()?;
    Some(merged)
}

/// One setting: the side that changed it from the base, the same change on both, or a
/// conflict (`None`).
fn pick<T: PartialEq + Clone>(base: Option<&T>, ours: &T, theirs: &T) -> Option<T> {
    match base {
        _ if ours == theirs => Some(ours.clone()),
        Some(b) if b == ours => Some(theirs.clone()),
        Some(b) if b == theirs => Some(ours.clone()),
        _ => None,
    }
}

/// Names as a set, in order: ours without what theirs removed, then what theirs added.
fn merge_list(base: &[String], ours: &[String], theirs: &[String]) -> Vec<String> {
    let removed_by_theirs = |n: &String| base.contains(n) && !theirs.contains(n);
    let added_by_theirs = |n: &&String| !base.contains(n) && !ours.contains(n);
    ours.iter()
        .filter(|n| !removed_by_theirs(n))
        .chain(theirs.iter().filter(added_by_theirs))
        .cloned()
        .collect()
}

/// Key by key: a key changed (added, removed, given another value) on one side takes that
/// side's; changed on both, the same way or it is a conflict (`None`).
fn merge_map(
    base: &BTreeMap<String, String>,
    ours: &BTreeMap<String, String>,
    theirs: &BTreeMap<String, String>,
) -> Option<BTreeMap<String, String>> {
    let keys: BTreeSet<&String> = base
        .keys()
        .chain(ours.keys())
        .chain(theirs.keys())
        .collect();
    let mut out = BTreeMap::new();
    for key in keys {
        let (b, o, t) = (base.get(key), ours.get(key), theirs.get(key));
        let value = match () {
            _ if o == t => o,
            _ if o == b => t,
            _ if t == b => o,
            _ => return None,
        };
        if let Some(v) = value {
            out.insert(key.clone(), v.clone());
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(envs: &[&str], services: &[&str], files: &[(&str, &str)]) -> Config {
        let mut c = Config::new(envs.iter().map(|e| e.to_string()).collect(), false).unwrap();
        c.services = services.iter().map(|s| s.to_string()).collect();
        c.files = files
            .iter()
            .map(|(p, e)| (p.to_string(), e.to_string()))
            .collect();
        c
    }

    #[test]
    fn services_and_environments_added_on_both_sides_are_all_kept() {
        let base = config(&["development", "production"], &["api"], &[]);
        let ours = config(
            &["development", "production", "qa"],
            &["api", "billing"],
            &[],
        );
        let theirs = config(
            &["development", "production", "staging"],
            &["api", "pay"],
            &[],
        );
        let merged = merge(Some(&base), &ours, &theirs).unwrap();
        assert_eq!(
            merged.environments,
            ["development", "production", "qa", "staging"]
        );
        assert_eq!(
            merged.services,
            ["api", "billing", "pay"].map(String::from).into()
        );
        // Which side is ours changes only the order of the additions.
        let swapped = merge(Some(&base), &theirs, &ours).unwrap();
        assert_eq!(
            swapped.environments,
            ["development", "production", "staging", "qa"]
        );
        assert_eq!(swapped.services, merged.services);
    }

    #[test]
    fn a_removal_on_one_side_wins_over_no_change_on_the_other() {
        let base = config(
            &["development", "staging", "production"],
            &["api", "old"],
            &[],
        );
        let ours = config(&["development", "production"], &["api", "old", "new"], &[]);
        let theirs = config(&["development", "staging", "production"], &["api"], &[]);
        let merged = merge(Some(&base), &ours, &theirs).unwrap();
        assert_eq!(merged.environments, ["development", "production"]);
        assert_eq!(merged.services, ["api", "new"].map(String::from).into());
    }

    #[test]
    fn tracked_files_merge_key_by_key_and_only_two_changes_of_one_conflict() {
        let envs = ["development", "production"];
        let base = config(
            &envs,
            &[],
            &[("a.pem", "production"), ("b.pem", "production")],
        );
        let ours = config(
            &envs,
            &[],
            &[
                ("a.pem", "development"),
                ("b.pem", "production"),
                ("c.pem", "production"),
            ],
        );
        let theirs = config(&envs, &[], &[("a.pem", "production")]);
        let merged = merge(Some(&base), &ours, &theirs).unwrap();
        let files: Vec<(&str, &str)> = merged
            .files
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(files, [("a.pem", "development"), ("c.pem", "production")]);
        let other = config(&envs, &[], &[("a.pem", "shared"), ("b.pem", "production")]);
        assert!(
            merge(Some(&base), &ours, &other).is_none(),
            "a.pem changed both ways"
        );
    }

    #[test]
    fn settings_take_the_side_that_changed_them_and_two_changes_conflict() {
        let base = config(&["development", "production"], &[], &[]);
        let mut ours = base.clone();
        ours.default_environment = "production".into();
        let mut theirs = base.clone();
        theirs.nested = true;
        for (a, b) in [(&ours, &theirs), (&theirs, &ours)] {
            let merged = merge(Some(&base), a, b).unwrap();
            assert_eq!(
                (merged.default_environment.as_str(), merged.nested),
                ("production", true)
            );
        }
        assert!(
            merge(Some(&base), &ours, &ours.clone()).is_some(),
            "the same change twice"
        );
        let mut other = base.clone();
        other.environments.push("staging".into());
        other.default_environment = "staging".into();
        assert!(merge(Some(&base), &ours, &other).is_none(), "two defaults");
    }

    #[test]
    fn a_result_that_is_not_a_valid_configuration_is_a_conflict() {
        let base = config(&["development", "production"], &[], &[]);
        // Ours makes production the default; theirs removes production.
        let mut ours = base.clone();
        ours.default_environment = "production".into();
        let theirs = config(&["development"], &[], &[]);
        assert!(merge(Some(&base), &ours, &theirs).is_none());
    }

    #[test]
    fn added_on_both_sides_is_the_union() {
        let ours = config(&["development", "production"], &["api"], &[]);
        let theirs = config(&["development", "test"], &["web"], &[]);
        let merged = merge(None, &ours, &theirs).unwrap();
        assert_eq!(merged.environments, ["development", "production", "test"]);
        assert_eq!(merged.services, ["api", "web"].map(String::from).into());
    }
}
