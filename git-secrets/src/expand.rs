//! Resolving a scope's values for `run` and `export`: shared values first, the scope's
//! own over them, then references expanded (in every value but a single-quoted one) from
//! the scope's values or, failing that, the inherited environment.
//!
//! A reference is `${NAME}` or `$NAME` (the longest run of name characters after `$`); a
//! `$` written `\$`, or followed by anything else, is literal. Braces may hold the POSIX
//! shell's forms, as dotenvx reads them: `${NAME:-word}` and `${NAME-word}` (the word
//! when NAME is unset, or with the colon also when empty), `${NAME:+word}` and
//! `${NAME+word}` (the word when set, else nothing), `${NAME:?message}` and
//! `${NAME?message}` (an error when unset). "Set" means what a plain reference finds: a
//! key of the scope, else the environment. A word is text with references of its own,
//! expanded only when used (syntax.rs). Resolution is iterative (an explicit stack), so a
//! chain of any length resolves without exhausting the call stack. Errors name the key
//! and the position of the reference, never its text (nor a form's message): in a
//! password that happens to hold `${…}` or `$word`, that text is part of the secret.

use std::collections::{BTreeMap, HashMap, HashSet};

use zeroize::Zeroizing;

use crate::dotenv::{Document, Value};
use crate::secret::SecretString;
use syntax::{Form, Op, Part};

mod syntax;

/// Variables git-secrets withholds from the programs it runs (the identity, and every
/// other variable of its own): `run` removes them from the child's environment, and a
/// reference to one is an error, so no value can carry them to a program or an export.
pub const WITHHELD_PREFIX: &str = "GIT_SECRETS_";

/// Whether `name` is one of git-secrets' own variables, which no reference may name.
pub fn is_withheld(name: &str) -> bool {
    name.starts_with(WITHHELD_PREFIX)
}

/// What went wrong, naming the key and the 1-based character position of the `$`
/// (never the reference's text).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ExpandError {
    #[error("`{key}` has a reference (at character {at}) to a variable that is set neither in the scope nor in the environment (its name is not shown: it may be part of a value)")]
    Unknown { key: String, at: usize },
    #[error("`{key}` refers to itself (at character {at}), and the environment has no `{key}` to extend")]
    SelfUnset { key: String, at: usize },
    #[error("`{key}` has a reference (at character {at}) to a GIT_SECRETS_ variable, which git-secrets withholds from programs (it holds the identity)")]
    Withheld { key: String, at: usize },
    #[error("`{key}` is named like git-secrets' own variables (GIT_SECRETS_…), which are never given to a program: a git-secrets the program runs would take it for its identity or its settings")]
    WithheldKey { key: String },
    #[error("`{key}` has a `${{…}}` (at character {at}) whose content is not a variable name, alone or followed by `:-`, `-`, `:+`, `+`, `:?` or `?` and a word")]
    NotAName { key: String, at: usize },
    #[error("`{key}` requires a variable that is {} (at character {at}; its name and message are not shown: they may be part of a value)", if *.empty { "empty" } else { "not set" })]
    Required { key: String, at: usize, empty: bool },
    #[error("`{key}` has a `${{` (at character {at}) that is never closed")]
    Unclosed { key: String, at: usize },
    #[error("`{key}` refers to itself: {}", show_path(.path))]
    Cycle { key: String, path: Vec<String> },
}

fn show_path(path: &[String]) -> String {
    const MAX: usize = 8;
    if path.len() <= MAX {
        return path.join(" -> ");
    }
    format!(
        "{} -> … ({} more) -> {}",
        path[..MAX - 1].join(" -> "),
        path.len() - MAX,
        path[path.len() - 1]
    )
}

