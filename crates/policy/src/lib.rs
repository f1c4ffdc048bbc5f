//! Oakley's policy engine: the Windows Server 2003 IPsec policy model (policies, rules,
//! filter lists, filter actions, authentication methods), the predefined policies, stores
//! and their precedence, validation, compilation of generic filters into specific filters,
//! per-packet classification, resultant set of policy and `explain`.
//!
//! Sans-IO except for [`store`] (files, written atomically) and [`resolver::SystemHost`]
//! (reads the host's configuration); everything else takes its inputs as arguments, so the
//! clock (`last_modified`) and the host's addresses come from the caller.

pub mod address;
pub mod algorithms;
pub mod classify;
pub mod compile;
pub mod methods;
pub mod model;
pub mod predefined;
pub mod resolver;
pub mod rsop;
pub mod store;
pub mod validate;

pub use address::{Address, Prefix, ServerKind};
pub use classify::{Classifier, Explanation, Packet};
pub use compile::{Compiled, Direction, SpecificFilter, compile, compile_rsop};
pub use model::*;
pub use rsop::{Rsop, resultant};
pub use store::{FileStore, PolicySource, StoreError, StoreLocation};
pub use validate::{ValidationError, validate_store};
