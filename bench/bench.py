#!/usr/bin/env python3
"""Benchmark of git-secrets against plain git (python3 standard library only).

Builds a repository of 1000 scope files (50 services x 20 environments) of 20 keys each,
and a plain copy of the same plaintext with no filter (no .gitattributes, no filter
configured). Then times, BENCH_RUNS times each (default 5), interleaving the two:

  add     `git add -A` in a fresh repository
  status  `git status` after touching every file of the work tree (then checks that an
          edit after a touch is still seen: a status that misses it is no figure)
  clone   a fresh `git clone` + `git secrets unlock`, against a plain `git clone`

With --noop-filter, three floors can be timed too (bench/bench.sh times them all):

  floor      `git status` after touch through a filter process that does nothing
  addfloor   `git add -A` through a filter process that does nothing
  addsealed  `git add -A` through a filter process that answers each file at once with
             the sealed bytes git-secrets gave for it: what git itself spends storing them

  addmin     the same, answering with the smallest sealed form a per-value AEAD could
             have: each comment and value replaced by a token of a 16-byte nonce, the
             value unpadded and a 16-byte tag (random bytes, base64url), the key names
             kept: the floor of any format of sealed values behind git's filter protocol

And one floor needs no filter at all:

  addstored  `git add -A` of a work tree that already holds the sealed bytes, with no
             filter configured: git storing the sealed form, without the protocol

It prints the median of each, the ratio and the target (add, status <= 1.5x; clone +
unlock <= 2x). Everything runs in a temporary directory with its own HOME, XDG config,
git global config and no system config, so neither the user's identity nor their git
settings are touched or used.

This is a benchmark, not a test: it exits 0 whatever the figures are, unless --check is
given (then 1 when a target is missed). It exits 2 when something does not work at all
(a command fails, or the filter did not encrypt), since the figures would mean nothing.

Usage: bench/bench.py [--bin PATH] [--runs N] [--services N] [--envs N] [--keys N]
                      [--ops add,status,clone] [--json FILE] [--keep] [--check]
"""

import argparse
import contextlib
import json
import os
import platform
import random
import shlex
import shutil
import statistics
import string
import subprocess
import sys
import tempfile
import time

TARGETS = {"add": 1.5, "addfloor": None, "addsealed": None, "addmin": None, "addstored": None, "status": 1.5,
           "clone": 2.0, "floor": None}
LABELS = {
    "add": "git add -A (fresh repo)",
    "status": "git status after touch",
    "clone": "clone (+ unlock)",
    "floor": "status, no-op filter",
    "addfloor": "add -A, no-op filter",
    "addsealed": "add -A, sealed replay",
    "addstored": "add -A, sealed, no filter",
    "addmin": "add -A, smallest tokens",
}
NOTES = {
    "addfloor": "(no-op filter in the git-secrets column)",
    "addsealed": "(replay filter in the git-secrets column)",
    "addstored": "(sealed files, no filter, in the git-secrets column)",
    "addmin": "(replay filter of the smallest tokens in the git-secrets column)",
    "floor": "(no-op filter in the git-secrets column)",
}
BASE_ENVS = ["development", "test", "production", "staging"]


class BenchError(Exception):
    pass


def common_args(doc, default_runs):
    """The options every benchmark script takes: --bin, --runs, --keep, --check."""
    p = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    p.add_argument("--bin", default=os.environ.get("GIT_SECRETS_BIN", "git-secrets"),
                   help="git-secrets binary (a path, or a name on PATH; default $GIT_SECRETS_BIN or git-secrets)")
    p.add_argument("--runs", type=int, default=int(os.environ.get("BENCH_RUNS", str(default_runs))),
                   help=f"runs per measurement (default $BENCH_RUNS or {default_runs})")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory")
    p.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    return p


def resolve_bin(name):
    """The git-secrets binary: a path, or a name looked up on PATH."""
    path = shutil.which(name) if os.sep not in name else os.path.abspath(name)
    if not path or not os.access(path, os.X_OK):
        raise BenchError(f"git-secrets binary not found: {name} "
                         "(build it with `cargo build --release -p git-secrets`, or set GIT_SECRETS_BIN)")
    return path


