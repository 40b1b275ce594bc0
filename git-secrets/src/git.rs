//! Running the real `git` for what it owns: repository discovery, this clone's config,
//! attributes, and checking files out again through the filter.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::error::Error;

/// A git work tree.
#[derive(Clone, Debug)]
pub struct Repo {
    pub root: PathBuf,
}

fn run(dir: &Path, args: &[&str], input: Option<&[u8]>) -> Result<Vec<u8>, Error> {
    let mut cmd = Command::new("git");
    cmd.current_dir(dir)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd.stdin(if input.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    let mut child = cmd.spawn().map_err(|source| Error::Io {
        path: "git".into(),
        source,
    })?;
    if let Some(input) = input {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin is piped");
        stdin.write_all(input).map_err(|source| Error::Io {
            path: "git".into(),
            source,
        })?;
    }
    let out = child.wait_with_output().map_err(|source| Error::Io {
        path: "git".into(),
        source,
    })?;
    if !out.status.success() {
        return Err(Error::Git {
            args: args.join(" "),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    Ok(out.stdout)
}

impl Repo {
    /// The work tree that contains the current directory.
    pub fn discover() -> Result<Repo, Error> {
        let cwd = std::env::current_dir().map_err(|source| Error::Io {
            path: ".".into(),
            source,
        })?;
        let out =
            run(&cwd, &["rev-parse", "--show-toplevel"], None).map_err(|_| Error::NotARepo)?;
        let root = String::from_utf8_lossy(&out)
            .trim_end_matches(['\n', '\r'])
            .to_owned();
        if root.is_empty() {
            return Err(Error::NotARepo);
        }
        Ok(Repo {
            root: PathBuf::from(root),
        })
    }

    pub fn git(&self, args: &[&str]) -> Result<Vec<u8>, Error> {
        run(&self.root, args, None)
    }

    pub fn git_with_input(&self, args: &[&str], input: &[u8]) -> Result<Vec<u8>, Error> {
        run(&self.root, args, Some(input))
    }

    pub fn config_get(&self, key: &str) -> Option<String> {
        self.git(&["config", "--local", "--get", key])
            .ok()
            .map(|o| String::from_utf8_lossy(&o).trim().to_owned())
    }

    /// A config value from any level (local, global).
    pub fn config_get_any(&self, key: &str) -> Option<String> {
        self.git(&["config", "--get", key])
            .ok()
            .map(|o| String::from_utf8_lossy(&o).trim().to_owned())
    }

    pub fn config_set(&self, key: &str, value: &str) -> Result<(), Error> {
        self.git(&["config", "--local", key, value]).map(|_| ())
    }

    pub fn config_unset_section(&self, section: &str) -> Result<(), Error> {
        // Exit status 128 means the section did not exist: nothing to remove.
        match self.git(&["config", "--local", "--remove-section", section]) {
            Ok(_) => Ok(()),
            Err(Error::Git { .. })
                if self.config_get(&format!("{section}.process")).is_none()
                    && self.config_get(&format!("{section}.required")).is_none() =>
            {
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Tracked files routed through the `secrets` filter by .gitattributes.
    pub fn filtered_files(&self) -> Result<Vec<String>, Error> {
        let files = self.git(&["ls-files", "-z"])?;
        if files.is_empty() {
            return Ok(Vec::new());
        }
        let attrs = self.git_with_input(&["check-attr", "--stdin", "-z", "filter"], &files)?;
        // Output: path NUL attr NUL value NUL, repeated.
        let mut out = Vec::new();
        let fields: Vec<&[u8]> = attrs.split(|&b| b == 0).collect();
        for chunk in fields.chunks(3) {
            if let [path, _attr, value] = chunk {
                if *value == b"secrets" {
                    out.push(String::from_utf8_lossy(path).into_owned());
                }
            }
        }
        Ok(out)
    }

    /// Writes `paths` to the work tree again from the index, through the filter as now
    /// configured. The caller has checked that they hold no uncommitted changes.
    pub fn checkout_again(&self, paths: &[String]) -> Result<(), Error> {
        if paths.is_empty() {
            return Ok(());
        }
        // checkout-index skips a file whose stat data matches the index; an old mtime
        // makes git see it as changed, so it is written again through the filter.
        for p in paths {
            let path = self.root.join(p);
            if let Ok(f) = std::fs::File::options().write(true).open(&path) {
                let _ = f.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1));
            }
        }
        let mut input = Vec::new();
        for p in paths {
            input.extend_from_slice(p.as_bytes());
            input.push(0);
        }
        self.git_with_input(
            &["checkout-index", "--index", "--force", "-z", "--stdin"],
            &input,
        )?;
        Ok(())
    }

    /// Filtered files whose work-tree content differs from the index.
    pub fn modified(&self, paths: &[String]) -> Result<Vec<String>, Error> {
        if paths.is_empty() {
            return Ok(Vec::new());
        }
        let mut args = vec!["diff", "--name-only", "-z", "--"];
        args.extend(paths.iter().map(String::as_str));
        let out = self.git(&args)?;
        Ok(out
            .split(|&b| b == 0)
            .filter(|p| !p.is_empty())
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .collect())
    }

    /// Refreshes the index's stat data so files just rewritten show as unchanged.
    pub fn refresh_index(&self) -> Result<(), Error> {
        // Exit 1 just means some file is modified; that is not an error here.
        let _ = self.git(&["update-index", "-q", "--really-refresh"]);
        Ok(())
    }
}
