#!/usr/bin/env python3
"""Benchmark of git-secrets' team operations (issue "Team access"), python3 stdlib only.

  rotate   `git secrets rotate --env development` across 1000 scope files of 20 keys
           (1000 services, one environment), every file re-sealed in the index  (<= 2 s)
  approve  `git secrets member approve ID` in a repository with 100 members     (<= 0.2 s)

Each is run --runs times (default 5) and the median printed with its target. A
benchmark, not a test: run it with bench/team_bench.sh (which builds the release binary).
"""
import argparse, os, shutil, statistics, subprocess, sys, tempfile, time, json

def run(cmd, cwd, env, check=True):
    r = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if check and r.returncode != 0:
        sys.exit(f"bench: {' '.join(cmd)} failed:\n{r.stderr.decode()}")
    return r.stdout.decode()

def timed(cmd, cwd, env):
    t = time.perf_counter()
    run(cmd, cwd, env)
    return time.perf_counter() - t

def hermetic(tmp, home):
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(HOME=home, XDG_CONFIG_HOME=os.path.join(home, ".config"), GIT_CONFIG_NOSYSTEM="1",
               GIT_CONFIG_GLOBAL=os.path.join(tmp, "gitconfig"), LC_ALL="C")
    return env

def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin", required=True)
    p.add_argument("--runs", type=int, default=int(os.environ.get("BENCH_RUNS", "5")))
    p.add_argument("--files", type=int, default=1000)
    p.add_argument("--members", type=int, default=100)
    a = p.parse_args()
    bindir = os.path.dirname(os.path.abspath(a.bin))
    tmp = tempfile.mkdtemp(prefix="git-secrets-team-bench-")
    try:
        with open(os.path.join(tmp, "gitconfig"), "w") as f:
            f.write("[user]\n\tname = Bench\n\temail = bench@example.com\n[init]\n\tdefaultBranch = main\n")
        env = hermetic(tmp, os.path.join(tmp, "home"))
        env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
        repo = os.path.join(tmp, "repo")
        run(["git", "init", "-q", repo], tmp, env)
        run(["git", "secrets", "init"], repo, env)
        services = [f"svc{i:04d}" for i in range(a.files)]
        for s in services:
            os.makedirs(os.path.join(repo, ".secrets", s))
            with open(os.path.join(repo, ".secrets", s, "development.env"), "w") as f:
                for k in range(20):
                    f.write(f"KEY_{k:02d}=value-{s}-{k}-0123456789abcdef\n")
        cfg = os.path.join(repo, ".secrets", "config.toml")
        text = open(cfg).read()
        text = text.replace("services = []", "services = [" + ", ".join(f'"{s}"' for s in services) + "]")
        if "services = [" not in text:
            text += "services = [" + ", ".join(f'"{s}"' for s in services) + "]\n"
        open(cfg, "w").write(text)
        run(["git", "add", "-A"], repo, env)
        run(["git", "commit", "-q", "-m", "files"], repo, env)

        rot = []
        for _ in range(a.runs):
            rot.append(timed(["git", "secrets", "rotate", "--env", "development"], repo, env))
            run(["git", "commit", "-q", "-m", "rotate"], repo, env)
        status = run(["git", "status", "--porcelain"], repo, env)
        if status.strip():
            sys.exit(f"bench: after rotate + commit, git status is not clean:\n{status}")

        # Members: every one joins from its own HOME, then approvals are timed.
        ids = []
        for i in range(a.members + a.runs):
            e = hermetic(tmp, os.path.join(tmp, f"home-{i}"))
            e["PATH"] = env["PATH"]
            run(["git", "secrets", "join", "--name", f"member-{i:03d}"], repo, e)
        rows = json.loads(run(["git", "secrets", "member", "list", "--json"], repo, env))
        pending = [r["id"] for r in rows if r["status"] == "pending"]
        for pid in pending[: a.members - 1]:
            run(["git", "secrets", "member", "approve", pid, "--env", "development"], repo, env)
        app = []
        for pid in pending[a.members - 1 : a.members - 1 + a.runs]:
            app.append(timed(["git", "secrets", "member", "approve", pid, "--env", "development"], repo, env))
        active = sum(1 for r in json.loads(run(["git", "secrets", "member", "list", "--json"], repo, env)) if r["status"] == "active")

        print()
        print(f"git-secrets team benchmark; {a.runs} run(s), median wall time")
        print(f"{'operation':<52} {'median':>9} {'target':>8}  result")
        print("-" * 80)
        for label, times, target in [
            (f"rotate one environment, {a.files} files x 20 keys", rot, 2.0),
            (f"member approve, {active} active members", app, 0.2),
        ]:
            m = statistics.median(times)
            print(f"{label:<52} {m:>7.3f} s {'<= ' + str(target) + ' s':>8}  {'ok' if m <= target else 'MISSED'}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

if __name__ == "__main__":
    main()
