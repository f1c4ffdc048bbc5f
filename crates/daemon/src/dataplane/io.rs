//! The data plane on real devices: one TUN device for cleartext, raw IP sockets for ESP and
//! AH, UDP port 4500 for RFC 3948 encapsulation, and a raw send socket whose packets carry
//! the bypass firewall mark (so sealed packets leave by the main routing table instead of
//! looping back into the TUN device). One thread per receive path, blocking syscalls; the
//! per-packet work is [`Dataplane::outbound`] / [`Dataplane::inbound`].

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::thread::JoinHandle;

use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use tun_rs::{DeviceBuilder, SyncDevice};
use wire::{ip, ipv4, ipv6, udp};

use super::{Dataplane, MAX_PACKET};

/// Opens the TUN device (up, no address: routes point at it by name).
pub fn open_tun(name: &str, mtu: u16) -> io::Result<SyncDevice> {
    DeviceBuilder::new()
        .name(name)
        .mtu(mtu)
        .packet_information(false)
        .build_sync()
}

/// The socket sealed packets leave by: raw, header included, marked to bypass the TUN route.
pub struct Sender {
    v4: Socket,
    v6: Option<Socket>,
}

impl Sender {
    pub fn new(mark: u32) -> io::Result<Self> {
        let v4 = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::from(libc_raw())))?;
        v4.set_mark(mark)?;
        // IPPROTO_RAW on IPv6 implies the header is included (Linux ≥ 4.5); a host without
        // IPv6 still runs IPv4.
        let v6 = Socket::new(Domain::IPV6, Type::RAW, Some(Protocol::from(libc_raw())))
            .and_then(|s| s.set_mark(mark).map(|_| s))
            .ok();
        Ok(Self { v4, v6 })
    }

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

/// IPPROTO_RAW.
const fn libc_raw() -> i32 {
    255
}

fn recv(sock: &Socket, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
    use nix::sys::socket::{SockaddrLike, SockaddrStorage, recvfrom};
    use std::os::fd::AsRawFd;
    let (n, from) = recvfrom::<SockaddrStorage>(sock.as_raw_fd(), buf).map_err(io::Error::from)?;
    let from = from.and_then(|a| match a.family() {
        Some(nix::sys::socket::AddressFamily::Inet) => a
            .as_sockaddr_in()
            .map(|s| SocketAddr::from(std::net::SocketAddrV4::from(*s))),
        Some(nix::sys::socket::AddressFamily::Inet6) => a
            .as_sockaddr_in6()
            .map(|s| SocketAddr::from(std::net::SocketAddrV6::from(*s))),
        _ => None,
    });
    let from = from.ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "non-ip peer"))?;
    Ok((n, from))
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
    match path {
        Path::Raw { local, protocol } => {
            let domain = if local.is_ipv4() {
                Domain::IPV4
            } else {
                Domain::IPV6
            };
            let s = Socket::new(domain, Type::RAW, Some(Protocol::from(i32::from(protocol))))?;
            s.bind(&SockAddr::from(SocketAddr::new(local, 0)))?;
            s.set_recv_buffer_size(4 << 20)?;
            Ok(s)
        }
        Path::Udp { local, port } => {
            let domain = if local.is_ipv4() {
                Domain::IPV4
            } else {
                Domain::IPV6
            };
            let s = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))?;
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

/// Rebuilds the headers the kernel stripped; returns where the whole packet starts.
fn rebuild(path: Path, from: SocketAddr, buf: &mut [u8], n: usize) -> Option<usize> {
    let payload_at = HEADROOM;
    match path {
        Path::Raw {
            local: IpAddr::V4(_),
            ..
        } => Some(payload_at), // IPv4 raw: header included
        Path::Raw {
            local: IpAddr::V6(l),
            protocol,
        } => {
            let IpAddr::V6(src) = from.ip() else {
                return None;
            };
            let start = payload_at - ipv6::HEADER_LEN;
            ipv6::Repr {
                src,
                dst: l,
                next_header: protocol,
                payload_len: n,
                hop_limit: 64,
                traffic_class: 0,
                flow_label: 0,
            }
            .emit(&mut buf[start..payload_at])
            .ok()?;
            Some(start)
        }
        Path::Udp { local, port } => {
            let ulen = udp::HEADER_LEN + n;
            let (hl, start) = match local {
                IpAddr::V4(_) => (ipv4::MIN_HEADER_LEN, payload_at - udp::HEADER_LEN - 20),
                IpAddr::V6(_) => (ipv6::HEADER_LEN, 0),
            };
            match (local, from.ip()) {
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
                .emit(&mut buf[start..start + hl])
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
                .emit(&mut buf[start..start + hl])
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
            .emit(&mut buf[start + hl..payload_at])
            .ok()?;
            Some(start)
        }
    }
}

/// Runs one receive path until its socket fails: opens each packet and writes what passes
/// to the TUN device.
pub fn spawn_receiver(
    dp: Arc<Dataplane>,
    tun: Arc<SyncDevice>,
    path: Path,
    sock: Socket,
) -> io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name(format!("oakley-rx-{path:?}"))
        .spawn(move || {
            let mut buf = vec![0u8; HEADROOM + MAX_PACKET];
            loop {
                let (n, from) = match recv(&sock, &mut buf[HEADROOM..]) {
                    Ok(r) => r,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        tracing::error!(?path, "receive failed: {e}");
                        return;
                    }
                };
                let Some(start) = rebuild(path, from, &mut buf, n) else {
                    continue;
                };
                let end = HEADROOM + n;
                if let Ok(range) = dp.inbound(&mut buf[start..end]) {
                    let (a, b) = (start + range.start, start + range.end);
                    if tun.send(&buf[a..b]).is_err() {
                        dp.stats.send_error();
                    }
                }
            }
        })
}

/// Reads cleartext from the TUN device, seals it and sends it.
pub fn spawn_sender(
    dp: Arc<Dataplane>,
    tun: Arc<SyncDevice>,
    sender: Sender,
) -> io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("oakley-tx".into())
        .spawn(move || {
            let mut buf = vec![0u8; MAX_PACKET];
            let mut out = vec![0u8; MAX_PACKET + 512];
            loop {
                let n = match tun.recv(&mut buf) {
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        tracing::error!("tun read failed: {e}");
                        return;
                    }
                };
                if let Ok((len, dst)) = dp.outbound(&buf[..n], &mut out) {
                    if sender.send(&out[..len], dst).is_err() {
                        dp.stats.send_error();
                    }
                }
            }
        })
}
