#!/usr/bin/env bash
# Stress test, run by hand: kill -9 a restore at random moments, N times, running `recover` after
# each kill, and check every time that data and config are both entirely the old install or both
# entirely the new one, with no staging directory, journal or temp file left behind.
#
# It is tests/e2e/test_restore_crash.py with JB_STRESS_ITERATIONS=N random rounds instead of the
# fixed handful the normal test run does.
#
#   tests/stress/restore_kill.sh [ITERATIONS] [BUILD_DIR]     (defaults: 100, build)
#   JB_STRESS_SEED=S tests/stress/restore_kill.sh ...           replays a run (the seed is printed)
#
# A round takes about half a second; 100 rounds about a minute.
set -euo pipefail
cd "$(dirname "$0")/../.."

iterations=${1:-100}
build=${2:-build}
export JB_BIN=${JB_BIN:-$PWD/$build/jellyfin-backup}
export JB_SAMPLE=${JB_SAMPLE:-$PWD/scripts/make-sample-tree.py}
export JB_STRESS_ITERATIONS=$iterations
export PYTHONDONTWRITEBYTECODE=1

if [[ ! -x $JB_BIN ]]; then
  echo "restore_kill.sh: no binary at $JB_BIN (build first, or pass BUILD_DIR / set JB_BIN)" >&2
  exit 2
fi
echo "restore_kill.sh: $iterations rounds against $JB_BIN"
exec python3 tests/e2e/test_restore_crash.py -v
