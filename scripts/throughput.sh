#!/usr/bin/env bash
# Data path throughput, all in ONE run on this machine, so the figures compare as ratios:
#   plain        the veth link itself, no IPsec
#   oak-trans    oakleyd, transport mode, raw ESP (IP protocol 50), AES-128-GCM
#   oak-tun      oakleyd, tunnel mode, raw ESP, AES-128-GCM
#   oak-tun-udp  oakleyd, tunnel mode, ESP in UDP 4500 (RFC 3948), AES-128-GCM
#   swan-tun-udp strongSwan charon with kernel-libipsec (user-space ESP over TUN), IKEv2 PSK,
#                tunnel mode, ESP in UDP 4500 (libipsec always encapsulates), AES-128-GCM
# Before/after in one run: BASE_BIN=/path/to/an/older/oakleyd adds NAME@base for each Oakley
# path, the same configuration run by that binary (e.g. one built from an earlier commit);
# OAKLEYD_ARGS adds arguments to the current oakleyd only (e.g. --no-offload, --workers 1).
# Each path gets its own pair of network namespaces on a veth link (10.80.0.1 - 10.80.0.2;
# tunnels carry 10.81.1.1 <-> 10.81.2.1, addresses on lo). iperf3 measures TCP with 1 and 4
# streams (and UDP with one stream unless UDP=0); every measurement is repeated REPEATS
# times, round robin over the paths so background load hits them alike. The median and the
# spread of every cell, and the ratios to plain veth and to strongSwan, go into the section
# of docs/BENCHMARKS.md between the throughput markers (nothing else in the file changes).
#
# Usage: bash scripts/throughput.sh   (root). Environment: SECS (per measurement, default 5),
# REPEATS (default 3), PATHS (space-separated subset of the names above), UDP (1/0),
# NO_DOC=1 (print only), WORKERS (passed to oakleyd as --workers when set), BASE_LABEL (how
# the table names the base build; default its path).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${SECS:-5} reps=${REPEATS:-3} udp=${UDP:-1}
paths=${PATHS:-plain oak-trans oak-tun oak-tun-udp swan-tun-udp}
if [ -n "${BASE_BIN:-}" ] && [ -z "${PATHS:-}" ]; then
    paths="plain oak-trans oak-trans@base oak-tun oak-tun@base oak-tun-udp oak-tun-udp@base swan-tun-udp"
fi
[ "$(id -u)" -eq 0 ] || { echo "throughput: needs root (network namespaces)" >&2; exit 1; }
bash scripts/setup.sh
cargo build --release -q -p daemon
bin=$PWD/target/release/oakleyd
work=$(mktemp -d /tmp/oakley-throughput.XXXXXX)
tag=oakthr$$
made=()

