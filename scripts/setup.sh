#!/usr/bin/env bash
# Installs everything tbuild's build, examples and tests need on a fresh Debian
# machine (root, Node 20): Debian packages, then npm packages, then the native build.
set -euo pipefail
cd "$(dirname "$0")/.."

debian_packages=(
  build-essential python3 # node-gyp builds the runtime's native helper and addon
  busybox-static          # the busybox base image for examples and tests
  docker-registry         # the real OCI registry (distribution 2.8) the tests push to
  skopeo umoci            # real clients that check the images tbuild writes
  openssl                 # certificates for the test token server (registry token auth)
  iproute2                # network namespaces for RUN --network tests
  nftables                # the default RUN network's NAT and host firewall (runtime/network/nat-table.ts)
  git                     # ADD of git repositories (worker/sources)
  openssh-client          # ssh-agent, ssh-add, ssh-keygen for the RUN --mount=type=ssh e2e test
  bzip2 xz-utils zstd     # ADD extracts .tar.bz2, .tar.xz and .tar.zst through these
  chromium fonts-dejavu-core # the headless browser the web view's e2e test drives, and a font for its screenshots
  redis-server            # the shared build queue of several `tbuild serve` nodes (e2e tests start their own)
  docker.io python3-docker # real Docker API clients for the service's Docker API e2e test; dockerd for the --load e2e test (test/harness/dockerd.ts starts its own)
)

missing=()
for package in "${debian_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
done
if ((${#missing[@]} > 0)); then
  echo "setup: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # docker.io would start the system's dockerd (and containerd) on install: the tests
  # start their own on a private socket, so a policy-rc.d keeps those services down.
  policy=/usr/sbin/policy-rc.d
  own_policy=false
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\ncase "$1" in docker | docker.* | containerd | containerd.*) exit 101 ;; esac\nexit 0\n' >"$policy"
    chmod 755 "$policy"
    own_policy=true
  fi
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
  if [[ $own_policy == true ]]; then rm -f "$policy"; fi
fi

echo "setup: npm ci"
npm ci --no-audit --no-fund

echo "setup: tbuild on the PATH"
# Not fatal: without a writable bin directory everything else still works through bin/tbuild.js.
bash scripts/install-bin.sh || echo "setup: tbuild is not on the PATH; run $PWD/bin/tbuild.js, or TBUILD_BIN_DIR=DIR bash scripts/install-bin.sh"

# The examples and the README's quickstart build FROM busybox: create it locally
# (from Debian's busybox-static) in the default root, or $TBUILD_ROOT.
echo "setup: busybox base image"
bash scripts/make-busybox-image.sh
