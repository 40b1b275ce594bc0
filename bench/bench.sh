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

target_dir=${CARGO_TARGET_DIR:-$root/target}
[[ "$target_dir" = /* ]] || target_dir=$root/$target_dir
# The no-op filter process measures the floors of git's filter protocol (`--ops floor,addfloor`)
# and of git storing the sealed form (`--ops addsealed`; `addmin` the smallest tokens any format of
# sealed values could store; `addstored` the sealed form with no filter);
# cargo rebuilds whichever of the two is older than its sources.
(cd "$root" && cargo build --release --locked -p git-secrets -p noop-filter)
noop=$target_dir/release/noop-filter
bin=${GIT_SECRETS_BIN:-$target_dir/release/git-secrets}

exec python3 "$here/bench.py" --bin "$bin" --noop-filter "$noop" --ops add,addfloor,addsealed,addmin,addstored,status,floor,clone "$@"
