//! The data plane on real devices: one TUN device for cleartext, raw IP sockets for ESP and
//! AH, UDP port 4500 for RFC 3948 encapsulation, and raw send sockets whose packets carry the
//! bypass firewall mark (so sealed packets leave by the main routing table instead of
//! looping back into the TUN device). The per-packet work is
//! [`Dataplane::outbound_batch`] / [`Dataplane::inbound_batch`]; this module moves batches.
//!
//! Why it is built this way (the syscall per packet is what limits user-space tunnels):
//! - The TUN device runs with a virtio-net header and TSO/USO offloads (`IFF_VNET_HDR`), so
//!   the kernel hands over TCP/UDP super packets of up to 64 KiB in one read; they are split
//!   into segments (tun-rs `gso_split`) and each segment is sealed. Decrypted TCP segments
//!   are coalesced again ([`super::gro`]) and written as super packets, so the host's TCP
//!   stack sees a few large packets on both sides.
//! - ESP in UDP leaves by UDP GSO (one message, its iovecs pointing at up to 64 equal-size
//!   ESP packets in their slots, with a UDP_SEGMENT control message; the kernel keeps it one
//!   buffer through veth and up to the peer's socket) and arrives by `recvmmsg` with UDP GRO
//!   (quinn-udp, which also sets the socket up), so the kernel's per-packet cost nearly
//!   disappears on that path.
//! - Raw ESP/AH leaves by `sendmmsg` on a raw socket connected to the peer and arrives by
//!   `recvmmsg`: one syscall per batch (the kernel still handles each packet).
//! - One outbound worker per core, each reading its own queue of a multi-queue TUN device
//!   (the kernel keeps a flow on one queue, so a flow's packets stay in order); one receive
//!   thread per socket (ESP from one peer is one flow to the kernel).
//! - Buffers are allocated when a thread starts; the loops allocate nothing per packet.

use std::io::{self, IoSlice, IoSliceMut};
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsFd, AsRawFd};
use std::sync::Arc;
use std::thread::JoinHandle;

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::socket::{
    ControlMessage, MsgFlags, MultiHeaders, SockaddrStorage, recvmmsg, sendmmsg,
};
use quinn_udp::{RecvMeta, UdpSocketState};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use tun_rs::{DeviceBuilder, SyncDevice, VIRTIO_NET_HDR_LEN};
use wire::{ip, ipv4, ipv6, udp};

use super::batch::SealedBatch;
use super::gro::Coalescer;
use super::stats::{Drop, Stats};
use super::{Dataplane, MAX_PACKET};

/// How the TUN device is opened.
#[derive(Debug, Clone, Copy)]
pub struct TunOptions {
    /// Queues (and outbound workers); more than one needs `IFF_MULTI_QUEUE`.
    pub queues: usize,
    /// Virtio-net header with TSO/USO offloads (falls back to plain packets when the
    /// kernel refuses).
    pub offload: bool,
}

impl Default for TunOptions {
    fn default() -> Self {
        Self {
            queues: workers_default(),
            offload: true,
        }
    }
}

/// One worker per core, at most 8.
pub fn workers_default() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(8))
}

/// The TUN device: one file descriptor per queue.
pub struct Tun {
    queues: Vec<Arc<SyncDevice>>,
    offload: bool,
    mtu: u16,
}

impl Tun {
    /// Opens the TUN device (up, no address: routes point at it by name).
    pub fn open(name: &str, mtu: u16, opts: TunOptions) -> io::Result<Self> {
        let queues = opts.queues.max(1);
        let build = |offload: bool| {
            DeviceBuilder::new()
                .name(name)
                .mtu(mtu)
                .packet_information(false)
                .offload(offload)
                .multi_queue(queues > 1)
                .build_sync()
        };
        let (first, offload) = match build(opts.offload) {
            Ok(d) => {
                let on = d.tcp_gso();
                (d, on)
            }
            Err(e) if opts.offload => {
                tracing::warn!("tun offload unavailable ({e}); plain packets");
                (build(false)?, false)
            }
            Err(e) => return Err(e),
        };
        if offload {
            // The kernel must never build a super packet one read cannot split.
            if let Err(e) = cap_gso_segments(name, MAX_SEGMENTS as u32) {
                tracing::warn!("tun gso_max_segs: {e}");
            }
        }
        let mut all = vec![Arc::new(first)];
        for _ in 1..queues {
            match all[0].try_clone() {
                Ok(q) => all.push(Arc::new(q)),
                Err(e) => {
                    tracing::warn!("tun queue: {e}; running {} queue(s)", all.len());
                    break;
                }
            }
        }
        Ok(Self {
            queues: all,
            offload,
            mtu,
        })
    }