impl ExpandError {
    /// How to fix it.
    pub fn hint(&self) -> &'static str {
        match self {
            ExpandError::Unknown { .. } | ExpandError::SelfUnset { .. } => "set the variable it names (in the scope, or in the environment); if the `$` is part of the value, store the value literally: `git secrets set KEY` keeps what it is given, and in the file a literal `$` is written `\\$` or the value goes in single quotes",
            ExpandError::Withheld { .. } => "remove the reference; a program that needs a key gets one of its own (`git secrets keys create`)",
            ExpandError::WithheldKey { .. } => "rename the key: `git secrets unset` it and set its value under another name; a program that needs a key gets one of its own (`git secrets keys create`)",
            ExpandError::NotAName { .. } | ExpandError::Unclosed { .. } => "store the value literally (`git secrets set KEY` keeps what it is given), or in the file write a literal `$` as `\\$` or put the value in single quotes; a `}` inside a default is written `\\}`",
            ExpandError::Required { .. } => "set the variable the value's `${NAME:?…}` or `${NAME?…}` names (in the scope, or in the environment; with the colon, to a value that is not empty)",
            ExpandError::Cycle { .. } => "break the cycle: one of these keys must not refer back to the others",
        }
    }
}

/// One value being resolved.
struct Frame<'a> {
    key: &'a str,
    value: &'a Value,
    seqs: Vec<Vec<Part>>,
    /// The sequences being expanded, innermost last (the value's, then the word of
    /// each shell form in use), each with the index of its next part.
    cursor: Vec<(usize, usize)>,
    out: Zeroizing<String>,
}

/// Layers `docs` in order (later ones override) and expands references. `env` is the
/// inherited environment; it is never asked for a withheld name.
pub fn resolve(
    docs: &[&Document],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<BTreeMap<String, SecretString>, ExpandError> {
    let mut raw: HashMap<String, Value> = HashMap::new();
    for doc in docs {
        for e in doc.entries() {
            // `run` removes these from the inherited environment; a key of the scope
            // must not put them back (a planted GIT_SECRETS_IDENTITY would become the
            // identity of every git-secrets the program runs).
            if is_withheld(&e.key) {
                return Err(ExpandError::WithheldKey { key: e.key.clone() });
            }
            raw.insert(e.key.clone(), e.value());
        }
    }
    let mut done: HashMap<String, SecretString> = HashMap::new();
    let mut keys: Vec<&String> = raw.keys().collect();
    keys.sort();
    for key in keys {
        resolve_key(key, &raw, env, &mut done)?;
    }
    Ok(done.into_iter().collect())
}

fn frame<'a>(key: &'a str, raw: &'a HashMap<String, Value>) -> Result<Frame<'a>, ExpandError> {
    let value = &raw[key];
    Ok(Frame {
        key,
        value,
        seqs: syntax::parse(key, value)?,
        cursor: vec![(0, 0)],
        out: Zeroizing::new(String::new()),
    })
}

/// Resolves `start` and every key it refers to, depth first, with an explicit stack.
fn resolve_key<'a>(
    start: &'a str,
    raw: &'a HashMap<String, Value>,
    env: &dyn Fn(&str) -> Option<String>,
    done: &mut HashMap<String, SecretString>,
) -> Result<(), ExpandError> {
    if done.contains_key(start) {
        return Ok(());
    }
    let mut stack = vec![frame(start, raw)?];
    let mut open: HashSet<&str> = HashSet::from([start]);
    while let Some(top) = stack.last_mut() {
        let Some(&(seq, next)) = top.cursor.last() else {
            let f = stack.pop().expect("a frame is on the stack");
            open.remove(f.key);
            done.insert(
                f.key.to_owned(),
                SecretString::new(f.out.as_str().to_owned()),
            );
            continue;
        };
        let Some(part) = top.seqs[seq].get(next).cloned() else {
            top.cursor.pop();
            continue;
        };
        let (key, value) = (top.key, top.value);
        let text = value.text.expose();
        let (name, at, form) = match part {
            Part::Lit(r) => {
                top.out.push_str(&text[r]);
                top.cursor.last_mut().expect("a sequence is open").1 += 1;
                continue;
            }
            Part::Ref { name, at, form } => (&text[name], at, form),
        };
        // `PATH=${PATH}:/x` extends the inherited value, as dotenv-expand does; any
        // other name is the scope's key when it has one, else the environment's.
        let in_scope = name != key && raw.contains_key(name);
        if in_scope && !done.contains_key(name) {
            let (k, _) = raw.get_key_value(name).expect("a key of the scope");
            if open.contains(name) {
                let from = stack.iter().position(|f| f.key == name).unwrap_or(0);
                let mut path: Vec<String> =
                    stack[from..].iter().map(|f| f.key.to_owned()).collect();
                path.push(name.to_owned());
                return Err(ExpandError::Cycle {
                    key: name.to_owned(),
                    path,
                });
            }
            // Resolve `name` first; this part is taken again once it is done.
            stack.push(frame(k, raw)?);
            open.insert(k);
            continue;
        }
        let from_env = (!in_scope).then(|| env(name)).flatten().map(Zeroizing::new);
        let found: Option<&str> = match in_scope {
            true => done.get(name).map(|v| v.expose()),
            false => from_env.as_ref().map(|v| v.as_str()),
        };
        // Whether the form takes the variable as set (with the colon, empty is unset).
        let set = |colon: bool| found.is_some_and(|v| !(colon && v.is_empty()));
        top.cursor.last_mut().expect("a sequence is open").1 += 1;
        let use_word = |top: &mut Frame, word: usize| top.cursor.push((word, 0));
        match form {
            None => match found {
                Some(v) => top.out.push_str(v),
                None if name == key => {
                    return Err(ExpandError::SelfUnset {
                        key: key.to_owned(),
                        at,
                    })
                }
                None => {
                    return Err(ExpandError::Unknown {
                        key: key.to_owned(),
                        at,
                    })
                }
            },
            Some(Form {
                op: Op::Default,
                colon,
                word,
            }) => match found {
                Some(v) if set(colon) => top.out.push_str(v),
                _ => use_word(top, word),
            },
            Some(Form {
                op: Op::Alternate,
                colon,
                word,
            }) => {
                if set(colon) {
                    use_word(top, word);
                }
            }
            Some(Form {
                op: Op::Required,
                colon,
                ..
            }) => match found {
                Some(v) if set(colon) => top.out.push_str(v),
                _ => {
                    return Err(ExpandError::Required {
                        key: key.to_owned(),
                        at,
                        empty: found.is_some(),
                    })
                }
            },
        }
    }
    Ok(())
}

