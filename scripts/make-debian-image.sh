#!/usr/bin/env bash
# Creates a Debian bookworm minbase image (`debootstrap --variant=minbase`) and
# loads it into a tbuild root and, with --docker, into the reference dockerd.
# Only Debian's archive is needed (no Docker Hub). The root filesystem is made
# once and kept as a tar in $TBUILD_IMAGE_CACHE (default /var/cache/tbuild):
# debootstrap takes minutes, loading the kept tar takes seconds.
#   usage: make-debian-image.sh [--root DIR] [--name NAME] [--docker] [--no-tbuild]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
root_args=()
name=debian:bookworm-minbase
to_docker=false
to_tbuild=true
while (($# > 0)); do
  case $1 in
    --root) root_args=(--root "$2"); shift 2 ;;
    --name) name=$2; shift 2 ;;
    --docker) to_docker=true; shift ;;
    --no-tbuild) to_tbuild=false; shift ;;
    *) echo "make-debian-image: unknown argument $1" >&2; exit 2 ;;
  esac
done

cache=${TBUILD_IMAGE_CACHE:-/var/cache/tbuild}
rootfs_tar="$cache/debian-bookworm-minbase.tar"
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
mkdir -p "$cache"

if [[ ! -s $rootfs_tar ]]; then
  command -v debootstrap >/dev/null || { echo "make-debian-image: debootstrap is not installed (apt-get install debootstrap)" >&2; exit 1; }
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  echo "make-debian-image: debootstrap --variant=minbase bookworm (a few minutes, once)" >&2
  debootstrap --variant=minbase bookworm "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 || {
    tail -20 "$work/debootstrap.log" >&2
    exit 1
  }
  # As Docker's debian images: no package lists or caches inside, apt pointed at the mirror.
  rm -rf "$work/rootfs/var/lib/apt/lists/"* "$work/rootfs/var/cache/apt/"*.bin
  printf 'deb %s bookworm main\n' "$mirror" >"$work/rootfs/etc/apt/sources.list"
  tar --sort=name --mtime=@0 --numeric-owner --format=pax \
    --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
    -C "$work/rootfs" -cf "$rootfs_tar.tmp" .
  mv "$rootfs_tar.tmp" "$rootfs_tar"
fi

if [[ $to_tbuild == true ]]; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  gzip -n -1 -c "$rootfs_tar" >"$work/layer.tar.gz"
  diff_id="sha256:$(sha256sum "$rootfs_tar" | cut -d' ' -f1)"
  cat >"$work/config.json" <<JSON
{"architecture":"amd64","os":"linux","created":"1970-01-01T00:00:00Z","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["bash"]},"rootfs":{"type":"layers","diff_ids":["$diff_id"]},"history":[{"created":"1970-01-01T00:00:00Z","created_by":"debootstrap --variant=minbase bookworm by tbuild scripts/make-debian-image.sh"}]}
JSON
  printf '[{"Config":"config.json","RepoTags":["%s"],"Layers":["layer.tar.gz"]}]\n' "$name" >"$work/manifest.json"
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$work" \
    -cf "$work/image.tar" config.json manifest.json layer.tar.gz
  node "$repo/bin/tbuild.js" load "${root_args[@]}" "$work/image.tar"
fi

if [[ $to_docker == true ]]; then
  /usr/bin/docker import --change 'CMD ["bash"]' "$rootfs_tar" "$name" >/dev/null
  echo "make-debian-image: $name imported into dockerd" >&2
fi
