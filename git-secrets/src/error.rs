//! The one error type of the core library. Every variant says what went wrong and
//! where; [`Error::hint`] says how to fix it. No variant ever holds a secret value.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("not inside a git work tree")]
    NotARepo,
    #[error("git-secrets is not set up in this repository (no .secrets/config.toml)")]
    NotInitialized,
    #[error("git-secrets is already set up in this repository")]
    AlreadyInitialized,
    #[error("{}: {message}", .path.display())]
    Config { path: PathBuf, message: String },
    #[error("{}: {message}", .path.display())]
    Access { path: PathBuf, message: String },
    #[error("{path}: {source}")]
    Dotenv {
        path: String,
        source: crate::dotenv::ParseError,
    },
    #[error("{path}: {source}")]
    Open {
        path: String,
        scope: String,
        source: crate::envfile::OpenError,
    },
    #[error("no identity for this device")]
    NoIdentity,
    #[error("the identity file {} does not exist", .path.display())]
    IdentityFileMissing { path: PathBuf },
    #[error("the identity file {} can be read by other users (mode {mode:o})", .path.display())]
    IdentityPermissions { path: PathBuf, mode: u32 },
    #[error("the identity in {origin} is not an age identity (AGE-SECRET-KEY-1…)")]
    BadIdentity { origin: String },
    #[error("neither HOME nor XDG_CONFIG_HOME is set, so there is nowhere to keep this device's identity")]
    NoHome,
    #[error("this identity has no access to {env}")]
    NoAccess {
        env: String,
        recipient: String,
        /// This identity's member id, when its entry is marked removed (it cannot be
        /// approved again).
        removed: Option<String>,
        /// The name of the CI key this identity is (`keys create`), which `join` and an
        /// approval do not apply to: a CI key reads the environments it was made for.
        ci_key: Option<String>,
    },
    #[error("the keys of `{env}` in .secrets/access.json reach none of the keys this clone held before: they were replaced by someone who did not hold the old ones, or `{env}` was deleted and added again; nothing is opened or sealed under them")]
    KeysReplaced { env: String },
    #[error("the current key {key} of `{env}` in .secrets/access.json was wrapped to member {member}, whom this clone saw removed: this access.json is older than the removal (a revert of it, or a branch made before it), so they hold that key; no new value is sealed under it")]
    KeyHeldByRemoved {
        env: String,
        key: String,
        member: String,
    },
    #[error("the current key {key} of `{env}` in .secrets/access.json does not descend from key {remembered}, the newest this clone sealed under: access.json was rewritten by someone holding an older key (the chain grown again from it), or this branch was made before a rotation this clone has seen; no new value is sealed under it (reading is not affected)")]
    KeyNotDescended {
        env: String,
        key: String,
        remembered: String,
    },
    #[error("the current key {key} of `{env}` in .secrets/access.json does not supersede key {former}, which a version of access.json in HEAD's history made current and gave to you: the keys were replaced, or the chain grown again from an older key (a member since removed can do that), after that version; no new value is sealed under it (reading is not affected)")]
    LineageBroken {
        env: String,
        key: String,
        former: String,
    },
    #[error("unknown environment `{name}` (known: {})", .known.join(", "))]
    UnknownEnv { name: String, known: Vec<String> },
    /// `word` is `None` when the word is not a valid name: it is then not repeated (a
    /// value given in its place would be printed).
    #[error("{}", scope_word_message(.word.as_deref(), .services, .envs))]
    UnknownScopeWord {
        word: Option<String>,
        services: Vec<String>,
        envs: Vec<String>,
    },
    /// An invalid key name typed by the user is never repeated: `KEY: value` or `KEY value`
    /// given as one word would print the value. `arg` says which argument it was.
    #[error("the {arg} is not a valid variable name (not repeated here: it may hold a value)")]
    BadKeyName { arg: String },
    #[error("the value of `{key}`{} starts with `gs1:`, the prefix of a sealed value, so it would be taken for one (committed unsealed, or the whole scope unreadable)", .from.as_ref().map(|f| format!(" in {f}")).unwrap_or_default())]
    TokenLikeValue { key: String, from: Option<String> },
    #[error("`{key}` is not set in {scope}")]
    KeyNotFound { key: String, scope: String },
    #[error("{message}")]
    Usage {
        message: String,
        hint: Option<String>,
    },
    #[error("{message}")]
    Refused { message: String, hint: String },
    #[error("`git {args}` failed: {stderr}")]
    Git { args: String, stderr: String },
    #[error("{}: {source}", .path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The message of [`Error::UnknownScopeWord`]. A known service or environment out of
