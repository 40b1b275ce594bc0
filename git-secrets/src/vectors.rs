//! Test vectors of the encrypted form (tests/vectors/*.json), one test over all files:
//! each says what must happen (`expect`). A change to the format that breaks a vector
//! is a format break and needs a new version (`gs2:`), not a new vector.
//!
//! `GIT_SECRETS_WRITE_VECTORS=1 cargo test -p git-secrets --lib vectors` regenerates them
//! (only for a deliberate format change).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::dotenv::Document;
use crate::envfile::{decrypt, encrypt, OpenError};
use crate::seal::SealingKey;
use crate::secret::DataKey;

#[derive(Serialize, Deserialize)]
struct Vector {
    description: String,
    /// `ok`, `fails: does-not-open`, `fails: unknown-key` or `fails: not-encrypted`.
    expect: String,
    key_hex: String,
    scope: String,
    plaintext: Option<String>,
    encrypted: String,
}

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors")
}

fn key_from_hex(h: &str) -> SealingKey {
    let bytes: Vec<u8> = (0..h.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap())
        .collect();
    SealingKey::new(&DataKey::from_bytes(bytes.try_into().unwrap()))
}

fn generate() {
    let key_hex: String = (0u8..32).map(|b| format!("{b:02x}")).collect();
    let k = key_from_hex(&key_hex);
    let seal =
        |plain: &str, scope: &str| encrypt(&Document::parse(plain.as_bytes()).unwrap(), scope, &k);
    let ok = |name: &str, description: &str, plain: &str, scope: &str| {
        (
            name.to_owned(),
            Vector {
                description: description.into(),
                expect: "ok".into(),
                key_hex: key_hex.clone(),
                scope: scope.into(),
                plaintext: Some(plain.into()),
                encrypted: seal(plain, scope),
            },
        )
    };
    let base = "# database\nDB_URL=postgres://u:p@h/db\nexport API_KEY='sk-123'\n";
    let enc = seal(base, "api/production");
    let fail = |name: &str, description: &str, expect: &str, encrypted: String, scope: &str| {
        (
            name.to_owned(),
            Vector {
                description: description.into(),
                expect: expect.into(),
                key_hex: key_hex.clone(),
                scope: scope.into(),
                plaintext: None,
                encrypted,
            },
        )
    };
    let db_line = enc.lines().nth(1).unwrap().to_owned();
    let api_line = enc.lines().nth(2).unwrap().to_owned();
    let db_tok = db_line.trim_start_matches("DB_URL=");
    let mut flipped = db_tok.to_owned().into_bytes();
    let i = flipped.len() - 5;
    flipped[i] = if flipped[i] == b'A' { b'B' } else { b'A' };
    let vectors = vec![
        ok(
            "basic",
            "comment, plain and exported entries",
            base,
            "api/production",
        ),
        ok(
            "crlf-multiline-no-final-newline",
            "CRLF endings, a multiline double-quoted value, no final newline",
            "A=1\r\nB=\"two\r\nlines\"\r\n\r\nC=",
            "production",
        ),
        ok(
            "empty",
            "an empty file is empty in both forms",
            "",
            "development",
        ),
        ok(
            "utf8-and-padding",
            "UTF-8 values and a value longer than 128 bytes",
            &format!("U=café ☃\nLONG={}\n", "x".repeat(300)),
            "web/test",
        ),
        fail(
            "tampered",
            "one base64 character of a value changed",
            "fails: does-not-open",
            enc.replace(db_tok, &String::from_utf8(flipped).unwrap()),
            "api/production",
        ),
        fail(
            "moved-to-other-key",
            "the sealed value of DB_URL copied into API_KEY",
            "fails: does-not-open",
            enc.replace(&api_line, &format!("export API_KEY={db_tok}")),
            "api/production",
        ),
        fail(
            "moved-to-other-scope",
            "a file of api/production read as web/production",
            "fails: does-not-open",
            enc.clone(),
            "web/production",
        ),
        fail(
            "unknown-key-id",
            "the key id names a key that is not in the chain",
            "fails: unknown-key",
            enc.replace(&format!("gs1:{}", k.id()), "gs1:00000000"),
            "api/production",
        ),
        fail(
            "truncated",
            "a value cut short",
            "fails: does-not-open",
            enc.replace(db_tok, &db_tok[..db_tok.len() - 10]),
            "api/production",
        ),
        fail(
            "cut-to-key-id",
            "a value cut down to its key id",
            "fails: damaged",
            enc.replace(db_tok, &format!("gs1:{}:", k.id())),
            "api/production",
        ),
        fail(
            "plaintext-line",
            "a plaintext line among encrypted ones",
            "fails: not-encrypted",
            format!("{enc}LEAK=value\n"),
            "api/production",
        ),
    ];
    std::fs::create_dir_all(dir()).unwrap();
    for (name, v) in vectors {
        let mut s = serde_json::to_string_pretty(&v).unwrap();
        s.push('\n');
        std::fs::write(dir().join(format!("{name}.json")), s).unwrap();
    }
}

#[test]
fn vectors_hold() {
    if std::env::var_os("GIT_SECRETS_WRITE_VECTORS").is_some() {
        generate();
    }
    let mut n = 0;
    for entry in std::fs::read_dir(dir()).expect("tests/vectors exists") {
        let path = entry.unwrap().path();
        let v: Vector = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let k = key_from_hex(&v.key_hex);
        let name = path.display();
        let result = decrypt(
            v.encrypted.as_bytes(),
            &v.scope,
            std::slice::from_ref(&k),
            &Vec::new,
        );
        match v.expect.as_str() {
            "ok" => {
                let plain = v.plaintext.as_deref().unwrap();
                assert_eq!(result.unwrap().print().expose(), plain, "{name}");
                let doc = Document::parse(plain.as_bytes()).unwrap();
                assert_eq!(
                    encrypt(&doc, &v.scope, &k),
                    v.encrypted,
                    "{name}: sealing changed"
                );
            }
            "fails: does-not-open" => assert!(
                matches!(result, Err(OpenError::DoesNotOpen { .. })),
                "{name}"
            ),
            "fails: unknown-key" => assert!(
                matches!(result, Err(OpenError::UnknownKey { .. })),
                "{name}"
            ),
            "fails: damaged" => assert!(matches!(result, Err(OpenError::Damaged { .. })), "{name}"),
            "fails: not-encrypted" => assert!(
                matches!(result, Err(OpenError::NotEncrypted { .. })),
                "{name}"
            ),
            other => panic!("{name}: unknown expectation {other}"),
        }
        n += 1;
    }
    assert!(n >= 10, "all vectors were read");
}
