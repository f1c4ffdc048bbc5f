//! Resultant set of policy (MISSION Q6, Q10): which assigned policies apply, from which
//! stores, and why the others do not.
//!
//! As in Windows: the persistent store's assigned policy always applies (it is the
//! fallback that keeps a host protected while other policy is missing or broken); on top
//! of it applies the domain store's assigned policy or, when the domain assigns none, the
//! local store's. A store that fails to load is reported with its error and skipped; it
//! never stops the others from applying.

use serde::Serialize;

use crate::model::Store;
use crate::store::{PolicySource, StoreLocation};

/// What one store contributed.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum StoreState {
    /// Loaded; no policy is assigned in it.
    NoAssignedPolicy,
    /// Its assigned policy applies.
    Applied { policy: String },
    /// Its assigned policy is overridden by a store of higher precedence.
    Overridden { policy: String, by: StoreLocation },
    /// It could not be loaded; the message names the file.
    Error { message: String },
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StoreReport {
    pub location: StoreLocation,
    pub origin: String,
    #[serde(flatten)]
    pub state: StoreState,
}

/// One applied policy with exactly the filter lists and filter actions its rules use.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AppliedPolicy {
    pub location: StoreLocation,
    pub origin: String,
    /// A store holding only the policy (assigned) and what it refers to.
    pub store: Store,
}

impl AppliedPolicy {
    pub fn policy(&self) -> &crate::model::Policy {
        // Built by `resultant` with exactly one policy.
        &self.store.policies[0]
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Rsop {
    /// Every store consulted, highest precedence first.
    pub stores: Vec<StoreReport>,
    /// Policies that apply, highest precedence first.
    pub applied: Vec<AppliedPolicy>,
}

/// Computes the resultant set of policy from the given stores (any order).
pub fn resultant(sources: &[&dyn PolicySource]) -> Rsop {
    let mut sorted: Vec<&&dyn PolicySource> = sources.iter().collect();
    sorted.sort_by_key(|s| s.location().precedence());
    let mut stores = Vec::new();
    let mut applied = Vec::new();
    // Domain or local: only the first one with an assigned policy applies.
    let mut non_persistent_winner: Option<StoreLocation> = None;
    for src in sorted {
        let location = src.location();
        let origin = src.origin();
        let state = match src.load() {
            Err(e) => StoreState::Error {
                message: e.to_string(),
            },
            Ok(store) => match store.assigned_policy() {
                None => StoreState::NoAssignedPolicy,
                Some(p) => {
                    let policy = p.name.clone();
                    match (location, non_persistent_winner) {
                        (StoreLocation::Persistent, _) | (_, None) => {
                            if location != StoreLocation::Persistent {
                                non_persistent_winner = Some(location);
                            }
                            applied.push(AppliedPolicy {
                                location,
                                origin: origin.clone(),
                                store: extract(&store, p),
                            });
                            StoreState::Applied { policy }
                        }
                        (_, Some(by)) => StoreState::Overridden { policy, by },
                    }
                }
            },
        };
        stores.push(StoreReport {
            location,
            origin,
            state,
        });
    }
    Rsop { stores, applied }
}

/// The policy and the lists/actions its rules use, as a small store of its own.
fn extract(store: &Store, p: &crate::model::Policy) -> Store {
    let mut out = Store {
        assigned: Some(p.name.clone()),
        policies: vec![p.clone()],
        ..Store::default()
    };
    for r in &p.rules {
        if let Some(l) = store.filter_list(&r.filter_list)
            && out.filter_list(&l.name).is_none()
        {
            out.filter_lists.push(l.clone());
        }
        if let Some(a) = store.filter_action(&r.filter_action)
            && out.filter_action(&a.name).is_none()
        {
            out.filter_actions.push(a.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::predefined;
    use crate::store::{FileStore, StoreError};

    struct FakeDomain(Result<Store, String>);
    impl PolicySource for FakeDomain {
        fn location(&self) -> StoreLocation {
            StoreLocation::Domain
        }
        fn origin(&self) -> String {
            "domain example.test".into()
        }
        fn load(&self) -> Result<Store, StoreError> {
            self.0.clone().map_err(StoreError::Unavailable)
        }
    }

    fn assigned(name: &str) -> Store {
        let mut s = Store::default();
        predefined::restore(&mut s, 0);
        s.assigned = Some(name.into());
        s
    }

    #[test]
    fn precedence_persistent_domain_local() {
        let dir = tempfile::tempdir().unwrap();
        let local = FileStore::open(dir.path(), StoreLocation::Local);
        let pers = FileStore::open(dir.path(), StoreLocation::Persistent);
        local.save(&assigned(predefined::CLIENT)).unwrap();
        pers.save(&assigned(predefined::SECURE_SERVER)).unwrap();
        let domain = FakeDomain(Ok(assigned(predefined::SERVER)));
        let r = resultant(&[&local, &domain, &pers]);
        let names: Vec<_> = r
            .applied
            .iter()
            .map(|a| (a.location, a.policy().name.as_str()))
            .collect();
        assert_eq!(
            names,
            vec![
                (StoreLocation::Persistent, predefined::SECURE_SERVER),
                (StoreLocation::Domain, predefined::SERVER)
            ]
        );
        assert_eq!(
            r.stores[2].state,
            StoreState::Overridden {
                policy: predefined::CLIENT.into(),
                by: StoreLocation::Domain
            }
        );
        // Without a domain policy, local applies.
        let r = resultant(&[&local, &pers]);
        assert_eq!(r.applied[1].policy().name, predefined::CLIENT);
        // The applied store holds what the rules use and nothing else.
        assert_eq!(r.applied[0].store.filter_lists.len(), 2);
        assert_eq!(r.applied[1].store.filter_lists.len(), 0);
    }

    #[test]
    fn corrupt_local_does_not_stop_persistent() {
        let dir = tempfile::tempdir().unwrap();
        let local = FileStore::open(dir.path(), StoreLocation::Local);
        let pers = FileStore::open(dir.path(), StoreLocation::Persistent);
        pers.save(&assigned(predefined::SECURE_SERVER)).unwrap();
        std::fs::write(local.path(), b"garbage").unwrap();
        let domain = FakeDomain(Err("domain controller unreachable".into()));
        let r = resultant(&[&local, &pers, &domain]);
        assert_eq!(r.applied.len(), 1);
        assert_eq!(r.applied[0].policy().name, predefined::SECURE_SERVER);
        match &r.stores[2].state {
            StoreState::Error { message } => assert!(message.contains("local.json"), "{message}"),
            s => panic!("{s:?}"),
        }
        assert!(matches!(r.stores[1].state, StoreState::Error { .. }));
    }
}