@contextlib.contextmanager
def scratch(args, prefix):
    """The binary, a temporary directory and a hermetic environment in it; the directory
    is removed afterwards unless --keep."""
    bin_path = resolve_bin(args.bin)
    tmp = tempfile.mkdtemp(prefix=prefix)
    try:
        yield bin_path, tmp, hermetic_env(tmp, bin_path)
    finally:
        if args.keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def parse_args():
    p = common_args(__doc__, 5)
    p.add_argument("--services", type=int, default=50, help="services (default 50)")
    p.add_argument("--envs", type=int, default=20, help="environments per service (default 20)")
    p.add_argument("--keys", type=int, default=20, help="keys per scope file (default 20)")
    p.add_argument("--ops", default="add,status,clone",
                   help="operations to run (default add,status,clone; `floor` and `addfloor` also time "
                        "`git status` after touch and `git add -A` through a filter process that does "
                        "nothing, and `addsealed` `git add -A` through one that answers at once with "
                        "the sealed bytes git-secrets gave; these need --noop-filter; `addstored` "
                        "`git add -A` of the sealed bytes with no filter at all)")
    p.add_argument("--noop-filter", default=None,
                   help="the bench/noop-filter binary, for the `floor`, `addfloor` and `addsealed` operations")
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON to FILE")
    a = p.parse_args()
    a.ops = [o.strip() for o in a.ops.split(",") if o.strip()]
    for o in a.ops:
        if o not in TARGETS:
            p.error(f"unknown operation {o!r} (known: {', '.join(TARGETS)})")
    if a.runs < 1 or a.services < 1 or a.envs < 1 or a.keys < 1:
        p.error("--runs, --services, --envs and --keys must be at least 1")
    return a


# ---------------------------------------------------------------- environment

def hermetic_env(tmp, bin_path):
    """A process environment with nothing of the user's git or git-secrets setup."""
    home = os.path.join(tmp, "home")
    os.makedirs(home)
    gitconfig = os.path.join(tmp, "gitconfig")
    with open(gitconfig, "w") as f:
        f.write(
            "[user]\n\tname = Bench\n\temail = bench@example.invalid\n"
            "[init]\n\tdefaultBranch = main\n"
            "[gc]\n\tauto = 0\n"
            "[maintenance]\n\tauto = false\n"
            "[advice]\n\tdetachedHead = false\n"
        )
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("GIT_") and k not in ("XDG_CONFIG_HOME",)}
    env.update({
        "HOME": home,
        "XDG_CONFIG_HOME": os.path.join(home, ".config"),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": gitconfig,
        "GIT_TERMINAL_PROMPT": "0",
        "LC_ALL": "C",
        # `git secrets` finds the binary under test first.
        "PATH": os.path.dirname(bin_path) + os.pathsep + os.environ.get("PATH", ""),
    })
    return env


def run(cmd, cwd, env, stdin=subprocess.DEVNULL, data=None):
    """Runs `cmd` (feeding it `data` when given) and returns its stdout; fails loudly."""
    io = {"input": data} if data is not None else {"stdin": stdin}
    r = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **io)
    if r.returncode != 0:
        err = r.stderr.decode("utf-8", "replace").strip()[-2000:]
        raise BenchError(f"`{' '.join(cmd)}` failed in {cwd} (exit {r.returncode}):\n{err}")
    return r.stdout


def settle():
    """Writes back what earlier steps left in the page cache, so that a disk flushing the
    last run's files does not land in the next run's time (a no-op on a RAM disk)."""
    os.sync()


def timed(cmds, cwd, env):
    """Runs the commands one after another and returns the wall time of all of them."""
    t0 = time.perf_counter()
    for cmd in cmds:
        run(cmd, cwd, env)
    return time.perf_counter() - t0


# ---------------------------------------------------------------- content

def env_names(n):
    names = BASE_ENVS[:n]
    names += [f"env{i:02d}" for i in range(len(names), n)]
    return names


