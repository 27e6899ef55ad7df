#!/usr/bin/env bash
# Installs what is missing, builds lifeline (release) and runs its main job on built-in defaults.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release --target lifeline_cli
exec build/release/tools/lifeline/lifeline demo "$@"
