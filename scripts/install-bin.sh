#!/usr/bin/env bash
# Puts `tbuild` on the PATH, runnable from any directory: a symlink to this checkout's
# bin/tbuild.js (node follows the link back to dist/ here). Not `npm link`, which runs
# the build scripts again, and not npx, which adds a second of npm start-up to every
# command. /usr/local/bin as root; TBUILD_BIN_DIR chooses another directory (for
# example ~/.local/bin without root). Run by scripts/setup.sh; safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

bin_dir=${TBUILD_BIN_DIR:-/usr/local/bin}
if ! mkdir -p "$bin_dir" 2>/dev/null || ! ln -sfn "$PWD/bin/tbuild.js" "$bin_dir/tbuild" 2>/dev/null; then
  echo "install-bin: cannot write $bin_dir: set TBUILD_BIN_DIR to a directory on your PATH" >&2
  exit 1
fi
echo "install-bin: $bin_dir/tbuild -> $PWD/bin/tbuild.js"
case ":$PATH:" in
*":$bin_dir:"*) ;;
*) echo "install-bin: $bin_dir is not on your PATH: add it to run tbuild from any directory" ;;
esac
