//! Whether a stored value found in a commit or tag message is to be refused, or only
//! warned about (FORMAT.md §8.4).
//!
//! A scope holds configuration beside its secrets: a region (`us-east-1`), a host
//! (`db.internal`), `localhost:5432`. Those appear in ordinary prose ("Deploy the app to
//! us-east-1"), and a message has no per-path opt-out as a file has (`-secrets-check`),
//! only `--no-verify`, which skips every other check too. So a value found in a message
//! is refused only when it is likely a secret:
//!
//! - its key's name says so ([`key_looks_secret`]: a word such as PASSWORD, TOKEN, KEY,
//!   SECRET, AUTH, PRIVATE, CREDENTIAL, SALT, DSN, …); or
//! - the value does ([`value_looks_secret`]): a URL with a password (`scheme://user:pw@`),
//!   a secret word in it (`dev-password-1`), a character seldom found in configuration
//!   (`!`, `$`, `*`, …), or a run of letters and digits that does not read as a word, a
//!   number or a short name-and-number (`S3cr3t`, `4eC39HqLyjWD`, a hex digest) or is
//!   longer than 20 characters.
//!
//! Any other value (a word-like, structured identifier under a plain key) is let through
//! with a warning that names its key and scope, never the value. Files are not judged
//! so: a value found in a file is always refused (a file is where a pasted `.env` or a
//! config with real credentials lands, and it has its opt-out).

/// Words of a key's name that say its value is a secret. A key's name is split at `_`
/// (and at a change from lower to upper case); a word that equals one of these, or
/// contains one of [`SECRET_PARTS`], makes the key secret.
const SECRET_WORDS: &[&str] = &[
    "PASS",
    "PWD",
    "PW",
    "KEY",
    "KEYS",
    "AUTH",
    "SALT",
    "PEPPER",
    "DSN",
    "PIN",
    "OTP",
    "TOTP",
    "SEED",
    "HMAC",
    "JWT",
    "BEARER",
    "SIG",
    "SIGNATURE",
    "CERT",
    "PEM",
    "COOKIE",
    "SESSION",
    "CRED",
    "CREDS",
    "NONCE",
    "MNEMONIC",
    "LICENSE",
];

/// Parts of a key's word (or of a value's) that say it is a secret wherever they occur:
/// `DBPASSWORD`, `APIKEY`, `ACCESSTOKEN`.
const SECRET_PARTS: &[&str] = &[
    "PASSWORD",
    "PASSWD",
    "PASSPHRASE",
    "SECRET",
    "TOKEN",
    "PRIVATE",
    "CREDENTIAL",
    "APIKEY",
    "ACCESSKEY",
    "AUTHKEY",
];

/// Whether the name of `key` says its value is a secret.
pub fn key_looks_secret(key: &str) -> bool {
    let mut words: Vec<String> = Vec::new();
    let mut word = String::new();
    let mut prev_lower = false;
    for c in key.chars() {
        if !c.is_ascii_alphanumeric() {
            words.push(std::mem::take(&mut word));
            prev_lower = false;
            continue;
        }
        // `dbPassword`: a word starts at an upper-case letter after a lower-case one.
        if c.is_ascii_uppercase() && prev_lower {
            words.push(std::mem::take(&mut word));
        }
        prev_lower = c.is_ascii_lowercase();
        word.push(c.to_ascii_uppercase());
    }
    words.push(word);
    let joined = key.to_ascii_uppercase().replace(['_', '-', '.'], "");
    words.iter().any(|w| SECRET_WORDS.contains(&w.as_str()))
        || SECRET_PARTS.iter().any(|p| joined.contains(p))
}

/// Parts of a value that say it is a secret (`dev-password-1`).
const VALUE_PARTS: &[&str] = &["PASSWORD", "PASSWD", "PASSPHRASE", "SECRET", "TOKEN"];

/// Punctuation configuration values are made of (hosts, URLs, paths, regions, lists);
/// any other non-alphanumeric character (`!`, `$`, `*`, `^`, `\`, …) is more often part
/// of a password.
const PLAIN_PUNCTUATION: &str = ".-_:/@,+=?&%~#()' ";

/// The longest run of letters and digits that reads as plain text.
const MAX_PLAIN_RUN: usize = 20;

/// Whether `value` itself looks like a secret (see the module's documentation).
pub fn value_looks_secret(value: &str) -> bool {
    if has_url_password(value) {
        return true;
    }
    let upper = value.to_uppercase();
    if VALUE_PARTS.iter().any(|p| upper.contains(p)) {
        return true;
    }
    if value
        .chars()
        .any(|c| !c.is_alphanumeric() && !PLAIN_PUNCTUATION.contains(c))
    {
        return true;
    }
    value
        .split(|c: char| !c.is_alphanumeric())
        .any(|run| !is_plain_run(run))
}