    /// Number of queues (= outbound workers).
    pub fn queues(&self) -> usize {
        self.queues.len()
    }

    /// Whether the virtio-net header offloads are on.
    pub fn offload(&self) -> bool {
        self.offload
    }

    fn queue(&self, i: usize) -> Arc<SyncDevice> {
        self.queues[i % self.queues.len()].clone()
    }

    /// Largest packet one segment slot must hold.
    fn segment_room(&self) -> usize {
        usize::from(self.mtu).max(1500) + 64
    }
}

/// Segments one TUN read may split into: a 64 KiB super packet at an MSS of 128 bytes
/// (IPv4's smallest MTU gives 536, IPv6's 1220). The device's `gso_max_segs` is set to it,
/// so the kernel sends smaller super packets when a peer announces a tinier MSS.
const MAX_SEGMENTS: usize = 512;

/// Sets the device's `gso_max_segs` (IFLA_GSO_MAX_SEGS), so TSO super packets handed to
/// us never have more segments than [`MAX_SEGMENTS`], whatever MSS a peer announces.
fn cap_gso_segments(name: &str, segments: u32) -> io::Result<()> {
    use rtnetlink::LinkUnspec;
    use rtnetlink::packet_route::link::LinkAttribute;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    rt.block_on(async {
        let (conn, handle, _) = rtnetlink::new_connection()?;
        tokio::spawn(conn);
        let msg = LinkUnspec::new_with_name(name)
            .append_extra_attribute(LinkAttribute::GsoMaxSegs(segments))
            .build();
        handle
            .link()
            .set(msg)
            .execute()
            .await
            .map_err(|e| io::Error::other(e.to_string()))
    })
}

/// Bytes sealing adds at most (outer IPv6 + UDP + ESP header, IV, padding, trailer, ICV).
const SEAL_ROOM: usize = 256;

/// A UDP socket on port 4500 (or another encapsulation port), shared by its receive thread
/// and the outbound workers.
struct UdpPort {
    local: SocketAddr,
    sock: Socket,
    state: UdpSocketState,
}

/// What sealed packets leave by: raw header-included sockets (created per peer in each
/// worker, marked to bypass the TUN route) and the UDP encapsulation sockets. It also sends
/// single packets ([`Sender::send`]: packets IKE queued, cleartext policy permits).
pub struct Sender {
    mark: u32,
    udp: Vec<Arc<UdpPort>>,
    /// Unconnected marked raw sockets for single packets (and destinations a connected
    /// socket refuses, such as link-local ones without a scope).
    v4: Socket,
    v6: Option<Socket>,
}

impl Sender {
    /// Opens the marked raw sockets (root, `CAP_NET_RAW`).
    pub fn new(mark: u32) -> io::Result<Self> {
        let v4 = raw_socket(mark, Domain::IPV4)?;
        // IPPROTO_RAW on IPv6 implies the header is included (Linux ≥ 4.5); a host without
        // IPv6 still runs IPv4.
        let v6 = raw_socket(mark, Domain::IPV6).ok();
        Ok(Self {
            mark,
            udp: Vec::new(),
            v4,
            v6,
        })
    }

    /// Sends one whole IP packet (header included) with the bypass mark.
    pub fn send(&self, packet: &[u8], dst: IpAddr) -> io::Result<usize> {
        let addr = SockAddr::from(SocketAddr::new(dst, 0));
        match dst {
            IpAddr::V4(_) => self.v4.send_to(packet, &addr),
            IpAddr::V6(_) => match &self.v6 {
                Some(s) => s.send_to(packet, &addr),
                None => Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    "no ipv6 raw socket",
                )),
            },
        }
    }
}

