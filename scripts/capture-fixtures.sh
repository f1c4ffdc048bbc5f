#!/usr/bin/env bash
# Re-captures the IKE fixtures used by the wire and crypto tests: two strongSwan charons in
# network namespaces negotiate each scenario while tcpdump records the wire; tshark's decode
# becomes the .expect files (an independent judge), and charon's level-4 log the key
# derivation vectors. Writes into crates/wire/tests/fixtures and crates/crypto/tests/vectors.
#
#   bash scripts/capture-fixtures.sh [SCENARIO...]
#
# Test-only: the logs hold key material of throwaway SAs and a fixed test secret.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
fx=$root/crates/wire/tests/fixtures
vec=$root/crates/crypto/tests/vectors
mkdir -p "$fx" "$vec"

need=()
command -v swanctl >/dev/null || need+=(strongswan-swanctl)
[ -x /usr/lib/ipsec/charon ] || need+=(strongswan-charon libcharon-extra-plugins)
dpkg -s libcharon-extra-plugins >/dev/null 2>&1 || need+=(libcharon-extra-plugins)
command -v tshark >/dev/null || need+=(tshark)
command -v tcpdump >/dev/null || need+=(tcpdump)
if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

tag=oakfx$$
nsa=$tag-a nsb=$tag-b
work=$(mktemp -d /tmp/oakley-fixtures.XXXXXX)
A=10.201.0.1 B=10.201.0.2 NETA=10.202.1.1 NETB=10.202.2.1

cleanup() {
    for d in "$work"/run-*/{a,b}; do
        [ -f "$d/pid" ] && kill "$(cat "$d/pid")" 2>/dev/null || true
    done
    [ -f "$work/tcpdump.pid" ] && kill "$(cat "$work/tcpdump.pid")" 2>/dev/null || true
    sleep 0.3
    ip netns del "$nsa" 2>/dev/null || true
    ip netns del "$nsb" 2>/dev/null || true
    if [ -n "${KEEP:-}" ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

ip netns add "$nsa"
ip netns add "$nsb"
ip link add "$tag"a type veth peer name "$tag"b
ip link set "$tag"a netns "$nsa"
ip link set "$tag"b netns "$nsb"
ip -n "$nsa" addr add $A/24 dev "$tag"a
ip -n "$nsb" addr add $B/24 dev "$tag"b
for n in "$nsa" "$nsb"; do ip -n "$n" link set lo up; done
ip -n "$nsa" link set "$tag"a up
ip -n "$nsb" link set "$tag"b up
ip -n "$nsa" addr add $NETA/32 dev lo
ip -n "$nsb" addr add $NETB/32 dev lo

# start_charon NS DIR EXTRA_CONF
start_charon() {
    local ns=$1 dir=$2 extra=$3
    mkdir -p "$dir"
    cat >"$dir/strongswan.conf" <<C
charon {
  load = random nonce openssl aes des sha1 sha2 md5 hmac gcm kdf ctr cmac xcbc gmp curve25519 x509 pubkey pkcs1 pem revocation constraints kernel-libipsec kernel-netlink socket-default vici
  install_virtual_ip = no
  install_routes = no
  retransmit_tries = 3
  $extra
  plugins {
    vici { socket = unix://$dir/charon.vici }
  }
  filelog {
    log { path = $dir/charon.log
          time_format = %s
          default = 1
          ike = 4
          chd = 4
          cfg = 2
          enc = 2
          knl = 1 }
  }
}
C
    STRONGSWAN_CONF=$dir/strongswan.conf ip netns exec "$ns" unshare -m sh -c \
        "mount -t tmpfs none /run && exec /usr/lib/ipsec/charon" >"$dir/stdout" 2>&1 &
    echo $! >"$dir/pid"
    for _ in $(seq 100); do [ -S "$dir/charon.vici" ] && return 0; sleep 0.1; done
    echo "charon in $ns did not start"; cat "$dir/stdout"; return 1
}

# conf VERSION ME PEER MYNET PEERNET IKE ESP EXTRA_CONN [AGGRESSIVE]
conf() {
    cat <<C
connections {
  c {
    version = $1
    local_addrs = $2
    remote_addrs = $3
    proposals = $6
    $8
    local { auth = psk
            id = ${ID_PREFIX:-}$2 }
    remote { auth = psk
             id = ${ID_PREFIX:-}$3 }
    children {
      c { local_ts = $4
          remote_ts = $5
          mode = tunnel
          esp_proposals = $7
          start_action = none }
    }
  }
}
secrets { ike { secret = "oakley-fixture-secret" } }
C
}

swan() { local dir=$1; shift; swanctl "$@" --uri "unix://$dir/charon.vici"; }

wait_sa() { # dir pattern
    for _ in $(seq 100); do swan "$1" --list-sas 2>/dev/null | grep -q "$2" && return 0; sleep 0.1; done
    echo "timeout waiting for '$2'"; swan "$1" --list-sas || true; return 1
}

# scenario NAME VERSION IKE_A IKE_B ESP EXTRA_CONN EXTRA_CHARON STEPS
scenario() {
    local name=$1 ver=$2 ike_a=$3 ike_b=$4 esp=$5 extra_conn=$6 extra_charon=$7 steps=$8
    local run=$work/run-$name
    mkdir -p "$run"
    echo "== $name"
    ip netns exec "$nsa" tcpdump -i "$tag"a -U -s 0 -w "$run/cap.pcap" 'udp port 500 or udp port 4500' \
        >"$run/tcpdump.log" 2>&1 &
    echo $! >"$work/tcpdump.pid"
    sleep 0.5
    start_charon "$nsa" "$run/a" "$extra_charon"
    start_charon "$nsb" "$run/b" "$extra_charon"
    conf "$ver" $A $B $NETA/32 $NETB/32 "$ike_a" "$esp" "$extra_conn" >"$run/a/swanctl.conf"
    conf "$ver" $B $A $NETB/32 $NETA/32 "$ike_b" "$esp" "$extra_conn" >"$run/b/swanctl.conf"
    swan "$run/a" --load-all --file "$run/a/swanctl.conf" >/dev/null 2>&1
    swan "$run/b" --load-all --file "$run/b/swanctl.conf" >/dev/null 2>&1
    swan "$run/a" --initiate --child c >/dev/null
    wait_sa "$run/a" INSTALLED
    for s in $steps; do
        case $s in
            rekey-child) swan "$run/a" --rekey --child c >/dev/null; sleep 1 ;;
            rekey-ike) swan "$run/a" --rekey --ike c >/dev/null; sleep 1 ;;
            terminate) swan "$run/a" --terminate --ike c >/dev/null; sleep 0.5 ;;
        esac
    done
    sleep 0.5
    kill "$(cat "$work/tcpdump.pid")"; wait "$(cat "$work/tcpdump.pid")" 2>/dev/null || true
    rm -f "$work/tcpdump.pid"
    for h in a b; do kill "$(cat "$run/$h/pid")" 2>/dev/null || true; done
    sleep 0.3
    cp "$run/cap.pcap" "$fx/$name.pcap"
    python3 "$root/scripts/fixtures/expect.py" "$fx/$name.pcap" >"$fx/$name.expect"
    for h in a b; do
        local role=initiator; [ $h = b ] && role=responder
        python3 "$root/scripts/fixtures/vectors.py" "$ver" "$run/$h/charon.log" "$run/cap.pcap" \
            >"$vec/$name-$role.txt"
    done
    echo "   $(grep -vc '^#' "$fx/$name.expect") IKE messages"
}

