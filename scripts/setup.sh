#!/usr/bin/env bash
# Installs what the tests need from Debian's packages, only when missing:
# tshark is the independent judge of Oakley's ESP (crates/esp/tests/tshark*.rs and the
# namespace tests); ping, iperf3 and socat make traffic in those tests; tcpdump watches the
# wire; iproute2 and nftables build the namespaces; strongSwan's charon is the IKEv2 interop
# peer in crates/ike/tests/interop_strongswan.rs.
set -euo pipefail
need=()
command -v tshark >/dev/null 2>&1 || need+=(tshark)
command -v tcpdump >/dev/null 2>&1 || need+=(tcpdump)
command -v ping >/dev/null 2>&1 || need+=(iputils-ping)
command -v iperf3 >/dev/null 2>&1 || need+=(iperf3)
command -v socat >/dev/null 2>&1 || need+=(socat)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v nft >/dev/null 2>&1 || need+=(nftables)
command -v python3 >/dev/null 2>&1 || need+=(python3)
command -v swanctl >/dev/null 2>&1 || need+=(strongswan-swanctl)
[ -x /usr/lib/ipsec/charon ] || need+=(strongswan-charon)
dpkg -s libcharon-extra-plugins >/dev/null 2>&1 || need+=(libcharon-extra-plugins)
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "setup: need root to install: ${need[*]}" >&2
        exit 1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