/// Sends one datagram on a UDP socket a receive path shares (quinn-udp made it
/// non-blocking): when its buffer is full, waits for room briefly (at most 50 ms) once.
/// For IKE messages on port 4500.
pub fn send_udp(sock: &Socket, bytes: &[u8], to: SocketAddr) -> io::Result<usize> {
    let to = SockAddr::from(to);
    match sock.send_to(bytes, &to) {
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
            wait(sock, PollFlags::POLLOUT, 50);
            sock.send_to(bytes, &to)
        }
        r => r,
    }
}

/// IPPROTO_RAW: header included.
const IPPROTO_RAW: i32 = 255;

fn raw_socket(mark: u32, domain: Domain) -> io::Result<Socket> {
    let s = Socket::new(domain, Type::RAW, Some(Protocol::from(IPPROTO_RAW)))?;
    s.set_mark(mark)?;
    s.set_send_buffer_size(4 << 20)?;
    Ok(s)
}

/// Where a receive path gets packets from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path {
    /// Raw IP protocol 50 or 51 to this local address.
    Raw { local: IpAddr, protocol: u8 },
    /// UDP port 4500 on this local address.
    Udp { local: IpAddr, port: u16 },
}

/// Opens the socket of a receive path.
pub fn open_path(path: Path) -> io::Result<Socket> {
    let domain = |a: IpAddr| {
        if a.is_ipv4() {
            Domain::IPV4
        } else {
            Domain::IPV6
        }
    };
    match path {
        Path::Raw { local, protocol } => {
            let s = Socket::new(
                domain(local),
                Type::RAW,
                Some(Protocol::from(i32::from(protocol))),
            )?;
            s.bind(&SockAddr::from(SocketAddr::new(local, 0)))?;
            s.set_recv_buffer_size(4 << 20)?;
            Ok(s)
        }
        Path::Udp { local, port } => {
            let s = Socket::new(domain(local), Type::DGRAM, Some(Protocol::UDP))?;
            s.set_reuse_address(true)?;
            s.bind(&SockAddr::from(SocketAddr::new(local, port)))?;
            s.set_recv_buffer_size(4 << 20)?;
            Ok(s)
        }
    }
}

/// Room left in front of received bytes for the headers a socket strips (IPv6 raw sockets
/// deliver no IP header, UDP sockets neither IP nor UDP header): the data plane always sees
/// whole IP packets.
const HEADROOM: usize = ipv6::HEADER_LEN + udp::HEADER_LEN;

/// Rebuilds the headers the kernel stripped in front of the `n` received bytes at
/// `buf[at..]` (`at >= HEADROOM`); returns where the whole packet starts.
fn rebuild(path: Path, from: SocketAddr, buf: &mut [u8], at: usize, n: usize) -> Option<usize> {
    match path {
        Path::Raw {
            local: IpAddr::V4(_),
            ..
        } => Some(at), // IPv4 raw: header included
        Path::Raw {
            local: IpAddr::V6(l),
            protocol,
        } => {
            let IpAddr::V6(src) = from.ip() else {
                return None;
            };
            let start = at.checked_sub(ipv6::HEADER_LEN)?;
            ipv6::Repr {
                src,
                dst: l,
                next_header: protocol,
                payload_len: n,
                hop_limit: 64,
                traffic_class: 0,
                flow_label: 0,
            }
            .emit(buf.get_mut(start..at)?)
            .ok()?;
            Some(start)
        }
        Path::Udp { local, port } => {
            let ulen = udp::HEADER_LEN + n;
            let hl = match local {
                IpAddr::V4(_) => ipv4::MIN_HEADER_LEN,
                IpAddr::V6(_) => ipv6::HEADER_LEN,
            };
            let start = at.checked_sub(udp::HEADER_LEN + hl)?;
            let src_ip = match from {
                // A dual-stack report of an IPv4 peer.
                SocketAddr::V6(a) => a
                    .ip()
                    .to_ipv4_mapped()
                    .map_or(IpAddr::V6(*a.ip()), IpAddr::V4),
                SocketAddr::V4(a) => IpAddr::V4(*a.ip()),
            };
            let hdr = buf.get_mut(start..at)?;
            match (local, src_ip) {
                (IpAddr::V4(l), IpAddr::V4(src)) => ipv4::Repr {
                    src,
                    dst: l,
                    protocol: ip::UDP,
                    payload_len: ulen,
                    ttl: 64,
                    dscp_ecn: 0,
                    ident: 0,
                    dont_frag: false,
                }
                .emit(&mut hdr[..hl])
                .ok()?,
                (IpAddr::V6(l), IpAddr::V6(src)) => ipv6::Repr {
                    src,
                    dst: l,
                    next_header: ip::UDP,
                    payload_len: ulen,
                    hop_limit: 64,
                    traffic_class: 0,
                    flow_label: 0,
                }
                .emit(&mut hdr[..hl])
                .ok()?,
                _ => return None,
            }
            // The kernel verified the UDP checksum already; zero means "none" to the ESP
            // framing, which only needs the ports and length.
            udp::Repr {
                src_port: from.port(),
                dst_port: port,
                payload_len: n,
            }
            .emit(&mut hdr[hl..])
            .ok()?;
            Some(start)
        }
    }
}

