#!/usr/bin/env python3
"""Benchmark of the pre-commit hook (python3 standard library only).

Builds an unlocked repository of 1000 scope files (50 services x 20 environments, 20 keys
each) and 10,000 other files, commits it, then stages 10 files (5 secret files with a
changed value, 5 other text files with a new line) and times the installed
`.git/hooks/pre-commit` (the sh shim and `git secrets hook pre-commit`, as git runs it),
BENCH_RUNS times (default 21), and prints the median. The target is <= 50 ms.

It also times the commit-msg hook, which searches the message for every value this
identity can read (so its cost follows the number of scope files).

To show that the cost follows the staged content and not the repository, it also times:
  secrets-only  only the 5 secret files staged (encrypted blobs: no value search)
  small-repo    the same 10 files staged in a repository of 10 scope files and 100 others
The value search (check 4) reads every scope file this identity can read, so it grows with
the number of secret files, not with the other files of the repository.

Everything runs in a temporary directory with its own HOME, XDG config and git config
(see bench.py). A benchmark, not a test: exits 0 whatever the figures, unless --check
(then 1 when the target is missed); 2 when something does not work (the hook does not
pass the clean staged files, or does not block a plaintext .env).

Usage: bench/hooks.py [--bin PATH] [--runs N] [--keep] [--check]
"""

import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import (BenchError, common_args, declare_services, env_names,  # noqa: E402
                   run, scratch, write_scopes)

TARGET_MS = 50.0


def parse_args():
    return common_args(__doc__, 21).parse_args()


def write_others(root, n):
    """n ordinary text files, 100 to a directory."""
    for i in range(n):
        d = os.path.join(root, "src", f"mod{i // 100:03d}")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, f"file{i:05d}.txt"), "w") as f:
            f.write(f"// file {i}\nfn f{i}() -> u32 {{ {i} }}\n" * 20)


def make_repo(tmp, name, bin_path, env, services, envs, keys, others):
    repo = os.path.join(tmp, name)
    os.makedirs(repo)
    run(["git", "init", "-q"], repo, env)
    env_list = env_names(envs)
    svc = [f"svc{i}" for i in range(services)]
    run([bin_path, "init", "--envs", ",".join(env_list)], repo, env)
    write_scopes(repo, svc, env_list, keys)
    declare_services(repo, svc)
    write_others(repo, others)
    run(["git", "add", "-A"], repo, env)
    run(["git", "commit", "-q", "-m", "bench: initial"], repo, env)
    return repo, svc, env_list


def stage(repo, env, svc, env_list, secret_files, other_files, round_no):
    """Changes and stages `secret_files` scope files and `other_files` text files."""
    paths = []
    for i in range(secret_files):
        p = os.path.join(".secrets", svc[i % len(svc)], f"{env_list[i % len(env_list)]}.env")
        with open(os.path.join(repo, p), "a") as f:
            f.write(f"BENCH_NEW_{round_no}_{i}=changed-value-{round_no}-{i}-abcdef\n")
        paths.append(p)
    for i in range(other_files):
        p = os.path.join("src", "mod000", f"file{i:05d}.txt")
        with open(os.path.join(repo, p), "a") as f:
            f.write(f"// edit {round_no}\n")
        paths.append(p)
    run(["git", "add", "--", *paths], repo, env)


def time_hook(repo, env, runs, name="pre-commit", args=()):
    hook = os.path.join(repo, ".git", "hooks", name)
    if not os.access(hook, os.X_OK):
        raise BenchError(f"{hook} is not installed")
    # Let the writes of the setup reach the disk first: writeback in the background
    # otherwise lands in the timings.
    os.sync()
    time.sleep(1)
    times = []
    for _ in range(runs + 1):
        t0 = time.perf_counter()
        r = subprocess.run([hook, *args], cwd=repo, env=env, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        t = time.perf_counter() - t0
        if r.returncode != 0:
            raise BenchError(f"the {name} hook blocked clean work:\n" + r.stderr.decode(errors="replace"))
        times.append(t)
    return statistics.median(times[1:]) * 1000  # the first run warms the caches


def must_block(repo, env):
    """The hook must block a plaintext .env, or the figures mean nothing."""
    with open(os.path.join(repo, ".env"), "w") as f:
        f.write("KEY=plaintext-value\n")
    run(["git", "add", "-f", ".env"], repo, env)
    r = subprocess.run([os.path.join(repo, ".git", "hooks", "pre-commit")], cwd=repo, env=env,
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    run(["git", "rm", "-q", "--cached", ".env"], repo, env)
    if r.returncode == 0 or b".env" not in r.stderr:
        raise BenchError("the hook did not block a staged plaintext .env")


def main():
    a = parse_args()
    try:
        with scratch(a, "git-secrets-hook-bench-") as (bin_path, tmp, env):
            print("setting up 1000 scope files and 10,000 other files ...", file=sys.stderr)
            big, svc, envs = make_repo(tmp, "big", bin_path, env, 50, 20, 20, 10000)
            small, ssvc, senvs = make_repo(tmp, "small", bin_path, env, 1, 10, 20, 100)
            must_block(big, env)
            results = []
            stage(big, env, svc, envs, 5, 5, 1)
            results.append(("10 staged (5 secret, 5 other), 1000+10000 files", time_hook(big, env, a.runs)))
            run(["git", "reset", "-q"], big, env)
            run(["git", "checkout", "-q", "--", "."], big, env)
            stage(big, env, svc, envs, 5, 0, 2)
            results.append(("5 secret files staged, 1000+10000 files", time_hook(big, env, a.runs)))
            stage(small, env, ssvc, senvs, 5, 5, 1)
            results.append(("10 staged (5 secret, 5 other), 10+100 files", time_hook(small, env, a.runs)))
            message = os.path.join(tmp, "message.txt")
            with open(message, "w") as f:
                f.write("Load the payments configuration from the environment\n")
            commit_msg = time_hook(big, env, a.runs, "commit-msg", (message,))
    except BenchError as e:
        print(f"bench: {e}", file=sys.stderr)
        return 2
    print(f"pre-commit hook, median of {a.runs} runs (target <= {TARGET_MS:.0f} ms for the first):")
    for label, ms in results:
        print(f"  {label:<52} {ms:7.1f} ms")
    print(f"commit-msg hook (searches the message for every value), 1000 scope files {commit_msg:7.1f} ms")
    missed = results[0][1] > TARGET_MS
    print("target met" if not missed else "TARGET MISSED")
    return 1 if (a.check and missed) else 0


if __name__ == "__main__":
    sys.exit(main())
