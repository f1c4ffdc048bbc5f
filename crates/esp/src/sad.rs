//! The security association database: inbound SAs found by (SPI, protocol, destination)
//! (RFC 4301 §4.4.2), outbound SAs by the handle policy gave them.
//!
//! Lookups load an immutable snapshot of the index (arc-swap) and never wait for an
//! install, replace or delete, which build a new index and publish it atomically. Each SA
//! sits behind its own mutex, so workers on different cores contend only when they handle
//! the same SA (its replay window and sequence counter must stay consistent).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;

use crate::ah::{AhInbound, AhOutbound};
use crate::counters::Counters;
use crate::error::EspError;
use crate::framing::{self, Received};
use crate::sa::{Accounted, Accounting, Inbound, Outbound};

/// How an inbound packet names its SA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct InboundKey {
    pub spi: u32,
    /// 50 for ESP, 51 for AH.
    pub protocol: u8,
    pub dst: IpAddr,
}

/// An inbound SA of either protocol.
#[derive(Debug)]
pub enum InboundSa {
    Esp(Inbound),
    Ah(AhInbound),
}

/// An outbound SA of either protocol. An ESP+AH bundle is two of these, applied ESP first.
#[derive(Debug)]
pub enum OutboundSa {
    Esp(Outbound),
    Ah(AhOutbound),
}

impl InboundSa {
    pub fn spi(&self) -> u32 {
        match self {
            Self::Esp(sa) => sa.spi(),
            Self::Ah(sa) => sa.spi(),
        }
    }

    /// The IP protocol number the SA is found under (50 or 51).
    pub fn protocol(&self) -> u8 {
        match self {
            Self::Esp(_) => wire::ip::ESP,
            Self::Ah(_) => wire::ip::AH,
        }
    }

    /// The database key of this SA for packets addressed to `dst`.
    pub fn key(&self, dst: IpAddr) -> InboundKey {
        InboundKey {
            spi: self.spi(),
            protocol: self.protocol(),
            dst,
        }
    }

    /// Opens a received IP packet in place (raw ESP, ESP-in-UDP or AH).
    pub fn open(&mut self, packet: &mut [u8], transport: bool) -> Result<Received, EspError> {
        match self {
            Self::Esp(sa) => framing::open(sa, packet, transport),
            Self::Ah(sa) => sa.open(packet, transport),
        }
    }
}

impl OutboundSa {
    pub fn spi(&self) -> u32 {
        match self {
            Self::Esp(sa) => sa.spi(),
            Self::Ah(sa) => sa.spi(),
        }
    }
}

impl Accounted for InboundSa {
    fn accounting(&self) -> &Accounting {
        match self {
            Self::Esp(sa) => sa.accounting(),
            Self::Ah(sa) => sa.accounting(),
        }
    }
    fn accounting_mut(&mut self) -> &mut Accounting {
        match self {
            Self::Esp(sa) => sa.accounting_mut(),
            Self::Ah(sa) => sa.accounting_mut(),
        }
    }
}

impl Accounted for OutboundSa {
    fn accounting(&self) -> &Accounting {
        match self {
            Self::Esp(sa) => sa.accounting(),
            Self::Ah(sa) => sa.accounting(),
        }
    }
    fn accounting_mut(&mut self) -> &mut Accounting {
        match self {
            Self::Esp(sa) => sa.accounting_mut(),
            Self::Ah(sa) => sa.accounting_mut(),
        }
    }
}

impl From<Inbound> for InboundSa {
    fn from(sa: Inbound) -> Self {
        Self::Esp(sa)
    }
}

impl From<AhInbound> for InboundSa {
    fn from(sa: AhInbound) -> Self {
        Self::Ah(sa)
    }
}

impl From<Outbound> for OutboundSa {
    fn from(sa: Outbound) -> Self {
        Self::Esp(sa)
    }
}

impl From<AhOutbound> for OutboundSa {
    fn from(sa: AhOutbound) -> Self {
        Self::Ah(sa)
    }
}

/// The handle policy holds for an outbound SA (assigned by the IKE side).
pub type OutboundId = u64;

/// A shared, lockable SA.
pub type Shared<T> = Arc<Mutex<T>>;

/// An inbound SA with what the caller keeps beside it (e.g. the daemon's mode and traffic
/// selectors), found in one lookup.
#[derive(Debug)]
pub struct InboundEntry<T> {
    pub sa: Shared<InboundSa>,
    pub tag: T,
}

impl<T: Clone> Clone for InboundEntry<T> {
    fn clone(&self) -> Self {
        Self {
            sa: self.sa.clone(),
            tag: self.tag.clone(),
        }
    }
}

/// The SA database. `T` is a tag stored with each inbound SA (nothing by default).
pub struct Sad<T = ()> {
    inbound: ArcSwap<HashMap<InboundKey, InboundEntry<T>>>,
    outbound: ArcSwap<HashMap<OutboundId, Shared<OutboundSa>>>,
    /// Serializes writers; readers never take it.
    write: Mutex<()>,
    /// Inbound packets whose SPI matched no SA ("bad SPI packets").
    bad_spi: AtomicU64,
    /// Counters of SAs already deleted, so global totals survive rekeys.
    retired: Mutex<Counters>,
}