/// Decrypted packets on their way into the TUN device: with offloads, TCP segments of a
/// flow are coalesced into super packets ([`Coalescer`]); without, written one by one.
///
/// Each frame is written on the queue its flow hashes to: the kernel sends a flow's
/// packets out of the queue its packets last came in by (automq flow steering), so this
/// spreads the flows, and with them the sealing, over the outbound workers.
struct TunWriter {
    queues: Vec<Arc<SyncDevice>>,
    offload: bool,
    gro: Coalescer,
}

/// Which queue a packet's flow (addresses, protocol, ports) belongs to.
fn flow_queue(p: &[u8], queues: usize) -> usize {
    if queues < 2 {
        return 0;
    }
    let (addrs, proto, l4) = match p.first().map(|b| b >> 4) {
        Some(4) if p.len() >= 20 => (&p[12..20], p[9], usize::from(p[0] & 0x0f) * 4),
        Some(6) if p.len() >= 40 => (&p[8..40], p[6], 40),
        _ => return 0,
    };
    let ports = match proto {
        ip::TCP | ip::UDP => p.get(l4..l4 + 4).unwrap_or_default(),
        _ => &[],
    };
    // FNV-1a.
    let mut h: u32 = 0x811c_9dc5;
    for b in addrs.iter().chain(&[proto]).chain(ports) {
        h = (h ^ u32::from(*b)).wrapping_mul(0x0100_0193);
    }
    h as usize % queues
}

impl TunWriter {
    fn new(queues: Vec<Arc<SyncDevice>>, offload: bool) -> Self {
        Self {
            queues,
            offload,
            gro: Coalescer::new(),
        }
    }

    fn write(queues: &[Arc<SyncDevice>], frame: &[u8], at: usize, stats: &Stats) {
        let q = flow_queue(frame.get(at..).unwrap_or_default(), queues.len());
        if queues[q].send(frame).is_err() {
            stats.send_error();
        }
    }

    fn push(&mut self, packet: &[u8], stats: &Stats) {
        let queues = &self.queues;
        if self.offload {
            self.gro.push(packet, &mut |f: &[u8]| {
                Self::write(queues, f, VIRTIO_NET_HDR_LEN, stats)
            });
        } else {
            Self::write(queues, packet, 0, stats);
        }
    }

    /// Writes what is still being coalesced (at the end of each received batch).
    fn flush(&mut self, stats: &Stats) {
        let queues = &self.queues;
        self.gro
            .flush(&mut |f: &[u8]| Self::write(queues, f, VIRTIO_NET_HDR_LEN, stats));
    }
}

/// Starts the receive thread of a path: opens each packet and writes what passes to the
/// TUN device. A UDP path's socket also becomes a way out for the outbound workers
/// (`sender`), so spawn receivers before [`spawn_senders`].
pub fn spawn_receiver(
    dp: Arc<Dataplane>,
    tun: &Tun,
    path: Path,
    sock: Socket,
    sender: &mut Sender,
) -> io::Result<JoinHandle<()>> {
    let writer = TunWriter::new(tun.queues.clone(), tun.offload);
    let name = format!("oakley-rx-{path:?}");
    match path {
        Path::Raw { .. } => std::thread::Builder::new()
            .name(name)
            .spawn(move || raw_receiver(&dp, writer, path, &sock)),
        Path::Udp { local, port } => {
            sock.set_mark(sender.mark)?;
            sock.set_send_buffer_size(4 << 20)?;
            let state = UdpSocketState::new((&sock).into())?;
            let port = Arc::new(UdpPort {
                local: SocketAddr::new(local, port),
                sock,
                state,
            });
            sender.udp.push(port.clone());
            std::thread::Builder::new()
                .name(name)
                .spawn(move || udp_receiver(&dp, writer, path, &port))
        }
    }
}

