#!/usr/bin/env bash
# Creates the `busybox:latest` base image from Debian's busybox-static and loads
# it into a tbuild root (default: tbuild's own default root). No network needed.
# The image is reproducible: the same busybox binary always gives the same digest.
#   usage: make-busybox-image.sh [--root DIR] [--name NAME]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
root_args=()
name=busybox:latest
while (($# > 0)); do
  case $1 in
    --root) root_args=(--root "$2"); shift 2 ;;
    --name) name=$2; shift 2 ;;
    *) echo "make-busybox-image: unknown argument $1" >&2; exit 2 ;;
  esac
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bash "$here/busybox-rootfs.sh" "$work/rootfs"
tar --sort=name --mtime=@0 --numeric-owner --format=pax \
  --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
  -C "$work/rootfs" -cf "$work/layer.tar" .
gzip -n -6 -c "$work/layer.tar" > "$work/layer.tar.gz"
diff_id="sha256:$(sha256sum "$work/layer.tar" | cut -d' ' -f1)"
mkdir -p "$work/archive"
mv "$work/layer.tar.gz" "$work/archive/layer.tar.gz"
cat > "$work/archive/config.json" <<JSON
{"architecture":"amd64","os":"linux","created":"1970-01-01T00:00:00Z","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["sh"]},"rootfs":{"type":"layers","diff_ids":["$diff_id"]},"history":[{"created":"1970-01-01T00:00:00Z","created_by":"busybox-static from Debian ($(busybox 2>&1 | head -n1 | cut -d' ' -f2)) by tbuild scripts/make-busybox-image.sh"}]}
JSON
cat > "$work/archive/manifest.json" <<JSON
[{"Config":"config.json","RepoTags":["$name"],"Layers":["layer.tar.gz"]}]
JSON
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$work/archive" -cf "$work/busybox.tar" .
node "$repo/bin/tbuild.js" load "${root_args[@]}" "$work/busybox.tar"
