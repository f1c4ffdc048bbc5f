//! The control API of `oakleyd`: a Unix socket in the daemon's state directory
//! (`<state-dir>/oakleyd.sock`, mode 0600, only root or the daemon's own user may talk to
//! it) carrying JSON lines, one [`Request`] answered by one [`Response`].
//!
//! This crate holds what both ends share: the messages ([`proto`]), the persisted dynamic
//! configuration with the `netsh ipsec dynamic set config` grammar ([`config`]), and a
//! small blocking client ([`client`]) the `oakley dynamic` commands use. The server lives
//! in the daemon (`daemon::control`).
#![forbid(unsafe_code)]

pub mod client;
pub mod config;
pub mod proto;

pub use client::{Client, ClientError};
pub use config::{BootExemption, BootMode, DynamicConfig, ExemptDirection, Exemptions};
pub use proto::*;

use std::path::{Path, PathBuf};

/// File name of the socket inside the state directory.
pub const SOCKET_NAME: &str = "oakleyd.sock";

/// Longest request or response line either end accepts (bytes, newline excluded).
pub const MAX_LINE: usize = 1 << 20;

/// Where the daemon of a state directory listens.
pub fn socket_path(state_dir: &Path) -> PathBuf {
    state_dir.join(SOCKET_NAME)
}
