#!/usr/bin/env bash
# `git log -p` benchmark (masked diff, cold and cached, against no diff driver): builds the
# release binary, then runs bench/log_p.py. A benchmark, not a test.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
(cd "$root" && cargo build --release --locked -p git-secrets)
exec python3 "$here/log_p.py" --bin "${CARGO_TARGET_DIR:-$root/target}/release/git-secrets" "$@"