cleanup() {
    for ns in "${made[@]}"; do
        ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true
    done
    sleep 0.5
    for ns in "${made[@]}"; do
        ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
        ip netns del "$ns" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# pair NAME: namespaces NAME-a / NAME-b joined by veth va/vb, inner hosts on lo.
pair() {
    local a=$tag-$1-a b=$tag-$1-b
    ip netns add "$a"; made+=("$a")
    ip netns add "$b"; made+=("$b")
    ip link add va netns "$a" type veth peer name vb netns "$b"
    ip -n "$a" addr add 10.80.0.1/24 dev va
    ip -n "$b" addr add 10.80.0.2/24 dev vb
    ip -n "$a" addr add 10.81.1.1/32 dev lo
    ip -n "$b" addr add 10.81.2.1/32 dev lo
    for ns in "$a" "$b"; do ip -n "$ns" link set lo up; done
    ip -n "$a" link set va up; ip -n "$b" link set vb up
}

key() { od -An -tx1 -N20 /dev/urandom | tr -d ' \n'; }

# oakley NAME MODE ENCAP: oakleyd on both sides of pair NAME with fresh random keys.
oakley() {
    local name=$1 mode=$2 encap=$3 k1 k2 ts_a="" ts_b=""
    k1=$(key); k2=$(key)
    if [ "$mode" = tunnel ]; then
        ts_a=$'local_ts = "10.81.1.1/32"\nremote_ts = "10.81.2.1/32"'
        ts_b=$'local_ts = "10.81.2.1/32"\nremote_ts = "10.81.1.1/32"'
    fi
    sa() { # local remote ts out_spi in_spi out_key in_key
        printf '[[sa]]\nname = "bench"\nmode = "%s"\nlocal = "%s"\nremote = "%s"\n%s\nproposal = "aes128gcm16"\nencap = %s\nout_spi = %s\nin_spi = %s\nout_key = "%s"\nin_key = "%s"\n' \
            "$mode" "$1" "$2" "$3" "$encap" "$4" "$5" "$6" "$7"
    }
    mkdir -p "$work/$name"
    sa 10.80.0.1 10.80.0.2 "$ts_a" 0x1001 0x2002 "$k1" "$k2" > "$work/$name/a.toml"
    sa 10.80.0.2 10.80.0.1 "$ts_b" 0x2002 0x1001 "$k2" "$k1" > "$work/$name/b.toml"
    local extra=() exe=$bin
    [ -n "${WORKERS:-}" ] && extra=(--workers "$WORKERS")
    # shellcheck disable=SC2206
    [ -n "${OAKLEYD_ARGS:-}" ] && extra+=($OAKLEYD_ARGS)
    case $name in *@base) exe=$BASE_BIN extra=() ;; esac
    for side in a b; do
        ip netns exec "$tag-$name-$side" "$exe" --manual "$work/$name/$side.toml" \
            --state-dir "$work/$name/$side" "${extra[@]}" 2> "$work/$name/$side.log" &
    done
    for side in a b; do
        for _ in $(seq 100); do grep -q ready "$work/$name/$side.log" 2>/dev/null && break; sleep 0.1; done
        grep -q ready "$work/$name/$side.log" || { cat "$work/$name/$side.log"; exit 1; }
    done
}

# swan NAME: charon (kernel-libipsec) on both sides of pair NAME, IKEv2 PSK tunnel up.
swan() {
    local name=$1 side ns d me peer mine theirs psk
    psk=$(key)
    for side in a b; do
        ns=$tag-$name-$side d=$work/$name/$side
        mkdir -p "$d"
        if [ $side = a ]; then me=10.80.0.1 peer=10.80.0.2 mine=10.81.1.1 theirs=10.81.2.1
        else me=10.80.0.2 peer=10.80.0.1 mine=10.81.2.1 theirs=10.81.1.1; fi
        cat > "$d/strongswan.conf" <<EOF
charon {
  load = random nonce openssl aes sha1 sha2 hmac gcm kdf pem pkcs1 pubkey kernel-libipsec kernel-netlink socket-default vici
  install_virtual_ip = no
  plugins { vici { socket = unix://$d/charon.vici } }
  filelog { log { path = $d/charon.log
                  default = 1 } }
}
EOF
        cat > "$d/swanctl.conf" <<EOF
connections {
  c {
    version = 2
    local_addrs = $me
    remote_addrs = $peer
    proposals = aes128gcm16-prfsha256-ecp256
    local { auth = psk
            id = $me }
    remote { auth = psk
             id = $peer }
    children {
      c { local_ts = $mine/32
          remote_ts = $theirs/32
          mode = tunnel
          esp_proposals = aes128gcm16
          start_action = none }
    }
  }
}
secrets { ike { secret = "$psk" } }
EOF
        STRONGSWAN_CONF=$d/strongswan.conf ip netns exec "$ns" unshare -m sh -c \
            "mount -t tmpfs none /run && exec /usr/lib/ipsec/charon" > "$d/stdout" 2>&1 &
        for _ in $(seq 100); do [ -S "$d/charon.vici" ] && break; sleep 0.1; done
        [ -S "$d/charon.vici" ] || { echo "charon did not start"; cat "$d/stdout"; exit 1; }
    done
    for side in a b; do
        swanctl --load-all --file "$work/$name/$side/swanctl.conf" \
            --uri "unix://$work/$name/$side/charon.vici" > /dev/null
    done
    swanctl --initiate --ike c --child c --uri "unix://$work/$name/a/charon.vici" > "$work/$name/initiate.log" 2>&1 \
        || { cat "$work/$name/initiate.log"; exit 1; }
}

# Where iperf3 runs for each path: source and destination addresses.
src_of() { case ${1%@base} in plain|oak-trans) echo 10.80.0.1 ;; *) echo 10.81.1.1 ;; esac; }
dst_of() { case ${1%@base} in plain|oak-trans) echo 10.80.0.2 ;; *) echo 10.81.2.1 ;; esac; }