/// Whether a run of letters and digits reads as ordinary text: a number of at most 12
/// digits (a port, an account id), a word in one case or capitalised, such a word then
/// at most 3 digits (`v1`, `east1`, `db01`), or at most 4 digits then a lower-case word
/// (`2xlarge`, `10gb`).
fn is_plain_run(run: &str) -> bool {
    let n = run.chars().count();
    if n > MAX_PLAIN_RUN {
        return false;
    }
    if run.chars().all(|c| c.is_ascii_digit()) {
        return n <= 12;
    }
    let word_len = run.chars().take_while(|c| c.is_alphabetic()).count();
    if word_len > 0 {
        let (word, digits) = run.split_at(
            run.char_indices()
                .nth(word_len)
                .map_or(run.len(), |(i, _)| i),
        );
        return is_word(word) && digits.len() <= 3 && digits.chars().all(|c| c.is_ascii_digit());
    }
    let lead = run.chars().take_while(|c| c.is_ascii_digit()).count();
    let word = &run[lead..];
    lead <= 4 && word.chars().all(|c| c.is_lowercase())
}

/// A word in lower case, in upper case, or capitalised.
fn is_word(word: &str) -> bool {
    let mut chars = word.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    let rest: Vec<char> = chars.collect();
    rest.iter().all(|c| c.is_lowercase())
        || (first.is_uppercase() && rest.iter().all(|c| c.is_uppercase()))
}

/// `scheme://user:password@host` (or `user:password@host`): a non-empty password before
/// an `@` in the authority.
fn has_url_password(value: &str) -> bool {
    value.match_indices('@').any(|(at, _)| {
        let before = &value[..at];
        let start = before.rfind(['/', ' ', '\n']).map_or(0, |i| i + 1);
        before[start..]
            .split_once(':')
            .is_some_and(|(_, pw)| !pw.is_empty())
    })
}

/// Whether a value found in a message is refused: its key's name or the value says it
/// is a secret.
pub fn is_secret(key: &str, value: &str) -> bool {
    key_looks_secret(key) || value_looks_secret(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Guards (red team 6, 05): configuration under a plain key is let through; a secret
    // key's name, or a value that looks like a secret, is refused.
    #[test]
    fn secret_keys_are_told_by_their_names() {
        for key in [
            "DB_PASSWORD",
            "DB_PASS",
            "PGPASSWORD",
            "API_KEY",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_ACCESS_KEY_ID",
            "GITHUB_TOKEN",
            "PRIVATE_KEY",
            "GOOGLE_APPLICATION_CREDENTIALS",
            "BASIC_AUTH",
            "PASSWORD_SALT",
            "SENTRY_DSN",
            "dbPassword",
            "stripeApiKey",
            "SESSION_SECRET",
            "JWT_SIGNING_KEY",
        ] {
            assert!(key_looks_secret(key), "{key}");
        }
        for key in [
            "AWS_REGION",
            "DB_HOST",
            "DATABASE_HOST",
            "PORT",
            "LOG_LEVEL",
            "APP_URL",
            "DATABASE_URL",
            "MONKEY_MODE",
            "NODE_ENV",
            "AUTHOR_NAME",
        ] {
            assert!(!key_looks_secret(key), "{key}");
        }
    }

    #[test]
    fn random_or_password_like_values_are_secret() {
        for v in [
            "S3cr3t-pw-99",
            "Tr0ub4dor-Horse-77",
            "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
            "9f86d081884c7d659a2feaa0c55ad015",
            "550e8400-e29b-41d4-a716-446655440000",
            "postgres://app:prod-password@db.internal/app",
            "redis://:hunter2x@cache:6379",
            "dev-password-1",
            "tok-prod-0042-xyz-secret",
            "hello!world!",
            "correcthorsebatterystaple",
            "ghp_abcdEFGHijklMNOPqrst",
            "AKIAIOSFODNN7EXAMPLE",
        ] {
            assert!(value_looks_secret(v), "{v}");
        }
        for v in [
            "us-east-1",
            "eu-west-2",
            "localhost:5432",
            "db.internal",
            "db-01.prod.internal",
            "https://api.example.com/v1",
            "postgres://app@db.internal:5432/app",
            "git@github.com:org/repo.git",
            "t3.2xlarge",
            "10.0.0.12",
            "production",
            "Europe/Berlin",
            "ops@example.com",
            "#alerts",
            "INFO,WARN",
        ] {
            assert!(!value_looks_secret(v), "{v}");
        }
        assert!(is_secret("DB_PASSWORD", "us-east-1"));
        assert!(!is_secret("AWS_REGION", "us-east-1"));
    }
}