def scope_text(service, env, keys):
    """A plausible dotenv file: a comment, a blank line, and a mix of value styles."""
    rng = random.Random(f"{service}/{env}")
    alnum = string.ascii_letters + string.digits

    def word(n):
        return "".join(rng.choice(alnum) for _ in range(n))

    lines = [f"# {service} / {env}: generated by bench/bench.py", ""]
    for i in range(keys):
        key = f"SECRET_{i:02d}"
        style = i % 5
        if style == 0:
            lines.append(f"{key}={word(24)}")
        elif style == 1:
            lines.append(f'{key}="{word(8)} {word(12)}"')
        elif style == 2:
            lines.append(f"{key}='{word(10)}#{word(10)}' # inline comment")
        elif style == 3:
            lines.append(f"export {key}={word(40)}")
        else:
            lines.append(f"{key}=postgres://{word(8)}:{word(32)}@db-{word(6)}.internal:5432/{word(8)}")
    return "\n".join(lines) + "\n"


def write_scopes(root, services, envs, keys):
    n = 0
    for s in services:
        d = os.path.join(root, ".secrets", s)
        os.makedirs(d, exist_ok=True)
        for e in envs:
            with open(os.path.join(d, f"{e}.env"), "w") as f:
                f.write(scope_text(s, e, keys))
            n += 1
    return n


def declare_services(root, services):
    """Replaces `services = [...]` in .secrets/config.toml (or appends it)."""
    import re
    path = os.path.join(root, ".secrets", "config.toml")
    with open(path) as f:
        text = f.read()
    line = "services = [" + ", ".join(f'"{s}"' for s in sorted(services)) + "]\n"
    pattern = re.compile(r"^services\s*=\s*\[[^\]]*\]\s*\n?", re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: line, text, count=1)
    else:
        if text and not text.endswith("\n"):
            text += "\n"
        text += line
    try:
        import tomllib
        tomllib.loads(text)
    except ImportError:
        pass
    with open(path, "w") as f:
        f.write(text)


def copy_tree(src, dst, skip=()):
    """Copies the work tree of src (not .git, not the names in skip) into dst."""
    skip = set(skip) | {".git"}
    for name in os.listdir(src):
        if name in skip:
            continue
        s, d = os.path.join(src, name), os.path.join(dst, name)
        if os.path.isdir(s):
            shutil.copytree(s, d)
        else:
            shutil.copy2(s, d)


def work_files(root):
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        if ".git" in dirnames:
            dirnames.remove(".git")
        out.extend(os.path.join(dirpath, f) for f in filenames)
    return out