/// Messages per `recvmmsg` on a raw socket.
const RAW_BATCH: usize = 64;

fn socket_addr(a: &SockaddrStorage) -> Option<SocketAddr> {
    if let Some(s) = a.as_sockaddr_in() {
        return Some(SocketAddr::from(std::net::SocketAddrV4::from(*s)));
    }
    a.as_sockaddr_in6()
        .map(|s| SocketAddr::from(std::net::SocketAddrV6::from(*s)))
}

fn raw_receiver(dp: &Dataplane, mut tun: TunWriter, path: Path, sock: &Socket) {
    let mut slots: Vec<Vec<u8>> = (0..RAW_BATCH)
        .map(|_| vec![0u8; HEADROOM + MAX_PACKET])
        .collect();
    let mut hdrs = MultiHeaders::<SockaddrStorage>::preallocate(RAW_BATCH, None);
    let mut got = [(0usize, None::<SocketAddr>); RAW_BATCH];
    loop {
        let count = {
            let mut it = slots.iter_mut();
            let mut iovs: [[IoSliceMut<'_>; 1]; RAW_BATCH] = std::array::from_fn(|_| {
                [IoSliceMut::new(
                    it.next().map_or(&mut [][..], |s| &mut s[HEADROOM..]),
                )]
            });
            match recvmmsg(
                sock.as_raw_fd(),
                &mut hdrs,
                iovs.iter_mut(),
                MsgFlags::MSG_WAITFORONE,
                None,
            ) {
                Ok(results) => {
                    let mut k = 0;
                    for (slot, r) in got.iter_mut().zip(results) {
                        // A truncated datagram cannot be opened: count it as malformed.
                        let whole = !r.flags.contains(MsgFlags::MSG_TRUNC);
                        *slot = (
                            if whole { r.bytes } else { 0 },
                            r.address.as_ref().and_then(socket_addr),
                        );
                        k += 1;
                    }
                    k
                }
                Err(Errno::EINTR) => continue,
                Err(e) => {
                    tracing::error!(?path, "receive failed: {e}");
                    return;
                }
            }
        };
        let mut opener = dp.inbound_batch();
        for (slot, &(n, from)) in slots.iter_mut().zip(&got[..count]) {
            let start = match (n, from) {
                (0, _) | (_, None) => None,
                (n, Some(from)) => rebuild(path, from, slot, HEADROOM, n),
            };
            let Some(start) = start else {
                dp.stats.inbound(&Err(Drop::Malformed));
                continue;
            };
            let pkt = &mut slot[start..HEADROOM + n];
            if let Ok(range) = opener.open(pkt) {
                tun.push(&pkt[range], &dp.stats);
            }
        }
        drop(opener);
        tun.flush(&dp.stats);
    }
}

/// Buffers per `recvmmsg` on a UDP socket; with GRO each holds up to 64 datagrams.
const UDP_BATCH: usize = 8;

fn wait(fd: &impl AsFd, flags: PollFlags, ms: u16) {
    let mut fds = [PollFd::new(fd.as_fd(), flags)];
    let _ = poll(&mut fds, PollTimeout::from(ms));
}

