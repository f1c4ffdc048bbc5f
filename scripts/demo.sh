#!/usr/bin/env bash
# Oakley securing traffic between two hosts, end to end, in throwaway network namespaces:
# each host gets an IPsec policy written with `oakley static` (netsh ipsec static commands:
# a filter list for the peer, a filter action requiring ESP AES-GCM-128, a rule with a
# pre-shared key, the policy assigned), and an oakleyd that applies it: IKEv2 negotiates
# the SAs on the first packet, ping and a TCP transfer go through them, a capture of the link
# shows only IKE and ESP, tshark decrypts all of it with the keys Oakley exported, and the
# throughput of the plain link and of the ESP path are measured in the same run.
# Usage: bash scripts/demo.sh [SECONDS]   (iperf3 duration, default 5). Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}
bash scripts/setup.sh
cargo build --release -q -p daemon -p cli
bin=$PWD/target/release/oakleyd
oakley=$PWD/target/release/oakley
ns_a=oakdemo$$a ns_b=oakdemo$$b
work=$(mktemp -d /tmp/oakley-demo.XXXXXX)
cleanup() {
    for ns in "$ns_a" "$ns_b"; do
        ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true
    done
    sleep 1
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

psk=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
echo "== policy, as an administrator writes it (each host names the other)"
for side in a:10.70.0.2 b:10.70.0.1; do
    s=${side%%:*} peer=${side#*:}
    o() { "$oakley" --state-dir "$work/$s" static "$@" >/dev/null; }
    o add policy name=Demo description="ESP between the two demo hosts" mmsecmethods="AES128-SHA256-14" activatedefaultrule=no
    o add filterlist name=Peer
    o add filter filterlist=Peer srcaddr=me dstaddr="$peer" protocol=ANY mirrored=yes
    o add filteraction name=Secure action=negotiate qmsecmethods="ESP[AESGCM128,NONE]:100000k/3600s"
    o add rule name=ToPeer policy=Demo filterlist=Peer filteraction=Secure psk="$psk"
    o set policy name=Demo assign=yes
done
"$oakley" --state-dir "$work/a" static show rule name=ToPeer policy=Demo
ip netns exec "$ns_b" tcpdump -i vb --immediate-mode -U -n -w "$work/wire.pcap" 2>/dev/null &
sleep 1
ip netns exec "$ns_a" "$bin" --state-dir "$work/a" --export-keys --ike-log 2> "$work/a.log" &
ip netns exec "$ns_b" "$bin" --state-dir "$work/b" --export-keys --ike-log 2> "$work/b.log" &
for side in a b; do
    for _ in $(seq 100); do grep -q ready "$work/$side.log" 2>/dev/null && break; sleep 0.1; done
    grep -q ready "$work/$side.log" || { cat "$work/$side.log"; exit 1; }
done
echo "== oakleyd applying the policy on both hosts; the first ping starts IKEv2"
ip netns exec "$ns_a" ping -c 4 -i 0.3 10.70.0.2
echo "== through Oakley: TCP for ${secs}s"
ip netns exec "$ns_b" iperf3 -s -1 -D -B 10.70.0.2; sleep 0.3
esp=$(ip netns exec "$ns_a" iperf3 -c 10.70.0.2 -t "$secs" -J | python3 -c 'import json,sys; print(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"])')
sleep 0.5; ip netns pids "$ns_b" | xargs -r -I{} sh -c 'test "$(cat /proc/{}/comm)" = tcpdump && kill -INT {}' || true
sleep 0.5
mkdir -p "$work/home/wireshark"
cat "$work/a/esp_sa" "$work/b/esp_sa" > "$work/home/wireshark/esp_sa"
cat "$work/a/ikev2_decryption_table" "$work/b/ikev2_decryption_table" > "$work/home/wireshark/ikev2_decryption_table" 2>/dev/null || true
ts() { HOME=$work/home XDG_CONFIG_HOME=$work/home tshark -n -r "$work/wire.pcap" 2>/dev/null \
    -o esp.enable_encryption_decode:TRUE -o esp.enable_authentication_check:TRUE "$@"; }
total=$(ts -Y 'ip' -T fields -e frame.number | wc -l)
esp_n=$(ts -Y 'esp' -T fields -e frame.number | wc -l)
good=$(ts -Y 'esp.icv_good == 1' -T fields -e frame.number | wc -l)
clear=$(ts -Y '(icmp || tcp) && !esp' -T fields -e frame.number | wc -l)
ike=$(ts -Y 'isakmp' -T fields -e frame.number | wc -l)
echo "== the wire, as tshark decodes it with the keys Oakley exported (IKE, then the first pings):"
ts -Y 'isakmp || (esp && icmp)' -c 400 | head -8
echo "== the Oakley log (host a):"
head -6 "$work/a/oakley.log" 2>/dev/null || true
echo
echo "IKEv2 messages:                $ike"
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
[ "$clear" -eq 0 ] && [ "$esp_n" -gt 0 ] && [ "$good" -eq "$esp_n" ] && [ "$ike" -gt 0 ] \
    && echo "OK: policy negotiated with IKEv2; all traffic between the hosts crossed the link as authenticated ESP"