/// its place (`set production api KEY`: the service comes first) is said as such, not
/// called unknown.
fn scope_word_message(word: Option<&str>, services: &[String], envs: &[String]) -> String {
    match word {
        Some(w) if services.iter().any(|s| s == w) => format!(
            "`{w}` is a known service, but it came after the environment: the service comes first (`{w} ENV`), or give it as `-s {w}`"
        ),
        Some(w) if envs.iter().any(|e| e == w) => format!(
            "`{w}` is a known environment, but an environment was given before it: a command takes one (the service, if any, comes first: `SERVICE {w}`)"
        ),
        _ => format!(
            "{} is neither a known service nor a known environment (services: {}; environments: {})",
            word.map_or("the first word (not repeated: it is not a valid name)".to_owned(), |w| format!("`{w}`")),
            list(services),
            envs.join(", ")
        ),
    }
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}

impl Error {
    /// How to fix it, when there is something to say.
    pub fn hint(&self) -> Option<String> {
        self.hint_text().filter(|h| !h.is_empty())
    }

    fn hint_text(&self) -> Option<String> {
        Some(match self {
            Error::NotARepo => "run this inside a git repository (`git init` makes one)".into(),
            Error::NotInitialized => "run `git secrets init` to set it up, or `git secrets join --name NAME` in a clone of a repository that uses it".into(),
            Error::AlreadyInitialized => "use `git secrets unlock` to set up this clone, or `git secrets status` to see its state".into(),
            Error::Config { .. } => "fix the file by hand (`git diff .secrets/config.toml` shows recent changes), or restore it with `git checkout -- .secrets/config.toml`".into(),
            Error::Access { .. } => "restore it with `git checkout -- .secrets/access.json`; if a merge broke it, redo the merge".into(),
            Error::Dotenv { source, .. } => source.hint().into(),
            Error::Open { source: crate::envfile::OpenError::UnknownKey { .. }, .. } => "pull the latest .secrets/access.json; if the key is still unknown, ask a member to run `git secrets member list` and approve you".into(),
            Error::Open { source: crate::envfile::OpenError::OtherEnvironment { env, .. }, .. } => format!("a merge of `env rename` with an edit of the old name leaves such a file when the old name was given to a new environment: `git secrets doctor --fix` merges its values into `{env}`'s file and puts back this environment's own; if it was moved here on purpose (`git mv`), re-seal it for its new place from the work tree of an unlocked clone: `git add --renormalize -- <file>`; if it was copied here by mistake, put it back where `{env}` keeps it, or restore this one from a commit where it was sealed for its own environment (`git checkout <commit> -- <file>`)"),
            // Sealed for another scope: a `git mv` keeps the blob git had, and git sees no
            // change to re-seal when the file's stat data moved with it (a folder renamed).
            Error::Open { source: crate::envfile::OpenError::DoesNotOpen { origin: Some(_), .. }, scope, .. } => format!("if it was moved here (`git mv`), re-seal it for {scope} from the work tree of an unlocked clone: `git add --renormalize -- <file>`; otherwise restore it from a trusted commit (`git checkout <commit> -- <file>`), or set the key again in {scope} with `git secrets set`"),
            Error::Open { source: crate::envfile::OpenError::DoesNotOpen { .. }, scope, .. } => format!("restore the file from a trusted commit (`git checkout <commit> -- <file>`), or set the key again in {scope} with `git secrets set`"),
            Error::Open { source: crate::envfile::OpenError::Damaged { .. }, .. } => "restore the file from git (`git checkout -- <file>`), then set the value again if it was changed on purpose".into(),
            Error::Open { source: crate::envfile::OpenError::NotEncrypted { .. }, .. } => "the file mixes encrypted and plaintext lines; restore it with `git checkout -- <file>` and set the values again".into(),
            Error::NoIdentity => "run `git secrets join --name NAME` to create one and ask for access, or set GIT_SECRETS_IDENTITY".into(),
            Error::IdentityFileMissing { .. } => "point GIT_SECRETS_IDENTITY_FILE at an existing age identity file, or unset it".into(),
            Error::IdentityPermissions { path, .. } => format!("run `chmod 600 {}`", path.display()),
            Error::BadIdentity { .. } => "the identity must be the AGE-SECRET-KEY-1… line of an age identity file".into(),
            Error::NoHome => "set HOME, or GIT_SECRETS_IDENTITY / GIT_SECRETS_IDENTITY_FILE".into(),
            Error::NoAccess { ci_key: Some(name), removed: Some(_), .. } => format!("this identity is the CI key `{name}`, which was revoked: a member makes a new one with `git secrets keys create --name NAME --env ENV`, and the job's secret is replaced with it"),
            Error::NoAccess { ci_key: Some(name), env, .. } => format!("this identity is the CI key `{name}`, which reads only the environments it was made for: a member makes one that reads {env} with `git secrets keys create --name NAME --env ENV` (one --env per environment), or the job runs with another environment"),
            Error::NoAccess { removed: Some(id), .. } => format!("this device's key was removed from the repository (member {id}) and cannot be approved again: make a new identity (a new device, or GIT_SECRETS_IDENTITY_FILE) and `git secrets join --name NAME` with it"),
            Error::NoAccess { recipient, .. } => format!("ask a member to approve this device (`git secrets join --name NAME` if you have not; your public key is {recipient})"),
            Error::KeyHeldByRemoved { env, .. } => format!("bring the removal in first (`git pull`, or merge the branch that has it; `git log -p .secrets/access.json` shows who took it out), or, if HEAD's history has it already (a revert, or an old access.json put back) or no branch has it (an edit made elsewhere), give `{env}` a new key with `git secrets rotate --env {env}` (the removed member stays out; to read again they join with a new identity). An edit already in the work tree stays there: move the file aside (`mv FILE FILE.mine && git checkout -- FILE`), merge, then put the values back with `git secrets import --file FILE.mine`"),
            Error::KeyNotDescended { env, .. } => format!("merge the branch that rotated `{env}` (`git merge main`, or `git pull`), or restore .secrets/access.json from it (`git checkout main -- .secrets/access.json`); `git log -p .secrets/access.json` shows who changed it"),
            Error::LineageBroken { env, former, .. } => format!("`git log -p .secrets/access.json` shows who changed it. You were given key {former}, so you can repair it: put back .secrets from before the change (`git checkout COMMIT -- .secrets`, COMMIT being the last commit with key {former}; values set since must be set again), then `git secrets rotate --env {env}`, which records key {former} as left out on purpose so that every clone accepts the new key (and gives it only to members that key was given to as well); if the keys were made anew on purpose, the rotation alone does that"),
            Error::KeysReplaced { env } => format!("see who changed it with `git log -p .secrets/access.json`; if `{env}` was re-created on purpose, `git secrets env trust {env}` accepts its new keys (then `git secrets unlock`)"),
            Error::UnknownEnv { name, .. } => format!("use one of the known environments, or add it with `git secrets env add {name}`"),
            Error::UnknownScopeWord { word: Some(w), services, .. } if services.contains(w) => format!("write the service before the environment: `{w} ENV KEY`, or `-s {w} -e ENV`"),
            Error::UnknownScopeWord { .. } => "check the spelling; a new service is created only with `-s/--service NAME`".into(),
            Error::BadKeyName { .. } => "variable names are letters, digits and `_`, not starting with a digit (e.g. DATABASE_URL); give the key and its value as two words, `git secrets set KEY VALUE`, or leave the value out to type it at a hidden prompt".into(),
            Error::TokenLikeValue { key, .. } => format!("if it was copied from an encrypted file, set the real value instead; if the value really starts with `gs1:`, write it quoted in a dotenv file (the unlocked scope file, or a file you import): {key}=\"gs1:…\" is never taken for a sealed value"),
            Error::KeyNotFound { .. } => "`git secrets get` lists the keys of a scope".into(),
            Error::Usage { hint, .. } => return hint.clone(),
            Error::Refused { hint, .. } => hint.clone(),
            Error::Git { .. } | Error::Io { .. } => return None,
        })
    }
}
