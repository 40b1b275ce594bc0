//! How the merge drivers write a conflict: git's markers, their size (`%L`, the
//! `conflict-marker-size` attribute), the labels git gives each side (`%X`, `%S`, `%Y`)
//! and the conflict style (`merge.conflictStyle`, or `--conflict=` of `git checkout` and
//! `git restore`), so that a conflict in a secret file reads like one git made itself.
//!
//! With `diff3` and `zdiff3` a conflict also holds the common ancestor's version between
//! `|||||||` and `=======`: what both sides changed from. Everything that reads a
//! conflict takes it as one more run between markers ([`crate::envfile::conflict_parts`]):
//! sealed and opened like the sides, in neither side for [`crate::envfile::conflict_sides`].

use crate::git::Repo;

/// git's conflict styles.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Style {
    /// Ours and theirs (git's default).
    #[default]
    Merge,
    /// Ours, the base, theirs.
    Diff3,
    /// `diff3`, with the lines that open and close both sides alike moved out of the
    /// conflict.
    Zdiff3,
}

impl Style {
    /// The style git calls `name`; `None` for one it does not know (git then refuses the
    /// configuration itself, or, for `--conflict=`, the command).
    pub fn named(name: &str) -> Option<Style> {
        match name.trim().to_ascii_lowercase().as_str() {
            "merge" => Some(Style::Merge),
            "diff3" => Some(Style::Diff3),
            "zdiff3" => Some(Style::Zdiff3),
            _ => None,
        }
    }

    /// The style the git command that started this process writes its own conflicts in:
    /// the `--conflict=STYLE` of a `git checkout` or `git restore` that recreates a
    /// conflict, else `merge.conflictStyle` as git reads it for this repository (its
    /// configuration files, and `git -c`, which git passes on to the driver in its
    /// environment). git hands a merge driver neither.
    pub fn for_repo(repo: &Repo) -> Style {
        crate::filter::conflict_style_given()
            .or_else(|| {
                repo.config_get_any("merge.conflictStyle")
                    .and_then(|s| Style::named(&s))
            })
            .unwrap_or_default()
    }

    /// The option that makes `git merge-file` write this style (it reads no
    /// configuration for it).
    pub fn merge_file_option(self) -> Option<&'static str> {
        match self {
            Style::Merge => None,
            Style::Diff3 => Some("--diff3"),
            Style::Zdiff3 => Some("--zdiff3"),
        }
    }
}

/// The markers of one merge: their size, the three labels and the style.
#[derive(Clone, Debug)]
pub struct Markers<'a> {
    pub size: usize,
    pub ours: &'a str,
    pub base: &'a str,
    pub theirs: &'a str,
    pub style: Style,
}

impl<'a> Markers<'a> {
    /// git's default markers (size 7, style `merge`) with these labels.
    pub fn new(ours: &'a str, base: &'a str, theirs: &'a str) -> Markers<'a> {
        Markers {
            size: 7,
            ours,
            base,
            theirs,
            style: Style::Merge,
        }
    }

    /// One conflict as lines (each with its line ending): `ours` and `theirs` between
    /// markers, and `base` too in the `diff3` styles. `zdiff3` moves the lines both sides
    /// open and close with out of the conflict, as git does.
    pub fn conflict<S: AsRef<str>>(&self, ours: &[S], base: &[S], theirs: &[S]) -> Vec<String> {
        let own = |lines: &[S]| lines.iter().map(|l| l.as_ref().to_owned()).collect();
        let (mut head, mut tail) = (0, 0);
        if self.style == Style::Zdiff3 {
            let same = |a: &S, b: &S| a.as_ref() == b.as_ref();
            let shorter = ours.len().min(theirs.len());
            while head < shorter && same(&ours[head], &theirs[head]) {
                head += 1;
            }
            while tail < shorter - head
                && same(
                    &ours[ours.len() - 1 - tail],
                    &theirs[theirs.len() - 1 - tail],
                )
            {
                tail += 1;
            }
        }
        let mut out: Vec<String> = own(&ours[..head]);
        out.push(self.line('<', self.ours));
        out.extend(own(&ours[head..ours.len() - tail]));
        if self.style != Style::Merge {
            out.push(self.line('|', self.base));
            out.extend(own(base));
        }
        out.push(format!("{}\n", "=".repeat(self.size)));
        out.extend(own(&theirs[head..theirs.len() - tail]));
        out.push(self.line('>', self.theirs));
        out.extend(own(&ours[ours.len() - tail..]));
        out
    }

    fn line(&self, c: char, label: &str) -> String {
        format!("{} {label}\n", c.to_string().repeat(self.size))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_style_as_git_writes_it() {
        let mut m = Markers::new("HEAD", "1a2b3c4", "topic");
        let (o, b, t) = (["A=x\n"], ["A=1\n"], ["A=y\n"]);
        assert_eq!(
            m.conflict(&o, &b, &t).concat(),
            "<<<<<<< HEAD\nA=x\n=======\nA=y\n>>>>>>> topic\n"
        );
        m.style = Style::Diff3;
        m.size = 9;
        assert_eq!(
            m.conflict(&o, &b, &t).concat(),
            "<<<<<<<<< HEAD\nA=x\n||||||||| 1a2b3c4\nA=1\n=========\nA=y\n>>>>>>>>> topic\n"
        );
        // An empty base (a key both sides added) still has its marker.
        assert_eq!(
            m.conflict(&o, &[] as &[&str], &t).concat(),
            "<<<<<<<<< HEAD\nA=x\n||||||||| 1a2b3c4\n=========\nA=y\n>>>>>>>>> topic\n"
        );
    }

    #[test]
    fn zdiff3_moves_the_lines_both_sides_share_out() {
        let mut m = Markers::new("o", "b", "t");
        m.style = Style::Zdiff3;
        let (o, b, t) = (
            ["# x\n", "A=1\n", "C=3\n"],
            ["A=1\n", "C=3\n"],
            ["# y\n", "A=1\n", "C=3\n"],
        );
        assert_eq!(
            m.conflict(&o, &b, &t).concat(),
            "<<<<<<< o\n# x\n||||||| b\nA=1\nC=3\n=======\n# y\n>>>>>>> t\nA=1\nC=3\n"
        );
        let (o, t) = (["A=1\n", "B=2\n"], ["A=1\n", "B=3\n", "B=2\n"]);
        assert_eq!(
            m.conflict(&o, &b, &t).concat(),
            "A=1\n<<<<<<< o\n||||||| b\nA=1\nC=3\n=======\nB=3\n>>>>>>> t\nB=2\n"
        );
        assert_eq!(Style::named("zDiff3"), Some(Style::Zdiff3));
        assert_eq!(Style::named("diff2"), None);
    }
}
