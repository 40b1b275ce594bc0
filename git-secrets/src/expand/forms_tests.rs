//! The shell forms `${NAME:-word}`, `${NAME-word}`, `${NAME:+word}`, `${NAME+word}`,
//! `${NAME:?message}` and `${NAME?message}`.

use super::test_support::*;
use super::*;

/// `ENV_SET=e`, `ENV_EMPTY=` and `SET=shadowed` in the environment, nothing else.
fn env(n: &str) -> Option<String> {
    match n {
        "ENV_SET" => Some("e".into()),
        "ENV_EMPTY" => Some(String::new()),
        "SET" => Some("shadowed".into()),
        _ => None,
    }
}

/// The value of `K` in `file` (`SET=hello` and `EMPTY=` before it).
fn k(file: &str) -> Result<String, ExpandError> {
    let d = doc(&format!("SET=hello\nEMPTY=\n{file}"));
    resolve(&[&d], &env).map(|out| out["K"].expose().to_owned())
}

// Guards: each form gives what POSIX sh and dotenvx's documented table give, for a key
// of the scope, one of the environment, an empty one and one set nowhere; the scope's
// key is found before the environment's.
#[test]
fn each_form_as_the_shell() {
    for (value, want) in [
        ("${SET:-fb}", "hello"),
        ("${EMPTY:-fb}", "fb"),
        ("${UNSET:-fb}", "fb"),
        ("${ENV_SET:-fb}", "e"),
        ("${ENV_EMPTY:-fb}", "fb"),
        ("${SET-fb}", "hello"),
        ("${EMPTY-fb}", ""),
        ("${UNSET-fb}", "fb"),
        ("${ENV_EMPTY-fb}", ""),
        ("${SET:+alt}", "alt"),
        ("${EMPTY:+alt}", ""),
        ("${UNSET:+alt}", ""),
        ("${ENV_SET:+alt}", "alt"),
        ("${SET+alt}", "alt"),
        ("${EMPTY+alt}", "alt"),
        ("${ENV_EMPTY+alt}", "alt"),
        ("${UNSET+alt}", ""),
        ("${SET:?need it}", "hello"),
        ("${ENV_SET:?need it}", "e"),
        ("${EMPTY?need it}", ""),
        ("${ENV_EMPTY?need it}", ""),
        ("${UNSET:-}", ""),
        ("${UNSET-}x", "x"),
        ("a${UNSET:-b}c${SET:+d}e", "abcde"),
        ("${UNSET:-a-b:-c+d?}", "a-b:-c+d?"),
    ] {
        assert_eq!(k(&format!("K={value}\n")).unwrap(), want, "{value}");
        assert_eq!(k(&format!("K=\"{value}\"\n")).unwrap(), want, "\"{value}\"");
    }
    // A key of the shared values counts as set under the scope's own.
    let shared = doc("S=\n");
    let own = doc("K=${S-unset}|${S:-empty}\n");
    assert_eq!(
        resolve(&[&shared, &own], &env).unwrap()["K"].expose(),
        "|empty"
    );
}

// Guards: a word holds references (braced, bare, nested forms), expanded only when
// used: a default for a set variable is never looked at; escapes work inside it.
#[test]
fn words_hold_references_and_escapes() {
    for (value, want) in [
        ("${UNSET:-${SET}}", "hello"),
        ("${UNSET:-$SET}", "hello"),
        ("${UNSET:-$SET-x}", "hello-x"),
        ("${UNSET:-a${UNSET2:-${ENV_SET}}c}d", "aecd"),
        ("${SET:+<$SET>}", "<hello>"),
        ("${SET:-${NOWHERE}}", "hello"),
        ("${UNSET:+$NOWHERE}", ""),
        ("${SET:-${NOWHERE:?m}}", "hello"),
        ("\"${UNSET:-a\\}b}\"", "a}b"),
        ("\"${UNSET:-\\${SET}}\"", "${SET}"),
        ("${UNSET:-{x}}", "{x}"),
        ("x\\}${SET}}", "x\\}hello}"),
        ("'${UNSET:-x}'", "${UNSET:-x}"),
        ("'${UNSET:?m}'", "${UNSET:?m}"),
    ] {
        assert_eq!(k(&format!("K={value}\n")).unwrap(), want, "{value}");
    }
    // A value found is used as it resolved, not scanned again.
    assert_eq!(
        k("RAW='${UNSET:-x}'\nK=${RAW:-y}\n").unwrap(),
        "${UNSET:-x}"
    );
    // A self-reference extends the environment's value, or takes the default.
    let path = doc("PATH=${PATH:-/bin}:/x\nHOME=${HOME:+$HOME/x}\n");
    let out = resolve(&[&path], &|n: &str| (n == "HOME").then(|| "/h".into())).unwrap();
    assert_eq!(out["PATH"].expose(), "/bin:/x");
    assert_eq!(out["HOME"].expose(), "/h/x");
}

// Guards: forms nested far deeper than the call stack could follow parse and resolve.
#[test]
fn deep_nesting_resolves_without_recursion() {
    let n = 50_000;
    let value = format!("K={}end{}\n", "${UNSET:-".repeat(n), "}".repeat(n));
    assert_eq!(k(&value).unwrap(), "end");
}

