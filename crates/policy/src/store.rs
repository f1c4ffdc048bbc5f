//! Policy stores (MISSION Q6): where policies live, how they are written, and which one
//! wins.
//!
//! Each store is one JSON file in the state directory (`local.json`, `persistent.json`),
//! the same documented format as `exportpolicy` files (docs/ARCHITECTURE.md, "Store and
//! export file format"). Writes are atomic: the new content goes to a temporary file in the
//! same directory, is flushed with fsync, renamed over the old file, and the directory is
//! fsynced, so a crash at any point leaves the old store or the new one, never half. A
//! missing file is an empty store; a file that does not parse or validate is an error that
//! names the file.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::model::{STORE_FORMAT, STORE_VERSION, Store};
use crate::validate::{ValidationError, validate_store};

/// Default state directory of the daemon and the CLI.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/oakley";
/// Environment variable that points every command and the daemon at another state dir.
pub const STATE_DIR_ENV: &str = "OAKLEY_STATE_DIR";

/// The state directory: an explicit choice (`--state-dir`), else `OAKLEY_STATE_DIR`, else
/// /var/lib/oakley.
pub fn state_dir(explicit: Option<&Path>) -> PathBuf {
    if let Some(p) = explicit {
        return p.to_path_buf();
    }
    match std::env::var_os(STATE_DIR_ENV) {
        Some(v) if !v.is_empty() => PathBuf::from(v),
        _ => PathBuf::from(DEFAULT_STATE_DIR),
    }
}

/// The three stores of the Windows model. Order of precedence (highest first): persistent,
/// domain, local.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreLocation {
    Persistent,
    Domain,
    Local,
}

impl StoreLocation {
    /// Rank for tie-breaks: lower wins.
    pub fn precedence(self) -> u8 {
        match self {
            StoreLocation::Persistent => 0,
            StoreLocation::Domain => 1,
            StoreLocation::Local => 2,
        }
    }

    pub fn file_name(self) -> &'static str {
        match self {
            StoreLocation::Persistent => "persistent.json",
            StoreLocation::Domain => "domain.json",
            StoreLocation::Local => "local.json",
        }
    }

    pub fn parse(s: &str) -> Option<StoreLocation> {
        match s.to_ascii_lowercase().as_str() {
            "local" => Some(StoreLocation::Local),
            "persistent" => Some(StoreLocation::Persistent),
            "domain" => Some(StoreLocation::Domain),
            _ => None,
        }
    }
}

impl fmt::Display for StoreLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StoreLocation::Persistent => "Persistent Store",
            StoreLocation::Domain => "Domain Store",
            StoreLocation::Local => "Local Store",
        })
    }
}

/// Store failures; each names the file involved.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot read store {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("store {path} is corrupt: {detail}")]
    Corrupt { path: PathBuf, detail: String },
    #[error("store {path} is invalid: {source}")]
    Invalid {
        path: PathBuf,
        source: ValidationError,
    },
    #[error("cannot write store {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
    #[error("refusing to write {path}: {source}")]
    Refused {
        path: PathBuf,
        source: ValidationError,
    },
    #[error("{0}")]
    Unavailable(String),
}

/// Where a policy comes from. Local and persistent stores are files; a domain store
/// (policy delivered by a directory service) implements this trait later.
pub trait PolicySource {
    fn location(&self) -> StoreLocation;
    /// A human-readable origin (a path, a domain name) for errors and RSoP output.
    fn origin(&self) -> String;
    /// The store's content; an absent store is an empty one.
    fn load(&self) -> Result<Store, StoreError>;
}

/// A store kept in one file.
#[derive(Clone, Debug)]
pub struct FileStore {
    location: StoreLocation,
    path: PathBuf,
}