echo "== building the paths: $paths"
for p in $paths; do
    pair "$p"
    case ${p%@base} in
        plain) ;;
        oak-trans) oakley "$p" transport false ;;
        oak-tun) oakley "$p" tunnel false ;;
        oak-tun-udp) oakley "$p" tunnel true ;;
        swan-tun-udp) swan "$p" ;;
        *) echo "unknown path $p" >&2; exit 1 ;;
    esac
    ip netns exec "$tag-$p-b" iperf3 -s -D -B "$(dst_of "$p")"
done
sleep 0.5
for p in $paths; do
    ip netns exec "$tag-$p-a" ping -c 2 -i 0.2 -W 2 -I "$(src_of "$p")" "$(dst_of "$p")" > /dev/null \
        || { echo "no connectivity on $p" >&2; exit 1; }
done

# CPU time (clock ticks, user + system) of the data path daemons of a path, both ends:
# oakleyd or charon, with the kernel work that runs in their threads (softirqs included).
ticks() {
    local p=$1 t=0 pid c
    for ns in "$tag-$p-a" "$tag-$p-b"; do
        for pid in $(ip netns pids "$ns" 2>/dev/null); do
            c=$(cat "/proc/$pid/comm" 2>/dev/null || true)
            case $c in oakleyd*|charon)
                for task in /proc/$pid/task/*/stat; do
                    t=$((t + $(awk '{print $14 + $15}' "$task" 2>/dev/null || echo 0)))
                done ;;
            esac
        done
    done
    echo $t
}

# One iperf3 measurement; prints bits per second received (0 when it failed).
measure() { # path streams proto
    local p=$1 n=$2 proto=$3 args=()
    [ "$proto" = udp ] && args=(-u -b 0 -l 1300)
    ip netns exec "$tag-$p-a" timeout $((secs + 20)) iperf3 -c "$(dst_of "$p")" -B "$(src_of "$p")" \
        -t "$secs" -O 1 -P "$n" -J "${args[@]}" 2>/dev/null | python3 -c '
import json, sys
try:
    end = json.load(sys.stdin)["end"]
    s = end.get("sum_received") or end["sum"]
    print(int(s["bits_per_second"]))
except Exception:
    print(0)
' || echo 0
}

cases=("1 tcp" "4 tcp")
[ "$udp" = 1 ] && cases+=("1 udp")
results=$work/results
: > "$results"
for r in $(seq "$reps"); do
    for c in "${cases[@]}"; do
        set -- $c
        for p in $paths; do
            t0=$(ticks "$p")
            bps=$(measure "$p" "$1" "$2")
            t1=$(ticks "$p")
            echo "$p $1 $2 $r $bps $((t1 - t0))" >> "$results"
            printf '%-18s %s %-3s rep %s: %6.2f Gbit/s\n' "$p" "$1" "$2" "$r" "$(python3 -c "print($bps/1e9)")"
        done
    done
done

meta="run: $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- crates scripts || echo '+changes'), $(rustc --version | cut -d' ' -f1-2), kernel $(uname -r)"
cpu="CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //') ($(nproc) cores, shared by both hosts, iperf3 and the data planes)"
python3 - "$results" "$meta" "$cpu" "$secs" "$reps" "${NO_DOC:-0}" "${WORKERS:-default}" "$(getconf CLK_TCK)" "${OAKLEYD_ARGS:-}" "${BASE_LABEL:-${BASE_BIN:-}}" <<'PY'
import statistics, sys, re
results, meta, cpu, secs, reps, no_doc, workers, hz, extra, base = sys.argv[1:]
cells, cost = {}, {}
for line in open(results):
    p, n, proto, _, bps, ticks = line.split()
    cells.setdefault((p, int(n), proto), []).append(int(bps) / 1e9)
    # Daemon CPU seconds per GB carried (the 1 s warm-up ran at about the same rate).
    gb = int(bps) / 8 * (int(secs) + 1) / 1e9
    if p != "plain" and gb > 0:
        cost.setdefault((p, int(n), proto), []).append(int(ticks) / int(hz) / gb)
names = {
    "plain": ("plain veth", "-", "-"),
    "oak-trans": ("Oakley", "transport", "ESP"),
    "oak-tun": ("Oakley", "tunnel", "ESP"),
    "oak-tun-udp": ("Oakley", "tunnel", "ESP-in-UDP 4500"),
    "swan-tun-udp": ("strongSwan kernel-libipsec", "tunnel", "ESP-in-UDP 4500"),
}
for p in list(names):
    who, mode, wire = names[p]
    names[p + "@base"] = (who + " (base build)", mode, wire)
med = {k: statistics.median(v) for k, v in cells.items()}
def ratio(k, base):
    b = med.get((base, k[1], k[2]))
    return f"{med[k] / b:.3f}" if b else "-"
order = [p for p in sorted(names, key=lambda n: (list(names).index(n.split("@")[0]), n))
         if any(k[0] == p for k in cells)]
keys = sorted({(k[1], k[2]) for k in cells}, key=lambda x: (x[1], x[0]))
out = []
out.append("<!-- throughput:begin (written by scripts/throughput.sh; keep these markers) -->")
out.append("## Data path throughput: Oakley vs plain veth vs strongSwan (iperf3)")
out.append("")
out.append("Written by `bash scripts/throughput.sh`. All rows come from one run on one machine;")
out.append("compare them as ratios within the run, not with other runs. Each path runs between two")
out.append("network namespaces on a veth link (MTU 1500; the IPsec paths' TUN devices have MTU 1400),")
out.append(f"AES-128-GCM, iperf3 for {secs} s after 1 s of warm-up, {reps} repetitions round robin over")
out.append("the paths; median, and the spread (min-max) over the repetitions. UDP: one stream,")
out.append("unlimited rate, 1300-byte datagrams, rate received. \"CPU s/GB\": CPU time of the data")
out.append("path daemons at both ends (oakleyd or charon, kernel work in their threads included) per")
out.append("GB carried, median: what a path costs, less sensitive to other load on the machine.")
out.append("")
out.append(f"- {meta}")
out.append(f"- {cpu}")
out.append(f"- oakleyd workers: {workers}; extra oakleyd arguments: {extra or 'none'}")
if base:
    out.append(f"- base build (rows marked so): {base}")
out.append("")
out.append("| path | mode | on the wire | traffic | Gbit/s (median) | spread | vs plain veth | vs strongSwan | CPU s/GB |")
out.append("|---|---|---|---|---:|---:|---:|---:|---:|")
for n, proto in keys:
    for p in order:
        k = (p, n, proto)
        if k not in cells:
            continue
        who, mode, wire = names[p]
        v = cells[k]
        c = f"{statistics.median(cost[k]):.2f}" if k in cost else "-"
        out.append(f"| {who} | {mode} | {wire} | {proto.upper()} x{n} | {med[k]:.2f} | "
                   f"{min(v):.2f}-{max(v):.2f} | {ratio(k, 'plain')} | {ratio(k, 'swan-tun-udp')} | {c} |")
out.append("")
out.append("<!-- throughput:end -->")
section = "\n".join(out) + "\n"
print()
print(section)
if no_doc == "1":
    sys.exit(0)
path = "docs/BENCHMARKS.md"
text = open(path).read()
pat = re.compile(r"<!-- throughput:begin.*?<!-- throughput:end -->\n?", re.S)
if pat.search(text):
    text = pat.sub(lambda _: section, text, count=1)
else:
    text = text.rstrip("\n") + "\n\n" + section
open(path + ".new", "w").write(text)
import os
os.replace(path + ".new", path)
print("wrote the throughput section of docs/BENCHMARKS.md")
PY
