#!/usr/bin/env bash
# Runs the IKEv2 interop test against strongSwan's charon in network namespaces
# (crates/ike/tests/interop_strongswan.rs): three suites, Oakley as initiator and as
# responder, IKE_SA_INIT + IKE_AUTH + child SA, child rekey, IKE rekey, delete, and the
# child SA keys compared with charon's level-4 log. Installs strongSwan when missing.
#   bash scripts/interop-strongswan.sh            # all suites
#   INTEROP_SUITE=cbc-ecp256 bash scripts/interop-strongswan.sh
# Needs root. KEEP=1 keeps the charon logs in /tmp.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v swanctl >/dev/null || need+=(strongswan-swanctl)
[ -x /usr/lib/ipsec/charon ] || need+=(strongswan-charon)
dpkg -s libcharon-extra-plugins >/dev/null 2>&1 || need+=(libcharon-extra-plugins)
if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
exec cargo test -p ike --test interop_strongswan -- --nocapture strongswan_interop