want() { [ $# -eq 0 ] || [[ " $* " == *" $1 "* ]]; }
sel=("$@")
run_if() { local n=$1; shift; if [ ${#sel[@]} -eq 0 ] || [[ " ${sel[*]} " == *" $n "* ]]; then scenario "$n" "$@"; fi; }

run_if ikev2-psk-gcm-modp2048 2 aes128gcm16-prfsha256-modp2048 aes128gcm16-prfsha256-modp2048 \
    aes128gcm16 "" "" "rekey-child rekey-ike terminate"
run_if ikev2-psk-cbc-ecp256 2 aes256-sha256-ecp256 aes256-sha256-ecp256 aes256-sha256 "" "" \
    "rekey-child terminate"
run_if ikev2-invalid-ke 2 "aes256-sha256-ecp256,aes256-sha256-modp2048" aes256-sha256-modp2048 \
    aes128-sha1 "" "" "terminate"
ID_PREFIX=a-rather-long-identity-to-make-the-auth-exchange-big.fixtures.oakley.example. \
run_if ikev2-nat-frag 2 aes128-sha256-x25519 aes128-sha256-x25519 \
    "aes128gcm16,aes256gcm16,aes128-sha256,aes256-sha384,aes128-sha1,3des-sha1,aes192-sha512,aes128ctr-sha256" \
    "encap = yes
    fragmentation = force" "fragment_size = 300" "terminate"
run_if ikev1-main-psk 1 aes128-sha1-modp2048 aes128-sha1-modp2048 aes128-sha1-modp2048 "" "" \
    "rekey-child terminate"
run_if ikev1-main-3des 1 3des-sha1-modp1024 3des-sha1-modp1024 3des-md5 "" "" "terminate"
run_if ikev1-aggressive-psk 1 aes128-sha256-modp2048 aes128-sha256-modp2048 aes128-sha256 \
    "aggressive = yes" "i_dont_care_about_security_and_use_aggressive_mode_psk = yes" "terminate"
echo "fixtures written to $fx and $vec"
