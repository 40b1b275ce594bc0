//! End-to-end tests: the built `git-secrets` binary driven through the real `git`, each
//! test in its own temporary HOME with a hermetic git configuration.

mod common;

// Values handed to programs and people: set's words, references, export/get round trips.
mod values;
// The shell's default forms in references (`${NAME:-word}` …) through run and export.
mod shell_forms;
// The filter: git add/commit/checkout/clone/worktree through clean and smudge.
mod filter;
// The filter sealing the next file while git works on this one.
mod ahead;
// The everyday commands: set/get/unset/run/import/export/sync/env, scopes, nesting.
mod commands;
// track: whole files (binary too) sealed by the filter, git-crypt style.
mod track;
// unlock, lock, status, identity handling.
mod clone_state;
// doctor: each problem with its fix, and --fix repairing what needs no decision.
mod doctor;
// Bad input: each gets one clear error and changes nothing.
mod bad_input;
// The pre-commit/pre-merge-commit/pre-applypatch and commit-msg hooks: what they block and let through.
mod hooks;
// Installing the hooks beside others (husky, lefthook, core.hooksPath) and removing them.
mod hooks_install;
// `git secrets check [REV-RANGE]` over commits, trees, blobs and messages, with and without an identity.
mod hooks_check;
// The pre-push hook over the commits being pushed, and post-rewrite's warning.
mod hooks_push;
// Team access: join, approve, remove with rotation, CI keys, crash safety, merges.
mod team;
// access.json edited by hand: nobody without a key gets one through a routine command.
mod forged_access;
// A value sealed under a retired key (a removed member's push): not passed on unreviewed.
mod unverified;
// access.json's key chain edited by hand: a link that does not open, a chain grown again.
mod forged_chain;
// The repair of a forged chain: a rotation carries over only who the real keys granted.
mod forged_repair;
// A key recorded as left out: the clone's memory accepts it only when it opens.
mod left_out;
// Against a rewritten access.json or config.toml: the clone's memory of keys, HEAD's history.
mod history;
// A shallow clone: what reads the history of access.json refuses until it is fetched.
mod shallow;
// A conflict in a secret file in git's conflict style (diff3, zdiff3), base section and all.
mod conflict_style;
// A key each branch added in a different place: no value picked in silence by a line merge.
mod doubled_merge;
// The key-level merge of changes that are not values: a final newline, a comment above
// a deleted key, keys added in a row.
mod merge_edges;
// `env del` on one branch, values set in that environment on another, merged.
mod env_del_merge;
// `env rename` on one branch, an edit of the old name on another, merged.
mod rename_merge;
// `env rename`, then `env add` of the old name, merged with an edit of the old name.
mod reuse_merge;
// Member names printed safely; recipients compared by key (SSH comment, case).
mod names;
// The fsmonitor hook: status after a touch without the filter, no change hidden.
mod fsmonitor;
// The masked diff driver (textconv) and `git secrets diff`.
mod diff;
// The masked diff's cache, filled by unlock for the history.
mod diff_cache;
// Secret files through merge, rebase, cherry-pick, revert, stash, pull; clones, worktrees, sparse and CRLF checkouts.
mod workflows;
// A sparse checkout that leaves `.secrets/` out: read from git, never written.
mod sparse;
// Commands cut short: temporary files left in the identity folder and the state
// directory, a commit while an interrupted environment change waits.
mod crash;
// At a terminal: confirmation before revealing, the hidden value prompt.
mod terminal;
// Plaintext leaks by other routes: values escaped in other files, attribute overrides.
mod leaks;
// Values in the encodings other tools give them: URL encoding, hex, wrapped base64.
mod leaks_encodings;
// Scale and odd input: large scopes, values over the system's limits, odd environments.
mod scale;
