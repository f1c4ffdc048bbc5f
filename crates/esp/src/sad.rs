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

use crate::counters::Counters;
use crate::sa::{Accounted, Inbound, Outbound};

/// How an inbound packet names its SA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct InboundKey {
    pub spi: u32,
    /// 50 for ESP, 51 for AH.
    pub protocol: u8,
    pub dst: IpAddr,
}

/// The handle policy holds for an outbound SA (assigned by the IKE side).
pub type OutboundId = u64;

/// A shared, lockable SA.
pub type Shared<T> = Arc<Mutex<T>>;

/// The SA database.
#[derive(Default)]
pub struct Sad {
    inbound: ArcSwap<HashMap<InboundKey, Shared<Inbound>>>,
    outbound: ArcSwap<HashMap<OutboundId, Shared<Outbound>>>,
    /// Serializes writers; readers never take it.
    write: Mutex<()>,
    /// Inbound packets whose SPI matched no SA ("bad SPI packets").
    bad_spi: AtomicU64,
    /// Counters of SAs already deleted, so global totals survive rekeys.
    retired: Mutex<Counters>,
}

impl Sad {
    pub fn new() -> Self {
        Self::default()
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

    /// Installs (or replaces) an inbound SA. Make-before-break: install the new inbound SA
    /// before the old one is deleted.
    pub fn install_inbound(&self, key: InboundKey, sa: Inbound) -> Shared<Inbound> {
        let shared = Arc::new(Mutex::new(sa));
        let s = shared.clone();
        let mut old = None;
        self.edit(&self.inbound, |m| old = m.insert(key, s));
        if let Some(o) = old {
            self.retire(o.lock().map(|sa| *sa.counters()).unwrap_or_default());
        }
        shared
    }

    /// Installs (or replaces) an outbound SA under its policy handle.
    pub fn install_outbound(&self, id: OutboundId, sa: Outbound) -> Shared<Outbound> {
        let shared = Arc::new(Mutex::new(sa));
        let s = shared.clone();
        let mut old = None;
        self.edit(&self.outbound, |m| old = m.insert(id, s));
        if let Some(o) = old {
            self.retire(o.lock().map(|sa| *sa.counters()).unwrap_or_default());
        }
        shared
    }

    /// Finds the inbound SA for a packet, or counts a bad SPI.
    pub fn lookup_inbound(&self, key: &InboundKey) -> Option<Shared<Inbound>> {
        let found = self.inbound.load().get(key).cloned();
        if found.is_none() {
            self.bad_spi.fetch_add(1, Ordering::Relaxed);
        }
        found
    }

    pub fn lookup_outbound(&self, id: OutboundId) -> Option<Shared<Outbound>> {
        self.outbound.load().get(&id).cloned()
    }

    /// Deletes an inbound SA; its counters join the retired totals.
    pub fn delete_inbound(&self, key: &InboundKey) -> bool {
        let mut old = None;
        self.edit(&self.inbound, |m| old = m.remove(key));
        match old {
            Some(o) => {
                self.retire(o.lock().map(|sa| *sa.counters()).unwrap_or_default());
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
        for sa in self.inbound.load().values() {
            if let Ok(sa) = sa.lock() {
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
