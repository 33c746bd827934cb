#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh Debian machine, then runs it.
# Usage: bash scripts/test.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."

# System packages: espeak-ng makes real speech for the tests; chromium drives the browser tests;
# node/npm run the npm rt-client of the interop suite (tests/interop).
need_apt=()
command -v espeak-ng >/dev/null 2>&1 || need_apt+=(espeak-ng)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v node >/dev/null 2>&1 || need_apt+=(nodejs)
command -v npm >/dev/null 2>&1 || need_apt+=(npm)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
fi

python -m pip install -q --disable-pip-version-check -e ".[local,test]"
# semantic_vad's end-of-turn model ships in this wheel; only its .onnx file is used, so
# pipecat's own (heavy) dependencies are skipped. 34 MB on disk.
python -m pip install -q --disable-pip-version-check --no-deps "pipecat-ai==1.14.0"
# The interop suite's JavaScript client, exactly as pinned in its lock file (rt-client 0.5.1).
(cd tests/interop/node && npm ci --no-audit --no-fund --loglevel=error)
# The front end's pinned build tools (esbuild, typescript), and its type check: the files
# that say `// @ts-check`, against the JSDoc types of the view/worker/worklet messages.
(cd js && npm ci --no-audit --no-fund --loglevel=error && npm run --silent check)

# Lint first: pyflakes, pycodestyle, import order and bugbear (the rule set is in pyproject.toml).
python -m ruff check realtime_widget tests benchmarks scripts
python -m pytest "$@"
