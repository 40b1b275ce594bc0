//! The checks on single blobs, without git.

use super::search::{is_searchable, SecretIndex};
use super::*;
use crate::secret::SecretString;

fn blob<'a>(path: &'a str, bytes: &'a [u8]) -> Blob<'a> {
    Blob {
        path,
        bytes,
        routed: false,
        exempt: false,
    }
}

/// A body that looks like key material, built at run time so this file holds no key.
fn body() -> String {
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ".repeat(2)
}

#[test]
fn env_names() {
    for p in [
        ".env",
        "api/.env",
        ".env.local",
        ".env.production",
        "prod.env",
        "a/b/x.ENV",
    ] {
        assert!(is_env_name(p), "{p}");
    }
    for p in [
        ".env.example",
        "a/.env.sample",
        ".env.template",
        ".env.production.example",
        "env",
        "environment.rs",
        ".envrc",
    ] {
        assert!(!is_env_name(p), "{p}");
    }
}

#[test]
fn plaintext_env_is_found_and_encrypted_form_passes() {
    let f = blob(".env", b"KEY=value-123456\n").check();
    assert_eq!(f.len(), 1);
    assert!(f[0].reason.contains("plaintext .env"), "{f:?}");
    assert!(f[0].fix.contains("git rm --cached -- .env"), "{f:?}");
    assert!(!format!("{f:?}").contains("value-123456"));
    assert!(blob(".env.example", b"KEY=value-123456\n")
        .check()
        .is_empty());
    let bin = blob("x.env", b"\0\x01\x02").check();
    assert!(bin[0].reason.contains("binary"), "{bin:?}");
    let exempt = Blob {
        exempt: true,
        ..blob(".env", b"KEY=v\n")
    };
    assert!(exempt.check().is_empty());
}

#[test]
fn a_plaintext_copy_of_a_scope_file_is_refused_and_its_sealed_form_passes() {
    // What `git mergetool` keeps (keepBackup): both sides' plaintext and the markers.
    let orig = b"PIN=4711\n<<<<<<< HEAD\nDB_PASS=Barracuda\n=======\nDB_PASS=Marlin\n>>>>>>> b\n";
    for p in [
        ".secrets/staging.env.orig",
        ".secrets/api/production.env.bak",
        ".secrets/.staging.env.swp",
        ".secrets/STAGING.ENV.ORIG",
    ] {
        let f = blob(p, orig).check();
        assert_eq!(f.len(), 1, "{p}: {f:?}");
        assert!(
            f[0].reason.contains("copy or backup of a secret file"),
            "{f:?}"
        );
        assert!(
            f[0].fix.contains(&format!("git rm --cached -- {p}")),
            "{f:?}"
        );
        assert!(!format!("{f:?}").contains("Marlin"));
    }
    // Sealed, it holds no plaintext (a copy of the encrypted form, in a locked clone).
    let doc = crate::dotenv::Document::parse(b"PIN=4711\nDB_PASS=Marlin\n").unwrap();
    let key = crate::seal::SealingKey::new(&crate::secret::DataKey::from_bytes([7; 32]));
    let sealed = crate::envfile::encrypt(&doc, "staging", &key);
    assert!(blob(".secrets/staging.env.orig", sealed.as_bytes())
        .check()
        .is_empty());
    // Not a copy of a scope file: outside .secrets/, an example, another file there.
    for p in [
        "web/jest.env.js",
        "src/vite.env.d.ts",
        ".secrets/staging.env.example",
        ".secrets/staging.env",
        ".secrets/config.toml",
        ".secrets/notes.environment.txt",
        "docs/environment.md",
    ] {
        assert!(!is_scope_copy_name(p), "{p}");
    }
    // Backups editors and people make, under .secrets/ and elsewhere.
    for p in [
        ".secrets/staging.env~",
        ".secrets/#staging.env#",
        ".secrets/.staging.env.swp",
        ".secrets/staging.env-old",
        ".secrets/api/staging.env_backup",
        "backup/staging.env.bak",
        "staging.env.orig",
        "app/.env~",
    ] {
        assert!(is_scope_copy_name(p), "{p}");
    }
    let exempt = Blob {
        exempt: true,
        ..blob(".secrets/staging.env.orig", orig)
    };
    assert!(exempt.check().is_empty());
}

