#!/usr/bin/env bash
# Benchmark git-secrets against plain git: 1000 scope files of 20 keys each; `git add -A`,
# `git status` after touching every file, and clone + unlock. Prints medians and ratios.
#
#   bench/bench.sh                   # builds target/release/git-secrets if missing or stale
#   BENCH_RUNS=9 bench/bench.sh      # more runs per operation (default 5)
#   GIT_SECRETS_BIN=git-secrets bench/bench.sh   # an installed binary from PATH instead
#   bench/bench.sh --help            # the options of bench/bench.py (--json, --keep, --check, …)
#
# A benchmark, not a test: see bench/bench.py for what it measures and how.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)

if [[ -n "${GIT_SECRETS_BIN:-}" ]]; then
    bin=$GIT_SECRETS_BIN
else
    target_dir=${CARGO_TARGET_DIR:-$root/target}
    [[ "$target_dir" = /* ]] || target_dir=$root/$target_dir
    bin=$target_dir/release/git-secrets
    # Build when the binary is missing or older than the sources it is built from.
    if [[ ! -x "$bin" ]] || [[ -n "$(find "$root/Cargo.toml" "$root/Cargo.lock" "$root/git-secrets" \
            -newer "$bin" -type f -print -quit 2>/dev/null)" ]]; then
        echo "bench: building $bin" >&2
        (cd "$root" && cargo build --release --locked -p git-secrets)
    fi
fi

# The no-op filter process measures the floor of git's filter protocol (`--ops floor`).
noop=${CARGO_TARGET_DIR:-$root/target}/release/noop-filter
[[ "$noop" = /* ]] || noop=$root/$noop
if [[ ! -x "$noop" ]]; then
    echo "bench: building $noop" >&2
    (cd "$here/noop-filter" && CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target} cargo build --release --locked)
fi

exec python3 "$here/bench.py" --bin "$bin" --noop-filter "$noop" --ops add,status,floor,clone "$@"
