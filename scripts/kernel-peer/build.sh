#!/usr/bin/env bash
# Builds (once) the guest images for the kernel ESP/AH peer: a small Debian 12 system whose
# kernel has esp4/esp6/ah4/ah6 and XFRM, with strongSwan (disk.img) or Libreswan
# (disk-libreswan.img) and the tools the tests drive (iproute2, ping, socat, tcpdump). This
# host's kernel has no ESP/AH, so the guest under qemu is the independent kernel peer.
#
# Output in $OAKLEY_KPEER_DIR (default /var/tmp/oakley-kernel-peer, outside the source tree):
# vmlinuz, initrd.img, disk.img, disk-libreswan.img and a stamp. Later runs reuse them; a
# change to this script's IMAGE_VERSION rebuilds. Needs root; installs qemu-system-x86,
# debootstrap and e2fsprogs from Debian's packages when missing.
set -euo pipefail
IMAGE_VERSION=1
dir=${OAKLEY_KPEER_DIR:-/var/tmp/oakley-kernel-peer}
stamp="$dir/stamp-v$IMAGE_VERSION"
[ -e "$stamp" ] && { echo "kernel peer images up to date in $dir"; exit 0; }
mkdir -p "$dir"
exec 9>"$dir/.lock"; flock 9
[ -e "$stamp" ] && exit 0
need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v mkfs.ext4 >/dev/null || need+=(e2fsprogs)
if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
mirror=${mirror:-http://deb.debian.org/debian}
root="$dir/rootfs"
mounted=()
cleanup() { for m in "${mounted[@]}"; do umount "$m" 2>/dev/null || true; done; }
trap cleanup EXIT
in_root() { # root dir, command...
    local r=$1; shift
    mount -t proc proc "$r/proc"; mounted+=("$r/proc")
    chroot "$r" env DEBIAN_FRONTEND=noninteractive "$@"
    umount "$r/proc"
}
if [ ! -e "$root/.base-done" ]; then
    rm -rf "$root"
    echo "kernel peer: debootstrap (a few minutes, once)"
    debootstrap --variant=minbase bookworm "$root" "$mirror" > "$dir/debootstrap.log" 2>&1
    in_root "$root" apt-get install -y -qq --no-install-recommends \
        linux-image-amd64 initramfs-tools systemd-sysv udev kmod iproute2 iputils-ping \
        socat tcpdump procps netbase \
        strongswan-charon strongswan-swanctl libcharon-extra-plugins \
        libstrongswan-standard-plugins libstrongswan-extra-plugins > "$dir/install.log" 2>&1
    touch "$root/.base-done"
fi
# The guest: no login, IPsec modules loaded at boot, the host's share at /host, and one
# service that runs /host/guest.sh as root and powers the machine off when it ends.
configure() {
    local r=$1 name=$2
    echo "$name" > "$r/etc/hostname"
    printf 'esp4\nesp6\nah4\nah6\nxfrm_user\nxfrm4_tunnel\nxfrm6_tunnel\ntunnel4\ntunnel6\n' \
        > "$r/etc/modules-load.d/ipsec.conf"
    echo 'host /host 9p trans=virtio,version=9p2000.L,nofail 0 0' > "$r/etc/fstab"
    mkdir -p "$r/host"
    cat > "$r/etc/systemd/system/oakley-guest.service" <<'UNIT'
[Unit]
Description=Run the host's test script, then power off
After=local-fs.target host.mount systemd-modules-load.service
Requires=host.mount

[Service]
Type=oneshot
ExecStart=/bin/sh -c '/bin/sh /host/guest.sh > /host/guest.log 2>&1; echo $? > /host/guest.rc'
ExecStopPost=/bin/systemctl --no-block poweroff

[Install]
WantedBy=multi-user.target
UNIT
    chroot "$r" systemctl enable oakley-guest.service >/dev/null 2>&1
    chroot "$r" systemctl mask getty@tty1.service serial-getty@ttyS0.service \
        systemd-timesyncd.service apt-daily.timer apt-daily-upgrade.timer >/dev/null 2>&1 || true
    # IKE daemons start only when a test asks.
    chroot "$r" systemctl disable strongswan-starter.service strongswan.service \
        ipsec.service >/dev/null 2>&1 || true
}
printf 'virtio_blk\nvirtio_net\nvirtio_pci\n9p\n9pnet_virtio\next4\n' >> "$root/etc/initramfs-tools/modules"
sort -u -o "$root/etc/initramfs-tools/modules" "$root/etc/initramfs-tools/modules"
in_root "$root" update-initramfs -u -k all > /dev/null 2>&1
configure "$root" oakley-kpeer
cp "$root"/boot/vmlinuz-* "$dir/vmlinuz"
cp "$root"/boot/initrd.img-* "$dir/initrd.img"
rm -f "$dir/disk.img"
mkfs.ext4 -q -L kpeer -d "$root" "$dir/disk.img" 2G
# Libreswan variant (the packages conflict with strongSwan's).
lsw="$dir/rootfs-libreswan"
if [ ! -e "$lsw/.lsw-done" ]; then
    rm -rf "$lsw"
    cp -a "$root" "$lsw"
    in_root "$lsw" apt-get purge -y -qq 'strongswan*' 'libcharon*' 'libstrongswan*' >> "$dir/install.log" 2>&1
    in_root "$lsw" apt-get install -y -qq --no-install-recommends libreswan >> "$dir/install.log" 2>&1
    touch "$lsw/.lsw-done"
fi
configure "$lsw" oakley-kpeer-lsw
rm -f "$dir/disk-libreswan.img"
mkfs.ext4 -q -L kpeer -d "$lsw" "$dir/disk-libreswan.img" 2G
rm -f "$dir"/stamp-v*
touch "$stamp"
echo "kernel peer images built in $dir"
