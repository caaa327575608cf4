#!/usr/bin/env bash
# Makes sure the Debian packages the tests use are installed: run by `npm test` (pretest) and by
# .ci/run, so that both work on a fresh machine. As root it installs what is missing; otherwise
# it names the packages and fails.
#   iproute2 (ip, tc, bridge), ethtool (offload switches of veth ends), frr (zebra + pimd: the multicast router of test/network),
#   util-linux (unshare, nsenter, setpriv; essential), tcpdump and tshark
#   (captures), socat / iperf / ssmping (independent multicast peers), python3 (scripted peers),
#   g++ / make (node-gyp build of the addon and of bench/c), cmake / clang / libclang-rt-14-dev
#   (ASan+UBSan build and libFuzzer targets), patchelf (test:asan's node copy that carries the ASan
#   runtime), cppcheck / clang-tidy (lint), valgrind,
#   g++-aarch64-linux-gnu (the cross compiler of `npm run prebuild`'s linux-arm64 binary; its
#   binutils' objdump reads the versioned symbols of the glibc floor check, readelf the exported
#   symbols of package.test), nftables (nft: the
#   random per-link loss of the feed test bed; this kernel has no sch_netem).
set -euo pipefail

packages=(iproute2 ethtool frr tcpdump tshark socat iperf ssmping python3 g++ make cmake clang libclang-rt-14-dev patchelf cppcheck clang-tidy valgrind g++-aarch64-linux-gnu nftables)
missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "ensure-tools: missing Debian packages: ${missing[*]} (install them as root: apt-get install ${missing[*]})" >&2
    exit 1
  fi
  echo "ensure-tools: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # tshark would ask whether non-root users may capture: answer no, without a prompt.
  echo 'wireshark-common wireshark-common/install-setuid boolean false' | debconf-set-selections
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
fi

for tool in ip tc bridge ethtool vtysh /usr/lib/frr/zebra /usr/lib/frr/pimd unshare nsenter setpriv tcpdump tshark socat iperf mcfirst python3 cmake clang patchelf cppcheck clang-tidy valgrind aarch64-linux-gnu-g++ objdump readelf nft; do
  command -v "$tool" >/dev/null || { echo "ensure-tools: required tool not found: $tool" >&2; exit 1; }
done
