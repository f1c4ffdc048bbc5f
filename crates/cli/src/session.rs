//! A command session: the state directory, the store commands edit (`set store`), the
//! stores loaded so far, and batch mode.
//!
//! Every command runs against in-memory copies of the stores. After a command succeeds,
//! the stores it changed are validated; outside batch mode they are then written
//! (atomically, see `policy::store`). A failing command restores the copies it started
//! from, so it changes nothing. In batch mode (`set batch mode=enable`) nothing is written
//! until batch mode ends or the script finishes without error: a script is all or nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use policy::store::{FileStore, PolicySource, StoreLocation, write_atomically};
use policy::{Store, validate_store};

use crate::error::CliError;

/// File in the state directory that remembers `set store` between invocations, the way a
/// netsh session remembers it between commands.
pub const STORE_SELECTION_FILE: &str = "cli-store";

pub struct Session {
    pub state_dir: PathBuf,
    pub current: StoreLocation,
    stores: BTreeMap<StoreLocation, Store>,
    dirty: BTreeMap<StoreLocation, bool>,
    pub batch: bool,
    /// Seconds since the epoch, stamped into `last_modified`.
    pub now: u64,
}

impl Session {
    pub fn new(state_dir: &Path, now: u64) -> Session {
        let current = std::fs::read_to_string(state_dir.join(STORE_SELECTION_FILE))
            .ok()
            .and_then(|s| StoreLocation::parse(s.trim()))
            .filter(|l| *l != StoreLocation::Domain)
            .unwrap_or(StoreLocation::Local);
        Session {
            state_dir: state_dir.to_path_buf(),
            current,
            stores: BTreeMap::new(),
            dirty: BTreeMap::new(),
            batch: false,
            now,
        }
    }

    pub fn file_store(&self, location: StoreLocation) -> FileStore {
        FileStore::open(&self.state_dir, location)
    }

    fn ensure(&mut self, location: StoreLocation) -> Result<(), CliError> {
        if !self.stores.contains_key(&location) {
            let s = self.file_store(location).load()?;
            self.stores.insert(location, s);
        }
        Ok(())
    }

    /// The current store, read-only.
    pub fn store(&mut self) -> Result<&Store, CliError> {
        let loc = self.current;
        self.ensure(loc)?;
        Ok(&self.stores[&loc])
    }

    /// The current store, to change; marks it for writing.
    pub fn store_mut(&mut self) -> Result<&mut Store, CliError> {
        let loc = self.current;
        self.ensure(loc)?;
        self.dirty.insert(loc, true);
        Ok(self.stores.get_mut(&loc).expect("loaded above"))
    }

    /// A copy of the in-memory state, to roll a failed command back.
    pub fn snapshot(
        &self,
    ) -> (
        BTreeMap<StoreLocation, Store>,
        BTreeMap<StoreLocation, bool>,
        StoreLocation,
    ) {
        (self.stores.clone(), self.dirty.clone(), self.current)
    }

    pub fn restore(
        &mut self,
        snap: (
            BTreeMap<StoreLocation, Store>,
            BTreeMap<StoreLocation, bool>,
            StoreLocation,
        ),
    ) {
        self.stores = snap.0;
        self.dirty = snap.1;
        self.current = snap.2;
    }

    /// Validates every changed store (so the failing command is the one reported).
    pub fn check(&self) -> Result<(), CliError> {
        for (loc, dirty) in &self.dirty {
            if *dirty && let Some(s) = self.stores.get(loc) {
                validate_store(s)?;
            }
        }
        Ok(())
    }

    /// Writes every changed store.
    pub fn commit(&mut self) -> Result<(), CliError> {
        for (loc, dirty) in std::mem::take(&mut self.dirty) {
            if dirty && let Some(s) = self.stores.get(&loc) {
                self.file_store(loc).save(s)?;
            }
        }
        Ok(())
    }

    /// Switches the store commands edit and remembers the choice.
    pub fn select_store(&mut self, location: StoreLocation) -> Result<(), CliError> {
        write_atomically(
            &self.state_dir.join(STORE_SELECTION_FILE),
            format!("{}\n", location_word(location)).as_bytes(),
        )
        .map_err(|e| {
            CliError::new(format!(
                "cannot remember the store selection in {}: {e}",
                self.state_dir.display()
            ))
        })?;
        self.current = location;
        Ok(())
    }
}

pub fn location_word(l: StoreLocation) -> &'static str {
    match l {
        StoreLocation::Local => "local",
        StoreLocation::Persistent => "persistent",
        StoreLocation::Domain => "domain",
    }
}
