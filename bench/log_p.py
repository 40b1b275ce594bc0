#!/usr/bin/env python3
"""Benchmark of `git log -p` over secret changes (python3 standard library only).

Builds an unlocked repository with 5 services x 2 environments of 20 keys each, then 100
commits that each change one value in two scope files (200 changed blobs), and times
`git log -p` over them:

  plain  `git log -p --no-textconv`: the same history with no diff driver
  cold   the masked diff with its cache dropped first (refs/notes/textconv/secrets):
         git starts the textconv once per blob, as on the first `git log -p`
  warm   the masked diff as configured by `unlock` (diff.secrets.cachetextconv=true),
         after one run has filled the cache: every later `git log -p`

Each is the median of BENCH_RUNS runs (default 11); ratios are against plain. The target
(issue 4) is <= 3x plain. It also checks the output is masked (no value, no token), so the
figures are of a working driver. A benchmark, not a test: exits 0 whatever the figures,
unless --check (then 1 when the warm target is missed); 2 when something does not work.

Usage: bench/log_p.py [--bin PATH] [--runs N] [--keep] [--check]
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import (BenchError, declare_services, env_names, hermetic_env,  # noqa: E402
                   run, write_scopes)

TARGET_RATIO = 3.0
COMMITS = 100


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bin", default=os.environ.get("GIT_SECRETS_BIN", "git-secrets"),
                   help="git-secrets binary (a path, or a name on PATH; default $GIT_SECRETS_BIN or git-secrets)")
    p.add_argument("--runs", type=int, default=int(os.environ.get("BENCH_RUNS", "11")),
                   help="runs per measurement (default $BENCH_RUNS or 11)")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory")
    p.add_argument("--check", action="store_true", help="exit 1 when the target is missed")
    return p.parse_args()


def make_history(tmp, bin_path, env):
    repo = os.path.join(tmp, "repo")
    os.makedirs(repo)
    run(["git", "init", "-q"], repo, env)
    envs = env_names(2)
    svc = [f"svc{i}" for i in range(5)]
    run([bin_path, "init", "--envs", ",".join(envs)], repo, env)
    write_scopes(repo, svc, envs, 20)
    declare_services(repo, svc)
    run(["git", "add", "-A"], repo, env)
    run(["git", "commit", "-q", "-m", "bench: initial"], repo, env)
    files = [os.path.join(".secrets", s, f"{e}.env") for s in svc for e in envs]
    for n in range(COMMITS):
        for f in (files[n % len(files)], files[(n + 3) % len(files)]):
            with open(os.path.join(repo, f), "a") as out:
                out.write(f"ROUND_{n}=log-bench-value-{n}-abcdef\n")
        run(["git", "add", "-A"], repo, env)
        run(["git", "commit", "-q", "-m", f"bench: change {n}"], repo, env)
    return repo


def median_time(cmd, repo, env, runs, before=None):
    times = []
    for _ in range(runs):
        if before:
            before()
        t0 = time.perf_counter()
        run(cmd, repo, env)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main():
    a = parse_args()
    bin_path = shutil.which(a.bin) if os.sep not in a.bin else os.path.abspath(a.bin)
    if not bin_path:
        print(f"bench: git-secrets binary not found: {a.bin}", file=sys.stderr)
        return 2
    tmp = tempfile.mkdtemp(prefix="git-secrets-log-bench-")
    try:
        env = hermetic_env(tmp, bin_path)
        print(f"setting up {COMMITS} commits of secret changes ...", file=sys.stderr)
        repo = make_history(tmp, bin_path, env)
        log = ["git", "log", "-p", f"-{COMMITS}"]
        out = run(log, repo, env).decode("utf-8", "replace")
        if "log-bench-value" in out or "gs1:" in out or "ROUND_99 = ********" not in out:
            raise BenchError("`git log -p` does not show the masked diff")

        def drop_cache():
            subprocess.run(["git", "update-ref", "-d", "refs/notes/textconv/secrets"],
                           cwd=repo, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        os.sync()
        time.sleep(1)
        plain = median_time(log + ["--no-textconv"], repo, env, a.runs)
        cold = median_time(log, repo, env, a.runs, before=drop_cache)
        run(log, repo, env)  # fills the cache
        warm = median_time(log, repo, env, a.runs)
    except BenchError as e:
        print(f"bench: {e}", file=sys.stderr)
        return 2
    finally:
        if a.keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"git log -p over {COMMITS} commits ({2 * COMMITS} changed secret blobs), "
          f"median of {a.runs} runs (target <= {TARGET_RATIO:.0f}x plain):")
    print(f"  {'plain (no diff driver)':<34} {plain * 1000:8.1f} ms")
    print(f"  {'masked, cache dropped (cold)':<34} {cold * 1000:8.1f} ms  {cold / plain:6.1f}x")
    print(f"  {'masked, cached (as configured)':<34} {warm * 1000:8.1f} ms  {warm / plain:6.1f}x")
    missed = warm / plain > TARGET_RATIO
    print("target met (cached)" if not missed else "TARGET MISSED")
    return 1 if (a.check and missed) else 0


if __name__ == "__main__":
    sys.exit(main())