fn udp_receiver(dp: &Dataplane, mut tun: TunWriter, path: Path, port: &UdpPort) {
    let mut bufs: Vec<Vec<u8>> = (0..UDP_BATCH)
        .map(|_| vec![0u8; HEADROOM + MAX_PACKET + 1])
        .collect();
    let mut meta = [RecvMeta::default(); UDP_BATCH];
    loop {
        let count = {
            let mut iovs: [IoSliceMut<'_>; UDP_BATCH] = {
                let mut it = bufs.iter_mut();
                std::array::from_fn(|_| {
                    IoSliceMut::new(it.next().map_or(&mut [][..], |b| &mut b[HEADROOM..]))
                })
            };
            match port.state.recv((&port.sock).into(), &mut iovs, &mut meta) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    wait(&port.sock, PollFlags::POLLIN, 1000);
                    continue;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    tracing::error!(?path, "receive failed: {e}");
                    return;
                }
            }
        };
        let mut opener = dp.inbound_batch();
        for (buf, m) in bufs.iter_mut().zip(&meta[..count]) {
            let stride = if m.stride == 0 { m.len } else { m.stride };
            let end = HEADROOM + m.len.min(MAX_PACKET);
            let mut at = HEADROOM;
            // Segments in order: rebuilding the next one's headers overwrites the tail of
            // the previous one, which has been written to the TUN batch already.
            while at < end {
                let n = stride.min(end - at);
                match rebuild(path, m.addr, buf, at, n) {
                    Some(start) => {
                        let pkt = &mut buf[start..at + n];
                        if let Ok(range) = opener.open(pkt) {
                            tun.push(&pkt[range], &dp.stats);
                        }
                    }
                    None => dp.stats.inbound(&Err(Drop::Malformed)),
                }
                at += n.max(1);
            }
        }
        drop(opener);
        tun.flush(&dp.stats);
    }
}

/// Starts one outbound worker per TUN queue: read (and split) cleartext, seal, send.
/// (Splitting a worker into a sealing and a sending thread was measured too: no gain on
/// two shared cores, so one thread does both.)
pub fn spawn_senders(
    dp: Arc<Dataplane>,
    tun: &Tun,
    sender: Sender,
) -> io::Result<Vec<JoinHandle<()>>> {
    let sender = Arc::new(sender);
    (0..tun.queues())
        .map(|i| {
            let (dp, dev, sender) = (dp.clone(), tun.queue(i), sender.clone());
            let (offload, room) = (tun.offload, tun.segment_room());
            std::thread::Builder::new()
                .name(format!("oakley-tx{i}"))
                .spawn(move || {
                    let mut tx = TxWorker::new(&sender);
                    outbound_reader(&dp, &dev, offload, room, |sealed| {
                        tx.send(sealed, &dp.stats)
                    });
                })
        })
        .collect()
}

/// Reads cleartext from one TUN queue and seals it; `emit` sends each non-empty batch.
fn outbound_reader(
    dp: &Dataplane,
    dev: &SyncDevice,
    offload: bool,
    room: usize,
    mut emit: impl FnMut(&SealedBatch),
) {
    let mut whole = vec![0u8; VIRTIO_NET_HDR_LEN + MAX_PACKET];
    // The first slot also takes packets the kernel did not segment (up to the MTU).
    let mut segs: Vec<Vec<u8>> = (0..MAX_SEGMENTS)
        .map(|i| vec![0u8; if i == 0 { MAX_PACKET } else { room }])
        .collect();
    let mut sizes = vec![0usize; MAX_SEGMENTS];
    let mut sealed = SealedBatch::new(MAX_SEGMENTS, room + SEAL_ROOM);
    loop {
        let n = if offload {
            dev.recv_multiple(&mut whole, &mut segs, &mut sizes, 0)
        } else {
            dev.recv(&mut segs[0]).map(|n| {
                sizes[0] = n;
                1
            })
        };
        let n = match n {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            // A syscall failed: the device is gone.
            Err(e) if e.raw_os_error().is_some() => {
                tracing::error!("tun read failed: {e}");
                return;
            }
            // A super packet that could not be split: drop it, count it.
            Err(e) => {
                tracing::debug!("tun packet dropped: {e}");
                dp.stats.outbound::<IpAddr>(&Err(Drop::Malformed));
                continue;
            }
        };
        dp.outbound_batch(&segs[..n], &sizes[..n], 0, &mut sealed);
        if !sealed.is_empty() {
            emit(&sealed);
        }
    }
}

/// A device that cannot do GSO answers EIO (or EINVAL).
const EIO_CODE: i32 = Errno::EIO as i32;
const EINVAL_CODE: i32 = Errno::EINVAL as i32;
/// Messages per `sendmmsg` on a raw socket.
const RAW_SEND_BATCH: usize = 64;
/// Raw sockets a worker keeps connected (one per peer).
const RAW_PEERS: usize = 64;
/// Largest UDP payload in one GSO send (IPv4: 65535 - 20 - 8).
const GSO_MAX_BYTES: usize = 65507;
/// Most segments in one GSO send (the kernel's UDP_MAX_SEGMENTS is at least 64).
const GSO_MAX_SEGMENTS: usize = 64;

