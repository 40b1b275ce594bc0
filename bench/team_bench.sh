#!/usr/bin/env bash
# Team-operation benchmark (rotation, approval): builds the release binary, then runs
# bench/team_bench.py. A benchmark, not a test.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
(cd "$root" && cargo build --release --locked -p git-secrets)
exec python3 "$here/team_bench.py" --bin "${CARGO_TARGET_DIR:-$root/target}/release/git-secrets" "$@"
