#!/usr/bin/env bash
# Installs realtime-widget with the offline speech stack and JupyterLab, then opens the
# quickstart notebook. Everything runs on the local engine: no API key, no network.
# Usage: bash scripts/quickstart.sh [extra jupyter lab arguments...]
set -euo pipefail
cd "$(dirname "$0")/.."

python -m pip install -q --disable-pip-version-check -e ".[local,lab,plot]"
# semantic_vad's end-of-turn model ships in this wheel; only its .onnx file is used, so
# pipecat's own (heavy) dependencies are skipped. 34 MB on disk.
python -m pip install -q --disable-pip-version-check --no-deps "pipecat-ai==1.14.0"

args=()
[ "$(id -u)" = 0 ] && args+=(--allow-root)  # JupyterLab refuses root without it
exec jupyter lab "${args[@]}" "$@" notebooks/01-quickstart.ipynb