/// One outbound worker's sending state.
struct TxWorker<'s> {
    sender: &'s Sender,
    /// Raw sockets connected to each peer, so `sendmmsg` needs no addresses.
    raw: Vec<(IpAddr, Socket)>,
    raw_hdrs: MultiHeaders<()>,
    /// One UDP message with room for its UDP_SEGMENT control message.
    udp_hdrs: MultiHeaders<SockaddrStorage>,
    /// Cleared when the kernel refuses a GSO send (a device without checksum offload).
    gso: bool,
}

/// A run of sealed packets that leave together.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Run {
    None,
    Raw(IpAddr),
    /// ESP packets of `seg` bytes (the last may be shorter) to one peer: one GSO send.
    Udp {
        port: usize,
        dst: SocketAddr,
        seg: usize,
        count: usize,
        bytes: usize,
    },
}

/// The ESP bytes of a sealed packet that a UDP socket carries.
fn esp_part(batch: &SealedBatch, i: usize) -> &[u8] {
    let at = batch.items()[i].udp.map_or(0, |u| u.esp_at);
    batch.packet(i).get(at..).unwrap_or_default()
}

impl<'s> TxWorker<'s> {
    fn new(sender: &'s Sender) -> Self {
        Self {
            sender,
            raw: Vec::new(),
            raw_hdrs: MultiHeaders::preallocate(RAW_SEND_BATCH, None),
            udp_hdrs: MultiHeaders::preallocate(1, Some(nix::cmsg_space!(u16))),
            gso: true,
        }
    }

    fn max_segments(&self, port: usize) -> usize {
        if self.gso {
            GSO_MAX_SEGMENTS.min(self.sender.udp[port].state.max_gso_segments())
        } else {
            1
        }
    }

    /// Sends a batch in order, as few syscalls as the destinations allow.
    fn send(&mut self, batch: &SealedBatch, stats: &Stats) {
        let mut run = Run::None;
        let mut first = 0;
        for (i, s) in batch.items().iter().enumerate() {
            let udp = s.udp.and_then(|u| {
                let local = SocketAddr::new(u.local, u.src_port);
                let port = self.sender.udp.iter().position(|p| p.local == local)?;
                Some((port, SocketAddr::new(s.dst, u.dst_port)))
            });
            let len = esp_part(batch, i).len();
            match (udp, run) {
                (
                    Some((port, dst)),
                    Run::Udp {
                        port: p,
                        dst: d,
                        seg,
                        count,
                        bytes,
                    },
                ) if p == port
                    && d == dst
                    && len <= seg
                    && bytes == seg * count
                    && count < self.max_segments(p)
                    && bytes + len <= GSO_MAX_BYTES =>
                {
                    run = Run::Udp {
                        port,
                        dst,
                        seg,
                        count: count + 1,
                        bytes: bytes + len,
                    };
                }
                (Some((port, dst)), _) => {
                    self.flush(run, batch, first..i, stats);
                    run = Run::Udp {
                        port,
                        dst,
                        seg: len,
                        count: 1,
                        bytes: len,
                    };
                    first = i;
                }
                (None, Run::Raw(d)) if d == s.dst => {}
                (None, _) => {
                    self.flush(run, batch, first..i, stats);
                    run = Run::Raw(s.dst);
                    first = i;
                }
            }
        }
        self.flush(run, batch, first..batch.len(), stats);
    }

    fn flush(
        &mut self,
        run: Run,
        batch: &SealedBatch,
        items: std::ops::Range<usize>,
        stats: &Stats,
    ) {
        match run {
            Run::None => {}
            Run::Raw(dst) => self.send_raw(dst, batch, items, stats),
            Run::Udp {
                port,
                dst,
                seg,
                count,
                ..
            } => {
                let sender = self.sender;
                let fd = sender.udp[port].sock.as_fd();
                if count > 1 {
                    match self.send_udp(fd, dst, batch, items.clone(), seg) {
                        Ok(()) => return,
                        Err(e)
                            if matches!(e.raw_os_error(), Some(EIO_CODE) | Some(EINVAL_CODE)) =>
                        {
                            tracing::info!("udp gso refused ({e}): one datagram per send");
                            self.gso = false;
                        }
                        Err(_) => {}
                    }
                }
                // One datagram per send (a single packet, or GSO refused).
                for i in items {
                    let len = esp_part(batch, i).len();
                    if self.send_udp(fd, dst, batch, i..i + 1, len).is_err() {
                        stats.send_error();
                    }
                }
            }
        }
    }