/// What the unit tests of references and of the shell forms share.
#[cfg(test)]
mod test_support {
    use super::*;

    pub fn doc(s: &str) -> Document {
        Document::parse(s.as_bytes()).unwrap()
    }

    /// Asserts that `err` as a user sees it (message, debug form, hint) holds none of
    /// `words`: text of a value, which may be part of a secret.
    pub fn assert_hides(err: &ExpandError, words: &[&str]) {
        let shown = format!("{err} {err:?} {}", err.hint());
        assert!(!words.iter().any(|w| shown.contains(w)), "{shown}");
    }
}

#[cfg(test)]
mod forms_tests;

#[cfg(test)]
mod tests {
    use super::test_support::*;
    use super::*;

    fn none(_: &str) -> Option<String> {
        None
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

    // Guards: the forms dotenvx expands (`$NAME`, backticks) and those it keeps (`\$`,
    // `$` before a non-name character) give the values dotenvx gives.
    #[test]
    fn follows_dotenvx() {
        let d = doc(concat!(
            "DB_USER=app\nHOST=db.internal\nAMOUNT=42\n",
            "URL=postgres://$DB_USER@${HOST}/app\n",
            "ADDR=`${HOST}:5432`\n",
            "A=\"cost\\${AMOUNT}\"\n",
            "B=\\${AMOUNT}\n",
            "C=\"\\$HOME\"\n",
            "D=$5 and $ and $-x and ${HOST}}\n",
            "E=$HOST$AMOUNT.x\n",
            "PATH=${PATH}:/x\n",
        ));
        let env = |n: &str| (n == "PATH").then(|| "/bin".to_owned());
        let out = resolve(&[&d], &env).unwrap();
        let v = |k: &str| out[k].expose().to_owned();
        assert_eq!(v("URL"), "postgres://app@db.internal/app");
        assert_eq!(v("ADDR"), "db.internal:5432");
        assert_eq!(v("A"), "cost${AMOUNT}");
        assert_eq!(v("B"), "${AMOUNT}");
        assert_eq!(v("C"), "$HOME");
        assert_eq!(v("D"), "$5 and $ and $-x and db.internal}");
        assert_eq!(v("E"), "db.internal42.x");
        assert_eq!(v("PATH"), "/bin:/x");
    }

    #[test]
    fn errors_name_the_key_and_position_never_the_text() {
        let err = resolve(&[&doc("A=${B}\nB=${A}\n")], &none).unwrap_err();
        assert!(matches!(err, ExpandError::Cycle { .. }), "{err}");
        for (file, want) in [
            (
                "A=\"p${w0rd!}\"\n",
                ExpandError::NotAName {
                    key: "A".into(),
                    at: 2,
                },
            ),
            (
                "A=Tr0ub${adour}3\n",
                ExpandError::Unknown {
                    key: "A".into(),
                    at: 6,
                },
            ),
            (
                "A=Tr0ub$adour3\n",
                ExpandError::Unknown {
                    key: "A".into(),
                    at: 6,
                },
            ),
            (
                "A=ü${adour\n",
                ExpandError::Unclosed {
                    key: "A".into(),
                    at: 2,
                },
            ),
            (
                "A=x${A}\n",
                ExpandError::SelfUnset {
                    key: "A".into(),
                    at: 2,
                },
            ),
        ] {
            let err = resolve(&[&doc(file)], &none).unwrap_err();
            assert_eq!(err, want, "{file}");
            assert_hides(&err, &["adour", "w0rd"]);
        }
    }

    // Guards: no reference reaches git-secrets' own variables (the identity), from the
    // environment or from a key of that name; the environment is not even asked.
    #[test]
    fn withheld_names_are_never_expanded() {
        let asked = std::cell::Cell::new(false);
        let env = |n: &str| {
            asked.set(asked.get() || is_withheld(n));
            Some("AGE-SECRET-KEY-1XYZ".to_owned())
        };
        for file in [
            "D=${GIT_SECRETS_IDENTITY}\n",
            "D=\"x$GIT_SECRETS_IDENTITY_FILE\"\n",
            "D=`${GIT_SECRETS_IDENTITY}`\n",
        ] {
            let err = resolve(&[&doc(file)], &env).unwrap_err();
            assert!(matches!(err, ExpandError::Withheld { .. }), "{file}: {err}");
            assert!(!err.to_string().contains("AGE-SECRET"), "{err}");
        }
        // Nor is a key of the scope so named given to a program, literal or not.
        for file in [
            "GIT_SECRETS_IDENTITY=${GIT_SECRETS_IDENTITY}\n",
            "GIT_SECRETS_X=v\nD=${GIT_SECRETS_X}\n",
            "GIT_SECRETS_IDENTITY_FILE='/tmp/planted'\n",
        ] {
            let err = resolve(&[&doc(file)], &env).unwrap_err();
            assert!(
                matches!(err, ExpandError::WithheldKey { .. }),
                "{file}: {err}"
            );
            assert!(!err.to_string().contains("AGE-SECRET"), "{err}");
        }
        assert!(!asked.get());
        let out = resolve(&[&doc("D='${GIT_SECRETS_IDENTITY}'\n")], &env).unwrap();
        assert_eq!(out["D"].expose(), "${GIT_SECRETS_IDENTITY}");
    }

    // Guards: a chain far longer than the call stack could follow resolves; a long
    // cycle is an error whose path is shortened.
    #[test]
    fn deep_chains_resolve_without_recursion() {
        let n = 50_000;
        let mut s: String = (0..n).map(|i| format!("K{i}=${{K{}}}\n", i + 1)).collect();
        s.push_str(&format!("K{n}=end\n"));
        let out = resolve(&[&doc(&s)], &none).unwrap();
        assert_eq!(out["K0"].expose(), "end");
        let cyc = s.replace(&format!("K{n}=end"), &format!("K{n}=$K0"));
        let err = resolve(&[&doc(&cyc)], &none).unwrap_err();
        assert!(matches!(err, ExpandError::Cycle { .. }));
        assert!(err.to_string().len() < 200, "{err}");
    }
}