impl Default for Sad<()> {
    fn default() -> Self {
        Self::tagged()
    }
}

impl Sad<()> {
    pub fn new() -> Self {
        Self::tagged()
    }

    /// Installs (or replaces) an inbound SA for packets to `dst`, under the key its SPI and
    /// protocol give it. Make-before-break: install the new inbound SA before the old one
    /// is deleted.
    pub fn install_inbound(&self, dst: IpAddr, sa: impl Into<InboundSa>) -> Shared<InboundSa> {
        self.install_inbound_tagged(dst, sa, ())
    }
}

impl<T: Clone> Sad<T> {
    /// An empty database whose inbound SAs carry a tag of type `T`.
    pub fn tagged() -> Self {
        Self {
            inbound: ArcSwap::default(),
            outbound: ArcSwap::default(),
            write: Mutex::new(()),
            bad_spi: AtomicU64::new(0),
            retired: Mutex::new(Counters::default()),
        }
    }

    /// Installs (or replaces) an inbound SA with its tag; see [`Sad::install_inbound`].
    pub fn install_inbound_tagged(
        &self,
        dst: IpAddr,
        sa: impl Into<InboundSa>,
        tag: T,
    ) -> Shared<InboundSa> {
        let sa = sa.into();
        let key = sa.key(dst);
        let shared = Arc::new(Mutex::new(sa));
        let entry = InboundEntry {
            sa: shared.clone(),
            tag,
        };
        let mut old = None;
        self.edit(&self.inbound, |m| old = m.insert(key, entry));
        if let Some(o) = old {
            self.retire(o.sa.lock().map(|sa| *sa.counters()).unwrap_or_default());
        }
        shared
    }

    /// Finds the inbound SA for a packet with its tag, or counts a bad SPI.
    pub fn lookup_inbound_tagged(&self, key: &InboundKey) -> Option<InboundEntry<T>> {
        let found = self.inbound.load().get(key).cloned();
        if found.is_none() {
            self.bad_spi.fetch_add(1, Ordering::Relaxed);
        }
        found
    }

    fn edit<K: Clone + Eq + std::hash::Hash, V: Clone>(
        &self,
        map: &ArcSwap<HashMap<K, V>>,
        f: impl FnOnce(&mut HashMap<K, V>),
    ) {
        let _w = self.write.lock().unwrap_or_else(|p| p.into_inner());
        let mut next = HashMap::clone(&map.load());
        f(&mut next);
        map.store(Arc::new(next));
    }

    /// Installs (or replaces) an outbound SA under its policy handle.
    pub fn install_outbound(
        &self,
        id: OutboundId,
        sa: impl Into<OutboundSa>,
    ) -> Shared<OutboundSa> {
        let shared = Arc::new(Mutex::new(sa.into()));
        let s = shared.clone();
        let mut old = None;
        self.edit(&self.outbound, |m| old = m.insert(id, s));
        if let Some(o) = old {
            self.retire(o.lock().map(|sa| *sa.counters()).unwrap_or_default());
        }
        shared
    }

    /// Finds the inbound SA for a packet, or counts a bad SPI.
    pub fn lookup_inbound(&self, key: &InboundKey) -> Option<Shared<InboundSa>> {
        self.lookup_inbound_tagged(key).map(|e| e.sa)
    }

    pub fn lookup_outbound(&self, id: OutboundId) -> Option<Shared<OutboundSa>> {
        self.outbound.load().get(&id).cloned()
    }

    /// Deletes an inbound SA; its counters join the retired totals.
    pub fn delete_inbound(&self, key: &InboundKey) -> bool {
        let mut old = None;
        self.edit(&self.inbound, |m| old = m.remove(key));
        match old {
            Some(o) => {
                self.retire(o.sa.lock().map(|sa| *sa.counters()).unwrap_or_default());
                true
            }
            None => false,
        }
    }

    /// Deletes an outbound SA.
    pub fn delete_outbound(&self, id: OutboundId) -> bool {
        let mut old = None;
        self.edit(&self.outbound, |m| old = m.remove(&id));
        match old {
            Some(o) => {
                self.retire(o.lock().map(|sa| *sa.counters()).unwrap_or_default());
                true
            }
            None => false,
        }
    }

    fn retire(&self, c: Counters) {
        self.retired
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .add(&c);
    }

    /// Inbound packets that named no SA.
    pub fn bad_spi_packets(&self) -> u64 {
        self.bad_spi.load(Ordering::Relaxed)
    }

    pub fn inbound_len(&self) -> usize {
        self.inbound.load().len()
    }

    pub fn outbound_len(&self) -> usize {
        self.outbound.load().len()
    }

    /// Global totals: live SAs in both directions plus every SA deleted so far.
    pub fn totals(&self) -> Counters {
        let mut t = *self.retired.lock().unwrap_or_else(|p| p.into_inner());
        for e in self.inbound.load().values() {
            if let Ok(sa) = e.sa.lock() {
                t.add(sa.counters());
            }
        }
        for sa in self.outbound.load().values() {
            if let Ok(sa) = sa.lock() {
                t.add(sa.counters());
            }
        }
        t
    }
}
