#!/usr/bin/env bash
# Makes a minimal busybox root filesystem in DIR from Debian's busybox-static:
# /bin/busybox with one symlink per applet, /etc/passwd and /etc/group with root,
# an unprivileged `app` user (1000) and nobody, and the usual empty directories.
# Used for the busybox base image (scripts/make-busybox-image.sh) and by benchmarks.
set -euo pipefail
dir=${1:?usage: busybox-rootfs.sh DIR}
busybox=${BUSYBOX:-/bin/busybox}
[[ -x $busybox ]] || { echo "busybox-rootfs: $busybox not found (apt-get install busybox-static)" >&2; exit 1; }

mkdir -p "$dir"/{bin,sbin,usr/bin,usr/sbin,etc,root,home/app,tmp,var/tmp,proc,sys,dev}
chmod 1777 "$dir/tmp" "$dir/var/tmp"
chmod 700 "$dir/root"
install -m 0755 "$busybox" "$dir/bin/busybox"
while read -r applet; do
  [[ $applet == bin/busybox ]] && continue
  target="$dir/$applet"
  mkdir -p "$(dirname "$target")"
  [[ -e $target ]] || ln -s /bin/busybox "$target"
done < <("$busybox" --list-full)

cat > "$dir/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
app:x:1000:1000:app:/home/app:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
cat > "$dir/etc/group" <<'GROUP'
root:x:0:
wheel:x:10:app
app:x:1000:
nogroup:x:65534:
GROUP
chown 1000:1000 "$dir/home/app"