def local_config(repo, env, pattern):
    """(key, value) pairs of the repository's local config whose keys match pattern."""
    r = subprocess.run(["git", "config", "--local", "-z", "--get-regexp", pattern],
                       cwd=repo, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if r.returncode not in (0, 1):
        raise BenchError(f"git config --get-regexp failed: {r.stderr.decode(errors='replace')}")
    pairs = []
    for item in r.stdout.split(b"\0"):
        if item:
            key, _, value = item.partition(b"\n")
            pairs.append((key.decode(), value.decode()))
    return pairs


def is_encrypted_blob(text, plaintext_sample):
    return text.startswith("#gs1:") and "gs1:" in text and plaintext_sample not in text


# ---------------------------------------------------------------- the benchmark

class Bench:
    def __init__(self, args, tmp):
        self.args = args
        self.tmp = tmp
        self.bin = resolve_bin(args.bin)
        self.env = hermetic_env(tmp, self.bin)
        self.services = [f"svc{i}" for i in range(args.services)]
        self.envs = env_names(args.envs)
        self.secrets = os.path.join(tmp, "secrets")  # filter on, committed
        self.plain = os.path.join(tmp, "plain")  # no filter, committed
        self.sample = f".secrets/{self.services[0]}/{self.envs[0]}.env"
        self.sample_value = None
        self.filter_config = []
        self.warnings = []

    def git(self, cwd, *args):
        return run(["git", *args], cwd, self.env)

    def setup(self):
        a = self.args
        print(f"setting up {a.services * a.envs} scope files ({a.services} services x {a.envs} environments, "
              f"{a.keys} keys each) in {self.tmp}", file=sys.stderr)
        os.makedirs(self.secrets)
        self.git(self.secrets, "init", "-q")
        run([self.bin, "init", "--envs", ",".join(self.envs)], self.secrets, self.env)
        self.files = write_scopes(self.secrets, self.services, self.envs, a.keys)
        declare_services(self.secrets, self.services)
        run([self.bin, "status"], self.secrets, self.env)  # the configuration loads
        with open(os.path.join(self.secrets, self.sample)) as f:
            self.sample_value = f.read().splitlines()[2].split("=", 1)[1]
        self.filter_config = local_config(self.secrets, self.env, r"^(filter|diff|merge)\.")
        if not any(k.startswith("filter.") for k, _ in self.filter_config):
            raise BenchError("`git secrets init` configured no filter in the repository")
        self.git(self.secrets, "add", "-A")
        self.check_staged(self.secrets)
        self.git(self.secrets, "commit", "-q", "-m", "bench: secrets")

        os.makedirs(self.plain)
        self.git(self.plain, "init", "-q")
        copy_tree(self.secrets, self.plain, skip=[".gitattributes"])
        self.git(self.plain, "add", "-A")
        self.git(self.plain, "commit", "-q", "-m", "bench: plain")
        self.bytes = sum(os.path.getsize(p) for p in work_files(self.plain) if p.endswith(".env"))

    def check_staged(self, repo):
        blob = self.git(repo, "cat-file", "blob", f":{self.sample}").decode("utf-8", "replace")
        if not is_encrypted_blob(blob, self.sample_value):
            raise BenchError(f"{self.sample} was staged without being encrypted: the filter is not working")

    def check_clean(self, repo, what):
        out = self.git(repo, "status", "--porcelain").decode("utf-8", "replace")
        if out.strip():
            n = len(out.strip().splitlines())
            msg = f"{what}: `git status` shows {n} changed path(s) where none should be"
            if msg not in self.warnings:
                self.warnings.append(msg)

    # Each op_* times one run of one mode ("plain" or "secrets") and returns seconds.

    def timed_fresh_add(self, name, prepare, after=None):
        """Times `git add -A` in a new repository that `prepare(dir)` fills, then runs
        `after(dir)` (untimed) and removes the repository."""
        d = os.path.join(self.tmp, name)
        os.makedirs(d)
        try:
            self.git(d, "init", "-q")
            prepare(d)
            settle()
            t = timed([["git", "add", "-A"]], d, self.env)
            if after:
                after(d)
            return t
        finally:
            shutil.rmtree(d, ignore_errors=True)

    def op_add(self, mode, i):
        def prepare(d):
            if mode == "secrets":
                copy_tree(self.secrets, d)
                for k, v in self.filter_config:
                    self.git(d, "config", "--local", k, v)
            else:
                copy_tree(self.secrets, d, skip=[".gitattributes"])
        check = self.check_staged if mode == "secrets" and i == 0 else None
        return self.timed_fresh_add(f"add-{mode}-{i}", prepare, check)

    def op_status(self, mode, i):
        repo = self.secrets if mode == "secrets" else self.plain
        now = time.time_ns()
        for p in work_files(repo):
            os.utime(p, ns=(now, now))
        t = timed([["git", "status", "--porcelain"]], repo, self.env)
        self.check_clean(repo, f"{mode} repository after touch")
        return t

    def op_clone(self, mode, i):
        src = self.secrets if mode == "secrets" else self.plain
        d = os.path.join(self.tmp, f"clone-{mode}-{i}")
        try:
            settle()
            t0 = time.perf_counter()
            run(["git", "clone", "-q", src, d], self.tmp, self.env)
            if mode == "secrets":
                run([self.bin, "unlock"], d, self.env)
            t = time.perf_counter() - t0
            if mode == "secrets":
                with open(os.path.join(d, self.sample)) as f:
                    if f.read().startswith("#gs1:"):
                        raise BenchError(f"after `git secrets unlock`, {self.sample} is still encrypted")
                self.check_clean(d, "clone after unlock")
            return t
        finally:
            shutil.rmtree(d, ignore_errors=True)

    def op_addfloor(self, mode, i):
        """`git add -A` in a fresh repository where every scope file goes through a filter
        process that returns its input: what the filter protocol alone adds to `git add`."""
        def prepare(d):
            copy_tree(self.plain, d)
            if mode == "secrets":
                self.route_to_noop_filter(d, "addfloor")
        return self.timed_fresh_add(f"addfloor-{mode}-{i}", prepare)

    def op_floor(self, mode, i):
        """`git status` after touch where every file goes through a filter process that
        returns its input: the cost of the filter protocol itself, with no work done."""
        repo = self.plain if mode == "plain" else self.floor
        now = time.time_ns()
        for p in work_files(repo):
            os.utime(p, ns=(now, now))
        return timed([["git", "status", "--porcelain"]], repo, self.env)

    def op_addsealed(self, mode, i):
        """`git add -A` in a fresh repository of plaintext scope files where a filter process
        answers each with the sealed bytes git-secrets gave for it, doing no work: what git
        itself spends storing the sealed form (three times the plaintext, and incompressible)."""
        def prepare(d):
            copy_tree(self.plain, d)
            if mode == "secrets":
                self.route_to_noop_filter(d, "addsealed", replay=self.replay)
        check = self.staged_as_sealed("the replay filter")
        return self.timed_fresh_add(f"addsealed-{mode}-{i}", prepare,
                                    check if mode == "secrets" and i == 0 else None)

    def op_addstored(self, mode, i):
        """`git add -A` in a fresh repository whose work tree already holds the sealed bytes
        git-secrets gave for each scope file, with no filter and no .gitattributes: what git
        spends storing the sealed form when no filter protocol is involved at all."""
        def prepare(d):
            copy_tree(self.plain, d)
            if mode == "secrets":
                for path, blob in self.sealed_blobs():
                    with open(os.path.join(d, path), "wb") as f:
                        f.write(blob)
        check = self.staged_as_sealed("the stored-form repository")
        return self.timed_fresh_add(f"addstored-{mode}-{i}", prepare,
                                    check if mode == "secrets" and i == 0 else None)

    def staged_as_sealed(self, what):
        """A check that the sample scope file was staged as git-secrets sealed it."""
        def check(d):
            got = self.git(d, "cat-file", "blob", f":{self.sample}")
            want = self.git(self.secrets, "cat-file", "blob", f"HEAD:{self.sample}")
            if got != want:
                raise BenchError(f"{what} staged {self.sample} other than git-secrets sealed it")
        return check

    def sealed_blobs(self):
        """(path, sealed bytes) of every committed scope file of the git-secrets repository."""
        if getattr(self, "sealed", None) is None:
            paths = [p for p in self.git(self.secrets, "ls-files", "-z", "--", "*.env").decode().split("\0") if p]
            batch = run(["git", "cat-file", "--batch"], self.secrets, self.env,
                        data="".join(f"HEAD:{p}\n" for p in paths).encode())
            self.sealed = []
            at = 0
            for p in paths:
                end = batch.index(b"\n", at)
                size = int(batch[at:end].split()[2])
                self.sealed.append((p, batch[end + 1:end + 1 + size]))
                at = end + 2 + size
        return self.sealed

    def setup_replay(self):
        """Writes every committed sealed scope file of the git-secrets repository to one
        file, in bench/noop-filter's --replay format."""
        self.replay = os.path.join(self.tmp, "replay")
        with open(self.replay, "wb") as out:
            for p, blob in self.sealed_blobs():
                name = p.encode()
                out.write(len(name).to_bytes(4, "little") + name + len(blob).to_bytes(4, "little") + blob)

    def op_addmin(self, mode, i):
        """`git add -A` through a filter process that answers each scope file at once with
        the smallest sealed form a format of sealed values could give it (see
        setup_min_replay): the floor of any such format over git's filter protocol."""
        def prepare(d):
            copy_tree(self.plain, d)
            if mode == "secrets":
                self.route_to_noop_filter(d, "addmin", replay=self.min_replay)
        def check(d):
            if not self.git(d, "cat-file", "blob", f":{self.sample}").startswith(b"#gs1:"):
                raise BenchError(f"the smallest-token replay filter did not answer for {self.sample}")
        return self.timed_fresh_add(f"addmin-{mode}-{i}", prepare,
                                    check if mode == "secrets" and i == 0 else None)

    def setup_min_replay(self):
        """Writes, for every scope file of the plain repository, the file with each
        comment and each value replaced by `gs1:` and the base64url of random bytes as
        many as a 16-byte nonce, the unpadded text and a 16-byte tag: less than any
        authenticated encryption of each value can store (no key id, no padding), in
        bench/noop-filter's --replay format."""
        import base64
        self.min_replay = os.path.join(self.tmp, "min-replay")
        rng = random.Random(0)
        with open(self.min_replay, "wb") as out:
            for path in sorted(work_files(self.plain)):
                if not path.endswith(".env"):
                    continue
                lines = []
                with open(path, "rb") as f:
                    for line in f.read().split(b"\n"):
                        if not line.strip():
                            lines.append(line)
                            continue
                        prefix, text = (b"#", line) if line.startswith(b"#") else line.split(b"=", 1)
                        prefix = prefix if prefix == b"#" else prefix + b"="
                        body = rng.randbytes(16 + len(text) + 16)
                        lines.append(prefix + b"gs1:" + base64.urlsafe_b64encode(body).rstrip(b"="))
                blob = b"\n".join(lines)
                name = os.path.relpath(path, self.plain).encode()
                out.write(len(name).to_bytes(4, "little") + name + len(blob).to_bytes(4, "little") + blob)

    def route_to_noop_filter(self, repo, op, replay=None):
        """Sends every .env file of `repo` through bench/noop-filter (with `--replay FILE`
        when `replay` is given)."""
        if not self.args.noop_filter:
            raise BenchError(f"the `{op}` operation needs --noop-filter (bench/bench.sh builds it)")
        with open(os.path.join(repo, ".gitattributes"), "w") as f:
            f.write("*.env filter=noop\n")
        command = shlex.quote(os.path.abspath(self.args.noop_filter))
        if replay:
            command += " --replay " + shlex.quote(replay)
        self.git(repo, "config", "filter.noop.process", command)
        self.git(repo, "config", "filter.noop.required", "true")

    def setup_floor(self):
        self.floor = os.path.join(self.tmp, "floor")
        os.makedirs(self.floor)
        self.git(self.floor, "init", "-q")
        copy_tree(self.plain, self.floor)
        self.route_to_noop_filter(self.floor, "floor")
        self.git(self.floor, "add", "-A")
        self.git(self.floor, "commit", "-q", "-m", "bench: floor")

    def measure(self, op):
        fn = getattr(self, f"op_{op}")
        if op == "floor":
            self.setup_floor()
        if op == "addsealed":
            self.setup_replay()
        if op == "addmin":
            self.setup_min_replay()
        if op in ("status", "floor"):  # the first status after commit refreshes the index: not timed
            for repo in (self.plain, self.secrets) + ((self.floor,) if op == "floor" else ()):
                self.git(repo, "status", "--porcelain")
        times = {"plain": [], "secrets": []}
        for i in range(self.args.runs):
            order = ("plain", "secrets") if i % 2 == 0 else ("secrets", "plain")
            for mode in order:
                times[mode].append(fn(mode, i))
            print(f"  {op}: run {i + 1}/{self.args.runs}", file=sys.stderr)
        if op == "status":
            self.check_sees_edit()
        return times

    def check_sees_edit(self):
        """A fast status that misses edits would be no figure at all: after touching every
        file and changing one value, `git status` must name exactly that file."""
        repo = self.secrets
        now = time.time_ns()
        for p in work_files(repo):
            os.utime(p, ns=(now, now))
        path = os.path.join(repo, self.sample)
        with open(path, "a") as f:
            f.write("BENCH_EDITED=1\n")
        out = self.git(repo, "status", "--porcelain").decode("utf-8", "replace")
        self.git(repo, "checkout", "--", self.sample)
        if out.strip() != f"M {self.sample}":
            raise BenchError(f"`git status` after an edit of {self.sample} showed:\n{out}")


def version(cmd, env):
    try:
        r = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        return r.stdout.decode().strip() or "?"
    except OSError:
        return "?"


def report(bench, results):
    a = bench.args
    print()
    print(f"git-secrets benchmark: {bench.files} scope files ({a.services} services x {a.envs} environments), "
          f"{a.keys} keys each, {bench.bytes / 1e6:.1f} MB of plaintext")
    print(f"{a.runs} run(s) per operation, median wall time; {version(['git', '--version'], bench.env)}; "
          f"{version([bench.bin, '--version'], bench.env)}; {platform.system()} {platform.machine()}, "
          f"{os.cpu_count()} CPU(s)")
    print()
    head = f"{'operation':<26} {'plain git':>11} {'git-secrets':>12} {'ratio':>7} {'target':>8}  result"
    print(head)
    print("-" * len(head))
    missed = []
    for op, times in results.items():
        p, s = statistics.median(times["plain"]), statistics.median(times["secrets"])
        ratio = s / p if p > 0 else float("inf")
        if TARGETS[op] is None:
            print(f"{LABELS[op]:<26} {p:>9.3f} s {s:>10.3f} s {ratio:>6.2f}x {'-':>8}  {NOTES[op]}")
            continue
        ok = ratio <= TARGETS[op]
        if not ok:
            missed.append(op)
        print(f"{LABELS[op]:<26} {p:>9.3f} s {s:>10.3f} s {ratio:>6.2f}x {'<= ' + str(TARGETS[op]) + 'x':>8}  "
              f"{'ok' if ok else 'MISSED'}")
    print()
    print("clone: a local `git clone` of a path (hardlinked objects), so the checkout dominates;"
          " git-secrets adds `git secrets unlock` in the new clone.")
    if "floor" in results and "status" in results:
        floor = statistics.median(results["floor"]["secrets"])
        ours = statistics.median(results["status"]["secrets"])
        print(f"status: a filter process that does nothing already takes {floor:.3f} s; git-secrets takes "
              f"{ours:.3f} s, {ours / floor:.2f}x that floor.")
    if "addfloor" in results and "add" in results:
        plain = statistics.median(results["addfloor"]["plain"])
        floor = statistics.median(results["addfloor"]["secrets"])
        ours = statistics.median(results["add"]["secrets"])
        print(f"add: a filter process that does nothing already takes {floor:.3f} s ({floor / plain:.2f}x plain); "
              f"git-secrets adds {ours - floor:.3f} s to that floor.")
    if "addsealed" in results and "add" in results:
        plain = statistics.median(results["addsealed"]["plain"])
        sealed = statistics.median(results["addsealed"]["secrets"])
        ours = statistics.median(results["add"]["secrets"])
        print(f"add: a filter process that answers at once with the sealed bytes takes {sealed:.3f} s "
              f"({sealed / plain:.2f}x plain): git storing the sealed form; git-secrets' own work adds "
              f"{ours - sealed:.3f} s to that.")
    if "addmin" in results:
        plain = statistics.median(results["addmin"]["plain"])
        least = statistics.median(results["addmin"]["secrets"])
        print(f"add: a filter process that answers at once with the smallest tokens any format of sealed values "
              f"could store takes {least:.3f} s ({least / plain:.2f}x plain): the floor of such a format.")
    if "addstored" in results:
        plain = statistics.median(results["addstored"]["plain"])
        stored = statistics.median(results["addstored"]["secrets"])
        print(f"add: with no filter at all, git storing the sealed bytes takes {stored:.3f} s "
              f"({stored / plain:.2f}x plain storing the plaintext).")
    for w in bench.warnings:
        print(f"warning: {w}")
    return missed


def main():
    args = parse_args()
    tmp = tempfile.mkdtemp(prefix="git-secrets-bench-")
    try:
        bench = Bench(args, tmp)
        bench.setup()
        results = {}
        for op in args.ops:
            results[op] = bench.measure(op)
        missed = report(bench, results)
        if args.json:
            with open(args.json, "w") as f:
                json.dump({
                    "files": bench.files, "services": args.services, "environments": args.envs,
                    "keys": args.keys, "runs": args.runs, "targets": TARGETS,
                    "results": {op: {"plain": t["plain"], "secrets": t["secrets"],
                                     "median_plain": statistics.median(t["plain"]),
                                     "median_secrets": statistics.median(t["secrets"])}
                                for op, t in results.items()},
                    "warnings": bench.warnings,
                }, f, indent=2)
        if args.keep:
            print(f"kept {tmp}", file=sys.stderr)
        return 1 if (args.check and missed) else 0
    except BenchError as e:
        print(f"bench: error: {e}", file=sys.stderr)
        if args.keep:
            print(f"kept {tmp}", file=sys.stderr)
        return 2
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
