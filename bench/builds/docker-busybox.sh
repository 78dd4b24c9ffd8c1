#!/usr/bin/env bash
# Gives the reference dockerd the same busybox base image tbuild's examples use.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
rootfs=$(mktemp -d)
trap 'rm -rf "$rootfs"' EXIT
bash "$here/../../scripts/busybox-rootfs.sh" "$rootfs"
tar -C "$rootfs" -c . | /usr/bin/docker import - busybox:latest