    /// One UDP message carrying the ESP parts of `items` (all `seg` bytes but the last),
    /// which the kernel cuts into datagrams of `seg` bytes (UDP GSO). One message per
    /// `sendmmsg`, so success means it was sent (the results are never read).
    fn send_udp(
        &mut self,
        fd: std::os::fd::BorrowedFd<'_>,
        dst: SocketAddr,
        batch: &SealedBatch,
        items: std::ops::Range<usize>,
        seg: usize,
    ) -> io::Result<()> {
        let seg = u16::try_from(seg).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        let iovs: [IoSlice<'_>; GSO_MAX_SEGMENTS] = std::array::from_fn(|j| {
            let i = items.start + j;
            IoSlice::new(if i < items.end {
                esp_part(batch, i)
            } else {
                &[]
            })
        });
        let n = items.len().min(GSO_MAX_SEGMENTS);
        let addr = [Some(SockaddrStorage::from(dst))];
        let cmsg = [ControlMessage::UdpGsoSegments(&seg)];
        let mut tries = 0;
        loop {
            let msgs = [&iovs[..n]];
            match sendmmsg(
                fd.as_raw_fd(),
                &mut self.udp_hdrs,
                msgs.iter(),
                addr,
                cmsg,
                MsgFlags::empty(),
            ) {
                Ok(_) => return Ok(()),
                Err(Errno::EINTR) => {}
                // The socket is non-blocking (quinn-udp): wait for room, briefly.
                Err(Errno::EAGAIN) if tries < 100 => {
                    tries += 1;
                    wait(&fd, PollFlags::POLLOUT, 10);
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    fn raw_for(&mut self, dst: IpAddr) -> io::Result<usize> {
        if let Some(i) = self.raw.iter().position(|(d, _)| *d == dst) {
            return Ok(i);
        }
        let domain = if dst.is_ipv4() {
            Domain::IPV4
        } else {
            Domain::IPV6
        };
        let s = raw_socket(self.sender.mark, domain)?;
        s.connect(&SockAddr::from(SocketAddr::new(dst, 0)))?;
        if self.raw.len() >= RAW_PEERS {
            self.raw.remove(0);
        }
        self.raw.push((dst, s));
        Ok(self.raw.len() - 1)
    }

    fn send_raw(
        &mut self,
        dst: IpAddr,
        batch: &SealedBatch,
        items: std::ops::Range<usize>,
        stats: &Stats,
    ) {
        let Ok(k) = self.raw_for(dst) else {
            // No connected socket for this destination: one unconnected send per packet.
            for i in items {
                if self.sender.send(batch.packet(i), dst).is_err() {
                    stats.send_error();
                }
            }
            return;
        };
        let fd = self.raw[k].1.as_raw_fd();
        let mut next = items.start;
        while next < items.end {
            let count = (items.end - next).min(RAW_SEND_BATCH);
            let iovs: [[IoSlice<'_>; 1]; RAW_SEND_BATCH] = std::array::from_fn(|j| {
                [IoSlice::new(if j < count {
                    batch.packet(next + j)
                } else {
                    &[]
                })]
            });
            let addrs = [None::<()>; RAW_SEND_BATCH];
            match sendmmsg(
                fd,
                &mut self.raw_hdrs,
                &iovs[..count],
                &addrs[..count],
                [],
                MsgFlags::empty(),
            ) {
                Ok(r) => {
                    let sent = r.count();
                    if sent < count {
                        // The next one failed: count it and go on after it.
                        stats.send_error();
                        next += sent + 1;
                    } else {
                        next += sent;
                    }
                }
                Err(Errno::EINTR) => {}
                Err(_) => {
                    stats.send_error();
                    next += 1;
                }
            }
        }
    }
}