impl FileStore {
    /// The store of `location` in state directory `dir`.
    pub fn open(dir: &Path, location: StoreLocation) -> FileStore {
        FileStore {
            location,
            path: dir.join(location.file_name()),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Validates and writes atomically.
    pub fn save(&self, store: &Store) -> Result<(), StoreError> {
        validate_store(store).map_err(|source| StoreError::Refused {
            path: self.path.clone(),
            source,
        })?;
        let bytes = to_document(store);
        write_atomically(&self.path, &bytes).map_err(|source| StoreError::Write {
            path: self.path.clone(),
            source,
        })
    }
}

impl PolicySource for FileStore {
    fn location(&self) -> StoreLocation {
        self.location
    }
    fn origin(&self) -> String {
        self.path.display().to_string()
    }
    fn load(&self) -> Result<Store, StoreError> {
        match fs::read(&self.path) {
            Ok(bytes) => from_document(&self.path, &bytes),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Store::default()),
            Err(source) => Err(StoreError::Read {
                path: self.path.clone(),
                source,
            }),
        }
    }
}

/// The store document: pretty JSON with a trailing newline.
pub fn to_document(store: &Store) -> Vec<u8> {
    // Serializing plain data with string keys cannot fail.
    let mut v = serde_json::to_vec_pretty(store).unwrap_or_default();
    v.push(b'\n');
    v
}

/// Parses and validates a store or export document; errors name `path`.
pub fn from_document(path: &Path, bytes: &[u8]) -> Result<Store, StoreError> {
    let corrupt = |detail: String| StoreError::Corrupt {
        path: path.to_path_buf(),
        detail,
    };
    // Check the header first so a foreign JSON file gets a clear message.
    #[derive(Deserialize)]
    struct Header {
        format: Option<String>,
        version: Option<u32>,
    }
    let h: Header = serde_json::from_slice(bytes).map_err(|e| corrupt(e.to_string()))?;
    if h.format.as_deref() != Some(STORE_FORMAT) {
        return Err(corrupt(format!(
            "not an Oakley store (\"format\" is not \"{STORE_FORMAT}\")"
        )));
    }
    match h.version {
        Some(STORE_VERSION) => {}
        other => {
            return Err(corrupt(format!(
                "unsupported version {other:?} (this build reads {STORE_VERSION})"
            )));
        }
    }
    let store: Store = serde_json::from_slice(bytes).map_err(|e| corrupt(e.to_string()))?;
    validate_store(&store).map_err(|source| StoreError::Invalid {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(store)
}

/// Replaces `path` with `bytes` so that a crash leaves either the old or the new content:
/// temp file in the same directory, fsync, rename, fsync the directory.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp.{}", std::process::id()));
    let result = (|| {
        let mut f = open_private(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)?;
        // The rename is durable only once the directory entry is.
        File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    if result.is_ok() {
        remove_stale_temporaries(dir, &name);
    }
    result
}

/// Removes temporary files that writers killed mid-write left behind (their process is
/// gone). They never hold the only copy of anything: the rename had not happened.
fn remove_stale_temporaries(dir: &Path, name: &str) {
    let prefix = format!(".{name}.tmp.");
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let file = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = file
            .strip_prefix(&prefix)
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = fs::remove_file(e.path());
        }
    }
}

/// Store files hold pre-shared keys: readable by the owner only.
fn open_private(path: &Path) -> io::Result<File> {
    let mut o = OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path)
}

/// Merges an imported store into `into`: objects with the same name are replaced, others
/// kept; the assignment of `into` is unchanged. Returns how many objects were imported.
pub fn merge_import(into: &mut Store, from: Store) -> usize {
    let mut n = 0;
    for l in from.filter_lists {
        into.filter_lists
            .retain(|x| !x.name.eq_ignore_ascii_case(&l.name));
        into.filter_lists.push(l);
        n += 1;
    }
    for a in from.filter_actions {
        into.filter_actions
            .retain(|x| !x.name.eq_ignore_ascii_case(&a.name));
        into.filter_actions.push(a);
        n += 1;
    }
    for p in from.policies {
        into.policies
            .retain(|x| !x.name.eq_ignore_ascii_case(&p.name));
        into.policies.push(p);
        n += 1;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::predefined;

    #[test]
    fn save_load_round_trip_and_missing_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let fs = FileStore::open(dir.path(), StoreLocation::Local);
        assert_eq!(fs.load().unwrap(), Store::default());
        let mut s = Store::default();
        predefined::restore(&mut s, 7);
        s.assigned = Some(predefined::SERVER.into());
        fs.save(&s).unwrap();
        assert_eq!(fs.load().unwrap(), s);
        // No temporary file is left behind.
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("local.json")]);
    }

    #[test]
    fn corrupt_store_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let fs = FileStore::open(dir.path(), StoreLocation::Persistent);
        std::fs::write(
            fs.path(),
            b"{\"format\": \"oakley-ipsec-store\", \"version\": 1, \"policies\": [",
        )
        .unwrap();
        let e = fs.load().unwrap_err().to_string();
        assert!(
            e.contains("persistent.json") && e.contains("corrupt"),
            "{e}"
        );
        std::fs::write(fs.path(), b"{\"hello\": 1}").unwrap();
        let e = fs.load().unwrap_err().to_string();
        assert!(e.contains("not an Oakley store"), "{e}");
    }

    #[test]
    fn invalid_store_is_refused_on_save() {
        let dir = tempfile::tempdir().unwrap();
        let fs = FileStore::open(dir.path(), StoreLocation::Local);
        let s = Store {
            assigned: Some("nope".into()),
            ..Store::default()
        };
        let e = fs.save(&s).unwrap_err().to_string();
        assert!(e.contains("assigned policy \"nope\""), "{e}");
        assert!(!fs.path().exists());
    }
}
