//! Resolving a scope's values for `run` and `export`: shared values first, the scope's
//! own over them, then `${NAME}` references expanded (in unquoted and double-quoted
//! values) from the scope's values or, failing that, the inherited environment.

use std::collections::{BTreeMap, HashMap};

use crate::dotenv::{Document, Value};
use crate::secret::SecretString;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ExpandError {
    #[error(
        "`{key}` refers to `${{{name}}}`, which is set neither in the scope nor in the environment"
    )]
    Unknown { key: String, name: String },
    /// `${…}` around text that is no variable name: part of the value, so not shown.
    #[error("`{key}` has a `${{…}}` whose content is not a variable name (write a literal `${{` in single quotes)")]
    NotAName { key: String },
    #[error("`{key}` refers to itself: {}", .path.join(" -> "))]
    Cycle { key: String, path: Vec<String> },
    #[error("`{key}` has a `${{` that is never closed")]
    Unclosed { key: String },
}

/// Layers `docs` in order (later ones override) and expands references.
pub fn resolve(
    docs: &[&Document],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<BTreeMap<String, SecretString>, ExpandError> {
    let mut raw: HashMap<String, Value> = HashMap::new();
    for doc in docs {
        for e in doc.entries() {
            raw.insert(e.key.clone(), e.value());
        }
    }
    let mut done: HashMap<String, SecretString> = HashMap::new();
    let mut keys: Vec<&String> = raw.keys().collect();
    keys.sort();
    for key in keys {
        let mut stack = Vec::new();
        expand_key(key, &raw, env, &mut done, &mut stack)?;
    }
    Ok(done.into_iter().collect())
}

fn expand_key(
    key: &str,
    raw: &HashMap<String, Value>,
    env: &dyn Fn(&str) -> Option<String>,
    done: &mut HashMap<String, SecretString>,
    stack: &mut Vec<String>,
) -> Result<SecretString, ExpandError> {
    if let Some(v) = done.get(key) {
        return Ok(v.clone());
    }
    if let Some(pos) = stack.iter().position(|k| k == key) {
        let mut path = stack[pos..].to_vec();
        path.push(key.to_owned());
        return Err(ExpandError::Cycle {
            key: stack[pos].clone(),
            path,
        });
    }
    let value = &raw[key];
    if !value.expands() {
        done.insert(key.to_owned(), value.text.clone());
        return Ok(value.text.clone());
    }
    stack.push(key.to_owned());
    let text = value.text.expose();
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find('}').ok_or_else(|| ExpandError::Unclosed {
            key: key.to_owned(),
        })?;
        let name = &after[..end];
        if raw.contains_key(name) {
            out.push_str(expand_key(name, raw, env, done, stack)?.expose());
        } else if let Some(v) = env(name) {
            out.push_str(&v);
        } else if !crate::dotenv::is_valid_key(name) {
            return Err(ExpandError::NotAName {
                key: key.to_owned(),
            });
        } else {
            return Err(ExpandError::Unknown {
                key: key.to_owned(),
                name: name.to_owned(),
            });
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    stack.pop();
    let out = SecretString::new(out);
    done.insert(key.to_owned(), out.clone());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(s: &str) -> Document {
        Document::parse(s.as_bytes()).unwrap()
    }

    #[test]
    fn layers_and_expands() {
        let shared = doc("HOST=db\nPORT=1\n");
        let scope = doc("PORT=5432\nURL=\"pg://${HOST}:${PORT}/${USER}\"\nLIT='${HOST}'\n");
        let env = |n: &str| (n == "USER").then(|| "me".to_owned());
        let out = resolve(&[&shared, &scope], &env).unwrap();
        assert_eq!(out["URL"].expose(), "pg://db:5432/me");
        assert_eq!(out["LIT"].expose(), "${HOST}");
    }

    #[test]
    fn cycles_and_unknown_names_are_errors() {
        let env = |_: &str| None;
        let err = resolve(&[&doc("A=${B}\nB=${A}\n")], &env).unwrap_err();
        assert!(matches!(err, ExpandError::Cycle { .. }), "{err}");
        let err = resolve(&[&doc("A=\"p${w0rd!}\"\n")], &env).unwrap_err();
        assert_eq!(err, ExpandError::NotAName { key: "A".into() });
        assert!(!err.to_string().contains("w0rd"), "{err}");
        let err = resolve(&[&doc("A=${NOPE}\n")], &env).unwrap_err();
        assert_eq!(
            err,
            ExpandError::Unknown {
                key: "A".into(),
                name: "NOPE".into()
            }
        );
    }
}