#[test]
fn routed_and_secret_paths_must_be_encrypted_even_when_exempt() {
    let plain = b"KEY=value\n";
    let routed = Blob {
        routed: true,
        exempt: true,
        ..blob("config/secret.json", plain)
    };
    let f = routed.check();
    assert_eq!(f.len(), 1, "{f:?}");
    assert!(f[0].reason.contains("not in encrypted form"), "{f:?}");
    assert!(f[0].fix.contains("--renormalize"), "{f:?}");
    // Under .secrets/ whatever .gitattributes says (a malformed line must not help).
    let f = blob(".secrets/api/production.env", plain).check();
    assert!(f[0].reason.contains("secret file"), "{f:?}");
    let f = blob(
        ".secrets/development.env",
        b"<<<<<<< HEAD\nK=a\n=======\nK=b\n>>>>>>> x\n",
    )
    .check();
    assert!(f[0].reason.contains("conflict marker at line 1"), "{f:?}");
    let f = blob(".secrets/development.env", b"K=gs1:broken\n").check();
    assert!(f[0].reason.contains("damaged"), "{f:?}");
}

#[test]
fn private_keys_are_found_but_not_their_mention() {
    let ssh = format!("x\n-----BEGIN OPENSSH PRIVATE KEY-----\n{}\n", body());
    assert_eq!(private_key(ssh.as_bytes()), Some(("OpenSSH", 2)));
    let json = format!(
        "{{\"private_key\": \"-----BEGIN PRIVATE KEY-----\\n{}\"}}",
        body()
    );
    assert_eq!(
        private_key(json.as_bytes()).map(|k| k.0),
        Some("PEM PKCS#8")
    );
    let rsa = format!("-----BEGIN RSA PRIVATE KEY-----\r\n{}\r\n", body());
    assert_eq!(private_key(rsa.as_bytes()).map(|k| k.0), Some("PEM RSA"));
    let age = format!("# created\nAGE-SECRET-KEY-1{}\n", "QPZRY9X8GF".repeat(6));
    assert_eq!(private_key(age.as_bytes()), Some(("age identity", 2)));
    // Mentions in code and docs are not keys.
    for t in [
        "let m = \"-----BEGIN RSA PRIVATE KEY-----\";",
        "the AGE-SECRET-KEY-1… line of an identity file",
        "KEY=\"-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nIBAAKC\n-----END RSA PRIVATE KEY-----\"",
    ] {
        assert_eq!(private_key(t.as_bytes()), None, "{t}");
    }
    let f = blob("id_ed25519", ssh.as_bytes()).check();
    assert!(
        f[0].reason.contains("line 2 holds a private key (OpenSSH)"),
        "{f:?}"
    );
}

#[test]
fn searchable_values() {
    for v in [
        "hunter2-pass",
        "correcthorsebatterystaple",
        "12345678",
        "postgres://u:p@h/db",
    ] {
        assert!(is_searchable(v), "{v}");
    }
    for v in [
        "short",
        "production",
        "localhost",
        "${DATABASE_URL}",
        "$HOME_DIR_X",
    ] {
        assert!(!is_searchable(v), "{v}");
    }
}

#[test]
fn values_are_found_and_never_shown() {
    let mut index = SecretIndex::default();
    let (prod, staging, dev) = (
        index.add_scope("api/production".into()),
        index.add_scope("api/staging".into()),
        index.add_scope("development".into()),
    );
    for (v, scope, key) in [
        ("sk-live-0123456789", prod, "STRIPE_KEY"),
        ("sk-live-0123456789", staging, "STRIPE_KEY"),
        ("hunter2-password", dev, "DB_PASS"),
        ("production", dev, "APP_ENV"),
    ] {
        index.add(SecretString::from(v), scope, key.into());
    }
    assert_eq!(index.len(), 2);
    let text = b"a: 1\nkey: sk-live-0123456789\npass: hunter2-password\nenv: production\n";
    let f = index.find(&blob("config.yaml", text)).expect("found");
    assert!(f.reason.contains("line 2"), "{f:?}");
    assert!(f.reason.contains("`STRIPE_KEY` (api/production)"), "{f:?}");
    assert!(f.reason.contains("1 other place"), "{f:?}");
    assert!(f.reason.contains("1 other secret value"), "{f:?}");
    let all = format!("{f:?}");
    assert!(
        !all.contains("sk-live") && !all.contains("hunter2"),
        "{all}"
    );
    assert!(index.find(&blob("a.txt", b"env: production\n")).is_none());
}

// Guards: a leftover temporary file of ours is refused wherever it sits, whatever it holds.
#[test]
fn leftover_temporary_files_are_found() {
    for p in [
        ".secrets/.git-secrets-Ab12Cd",
        ".git-secrets-x",
        "a/b/.git-secrets-",
    ] {
        let f = blob(p, b"K=v\n").check();
        assert!(
            f.iter().any(|f| f.reason.contains("temporary file")),
            "{p}: {f:?}"
        );
    }
    assert!(blob("a/my.git-secrets-x", b"K=v\n").check().is_empty());
}
