#!/usr/bin/env bash
# Oakley securing traffic between two hosts, end to end, in throwaway network namespaces:
# two oakleyd data planes with a manually keyed AES-128-GCM ESP SA pair (IKE takes over the
# keying when the daemon learns it), ping and a TCP transfer through them, a capture of the
# link that shows only ESP, tshark decrypting that capture with the keys Oakley exported,
# and the throughput of the plain link and of the ESP path measured in the same run.
# Usage: bash scripts/demo.sh [SECONDS]   (iperf3 duration, default 5). Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}
bash scripts/setup.sh
cargo build --release -q -p daemon
bin=$PWD/target/release/oakleyd
ns_a=oakdemo$$a ns_b=oakdemo$$b
work=$(mktemp -d /tmp/oakley-demo.XXXXXX)
cleanup() {
    for ns in "$ns_a" "$ns_b"; do
        ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true
    done
    sleep 0.5
    ip netns del "$ns_a" 2>/dev/null || true
    ip netns del "$ns_b" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
ip netns add "$ns_a"; ip netns add "$ns_b"
ip link add va netns "$ns_a" type veth peer name vb netns "$ns_b"
ip -n "$ns_a" addr add 10.70.0.1/24 dev va; ip -n "$ns_b" addr add 10.70.0.2/24 dev vb
for ns in "$ns_a" "$ns_b"; do ip -n "$ns" link set lo up; done
ip -n "$ns_a" link set va up; ip -n "$ns_b" link set vb up

echo "== plain link (no IPsec): TCP for ${secs}s"
ip netns exec "$ns_b" iperf3 -s -1 -D -B 10.70.0.2; sleep 0.3
plain=$(ip netns exec "$ns_a" iperf3 -c 10.70.0.2 -t "$secs" -J | python3 -c 'import json,sys; print(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"])')

# Fresh random keys: 16-byte AES key + 4-byte salt per direction.
k1=$(od -An -tx1 -N20 /dev/urandom | tr -d ' \n'); k2=$(od -An -tx1 -N20 /dev/urandom | tr -d ' \n')
sa() { # name local remote out_spi in_spi out_key in_key
    printf '[[sa]]\nname = "%s"\nmode = "transport"\nlocal = "%s"\nremote = "%s"\nproposal = "aes128gcm16"\nout_spi = %s\nin_spi = %s\nout_key = "%s"\nin_key = "%s"\n' "$@"
}
sa demo 10.70.0.1 10.70.0.2 0x1001 0x2002 "$k1" "$k2" > "$work/a.toml"
sa demo 10.70.0.2 10.70.0.1 0x2002 0x1001 "$k2" "$k1" > "$work/b.toml"
ip netns exec "$ns_a" "$bin" --manual "$work/a.toml" --state-dir "$work/a" --export-keys 2> "$work/a.log" &
ip netns exec "$ns_b" "$bin" --manual "$work/b.toml" --state-dir "$work/b" 2> "$work/b.log" &
for side in a b; do
    for _ in $(seq 50); do grep -q ready "$work/$side.log" 2>/dev/null && break; sleep 0.1; done
    grep -q ready "$work/$side.log" || { cat "$work/$side.log"; exit 1; }
done
echo "== oakleyd running in both namespaces (transport mode, ESP AES-128-GCM)"
ip netns exec "$ns_b" tcpdump -i vb --immediate-mode -U -n -w "$work/wire.pcap" 2>/dev/null &
sleep 1
ip netns exec "$ns_a" ping -c 3 -i 0.3 10.70.0.2
echo "== through Oakley: TCP for ${secs}s"
ip netns exec "$ns_b" iperf3 -s -1 -D -B 10.70.0.2; sleep 0.3
esp=$(ip netns exec "$ns_a" iperf3 -c 10.70.0.2 -t "$secs" -J | python3 -c 'import json,sys; print(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"])')
sleep 0.5; ip netns pids "$ns_b" | xargs -r -I{} sh -c 'test "$(cat /proc/{}/comm)" = tcpdump && kill -INT {}' || true
sleep 0.5
mkdir -p "$work/home/wireshark"; cp "$work/a/esp_sa" "$work/home/wireshark/esp_sa"
ts() { HOME=$work/home XDG_CONFIG_HOME=$work/home tshark -n -r "$work/wire.pcap" 2>/dev/null \
    -o esp.enable_encryption_decode:TRUE -o esp.enable_authentication_check:TRUE "$@"; }
total=$(ts -Y 'ip' -T fields -e frame.number | wc -l)
esp_n=$(ts -Y 'esp' -T fields -e frame.number | wc -l)
good=$(ts -Y 'esp.icv_good == 1' -T fields -e frame.number | wc -l)
clear=$(ts -Y '(icmp || tcp) && !esp' -T fields -e frame.number | wc -l)
echo "== the wire, as tshark decodes it with the keys Oakley exported (first ping):"
ts -Y 'esp && icmp' -c 40 | head -4
echo
echo "IP frames captured:            $total"
echo "ESP frames:                    $esp_n"
echo "ESP frames with ICV good:      $good"
echo "ICMP/TCP frames in the clear:  $clear"
python3 - "$plain" "$esp" <<'PY'
import sys
plain, esp = float(sys.argv[1]), float(sys.argv[2])
print(f"TCP plain link:                {plain/1e9:.2f} Gbit/s")
print(f"TCP through Oakley ESP:        {esp/1e9:.2f} Gbit/s  ({esp/plain:.2f}x of the plain link, same run)")
PY
[ "$clear" -eq 0 ] && [ "$esp_n" -gt 0 ] && [ "$good" -eq "$esp_n" ] && echo "OK: all traffic between the hosts crossed the link as authenticated ESP"