// Guards: `:?` and `?` are errors naming the key, position and why, never the message
// or the name; a used word's unknown reference is the error it is anywhere else; an
// unused one is not looked at.
#[test]
fn required_and_unknown_errors_show_no_text() {
    for (file, want) in [
        (
            "K=ab${UNSET:?hunter2}\n",
            ExpandError::Required {
                key: "K".into(),
                at: 3,
                empty: false,
            },
        ),
        (
            "K=${UNSET?hunter2}\n",
            ExpandError::Required {
                key: "K".into(),
                at: 1,
                empty: false,
            },
        ),
        (
            "K=${EMPTY:?hunter2}\n",
            ExpandError::Required {
                key: "K".into(),
                at: 1,
                empty: true,
            },
        ),
        (
            "K=${ENV_EMPTY:?hunter2}\n",
            ExpandError::Required {
                key: "K".into(),
                at: 1,
                empty: true,
            },
        ),
        (
            "K=${UNSET:-x${UNSET:?hunter2}}\n",
            ExpandError::Required {
                key: "K".into(),
                at: 11,
                empty: false,
            },
        ),
        (
            "K=${K:?hunter2}\n",
            ExpandError::Required {
                key: "K".into(),
                at: 1,
                empty: false,
            },
        ),
        (
            "K=${UNSET:-ü$hunter2}\n",
            ExpandError::Unknown {
                key: "K".into(),
                at: 11,
            },
        ),
    ] {
        let err = k(file).unwrap_err();
        assert_eq!(err, want, "{file}");
        assert_hides(&err, &["hunter2", "UNSET"]);
    }
    let err = k("K=${EMPTY:?x}\n").unwrap_err().to_string();
    assert!(
        err.contains("`K` requires a variable that is empty"),
        "{err}"
    );
    let err = k("K=${UNSET?x}\n").unwrap_err().to_string();
    assert!(err.contains("that is not set (at character 1"), "{err}");
}

// Guards: an unclosed or malformed form is an error naming the key and position (the
// outermost `${` never closed), never the text.
#[test]
fn malformed_forms_show_no_text() {
    let unclosed = |at| ExpandError::Unclosed {
        key: "K".into(),
        at,
    };
    let not_a_name = |at| ExpandError::NotAName {
        key: "K".into(),
        at,
    };
    for (value, want) in [
        ("${UNSET:-hunter2", unclosed(1)),
        ("x${UNSET:-${SET}hunter2", unclosed(2)),
        ("${UNSET:-${SET:-hunter2", unclosed(1)),
        ("${UNSET:-hunter2\\}", unclosed(1)),
        ("${hunter2", unclosed(1)),
        ("${UNSET:hunter2}", not_a_name(1)),
        ("${UNSET:}", not_a_name(1)),
        ("${:-hunter2}", not_a_name(1)),
        ("${UNSET :-hunter2}", not_a_name(1)),
        ("${2UNSET:-hunter2}", not_a_name(1)),
        ("${UNSET:-${hunter2!}}", not_a_name(10)),
        ("${UNSET:-${}}", not_a_name(10)),
    ] {
        let err = k(&format!("K={value}\n")).unwrap_err();
        assert_eq!(err, want, "{value}");
        assert_hides(&err, &["hunter2", "UNSET"]);
    }
}

// Guards: a cycle through a used default is still a cycle; one through a default that
// is never used is no cycle at all (the word is not expanded).
#[test]
fn cycles_through_defaults_are_detected() {
    for file in [
        "A=${UNSET:-$B}\nB=${A}\n",
        "A=${B:-x}\nB=${A:-y}\n",
        "A=${B+x}\nB=${A+y}\n",
        "A=${UNSET:-${UNSET2:-${B}}}\nB=${SET:+$A}\n",
    ] {
        let err = resolve(&[&doc(&format!("SET=hello\n{file}"))], &env).unwrap_err();
        assert!(matches!(err, ExpandError::Cycle { .. }), "{file}: {err}");
    }
    let out = resolve(&[&doc("SET=hello\nA=${SET:-$B}\nB=${A}\n")], &env).unwrap();
    assert_eq!(out["B"].expose(), "hello");
}

// Guards: GIT_SECRETS_ names are refused in every form and in every word, used or not;
// the environment is never asked about them (not even whether they are set).
#[test]
fn withheld_names_are_refused_in_forms() {
    let asked = std::cell::Cell::new(false);
    let env = |n: &str| {
        asked.set(asked.get() || is_withheld(n));
        Some("AGE-SECRET-KEY-1XYZ".to_owned())
    };
    for value in [
        "${GIT_SECRETS_IDENTITY:-x}",
        "${GIT_SECRETS_IDENTITY-x}",
        "${GIT_SECRETS_IDENTITY:+x}",
        "${GIT_SECRETS_IDENTITY+x}",
        "${GIT_SECRETS_IDENTITY:?x}",
        "${GIT_SECRETS_IDENTITY?x}",
        "${UNSET:-${GIT_SECRETS_IDENTITY}}",
        "${SET:-$GIT_SECRETS_IDENTITY_FILE}",
        "${SET:+${UNSET:-${GIT_SECRETS_X}}}",
    ] {
        let d = doc(&format!("SET=v\nK={value}\n"));
        let err = resolve(&[&d], &env).unwrap_err();
        assert!(
            matches!(err, ExpandError::Withheld { .. }),
            "{value}: {err}"
        );
        assert!(!err.to_string().contains("AGE-SECRET"), "{err}");
    }
    assert!(!asked.get());
}
