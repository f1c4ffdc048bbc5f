//! The three policies Windows 2000/2003 ship (MISSION Q5), with the filter lists and filter
//! actions they use. None is assigned by default.
//!
//! Sources (public): the seeds' description of the predefined policies ("Client (Respond
//! Only)" only responds through the default response rule; "Server (Request Security)"
//! requests security and allows unsecured communication with computers that are not
//! IPsec-aware; "Secure Server (Require Security)" accepts unsecured incoming
//! communication but always secures its replies); Microsoft's "Filter action" page
//! (cc784629) for inpass ("Accept unsecured communication, but always respond using
//! IPsec") and soft ("Allow fallback to unsecured communication"); and Microsoft's server
//! and domain isolation guides, which list the "All IP Traffic" (mirrored, this computer to
//! any address, any protocol) and "All ICMP Traffic" (ICMP only) filter lists and pair
//! "All ICMP Traffic" with the "Permit" filter action. Descriptions are our own wording.
//! The default security methods are Windows' documented defaults (see `model`).

use crate::address::Address;
use crate::algorithms::{Cipher, Integrity};
use crate::methods::QmSecMethod;
use crate::model::{
    ActionKind, AuthMethod, ConnectionType, Filter, FilterAction, FilterList, Policy, Protocol,
    Rule, Store,
};

pub const CLIENT: &str = "Client (Respond Only)";
pub const SERVER: &str = "Server (Request Security)";
pub const SECURE_SERVER: &str = "Secure Server (Require Security)";

pub const ALL_IP_TRAFFIC: &str = "All IP Traffic";
pub const ALL_ICMP_TRAFFIC: &str = "All ICMP Traffic";
pub const PERMIT: &str = "Permit";
pub const REQUEST_SECURITY: &str = "Request Security (Optional)";
pub const REQUIRE_SECURITY: &str = "Require Security";

/// The filter lists of the predefined policies.
pub fn filter_lists(now: u64) -> Vec<FilterList> {
    let mut icmp = Filter::new(Address::Me, Address::Any);
    icmp.protocol = Protocol::Number(Protocol::ICMP);
    vec![
        FilterList {
            name: ALL_IP_TRAFFIC.into(),
            description: "All IP packets between this computer and any other computer".into(),
            filters: vec![Filter::new(Address::Me, Address::Any)],
            last_modified: now,
        },
        FilterList {
            name: ALL_ICMP_TRAFFIC.into(),
            description: "All ICMP packets between this computer and any other computer".into(),
            filters: vec![icmp],
            last_modified: now,
        },
    ]
}

/// The ESP methods both negotiate actions offer, strongest first.
fn esp_methods() -> Vec<QmSecMethod> {
    vec![
        QmSecMethod::esp(Cipher::TripleDes, Integrity::Sha1),
        QmSecMethod::esp(Cipher::TripleDes, Integrity::Md5),
        QmSecMethod::esp(Cipher::Des, Integrity::Sha1),
        QmSecMethod::esp(Cipher::Des, Integrity::Md5),
    ]
}

/// The filter actions of the predefined policies.
pub fn filter_actions(now: u64) -> Vec<FilterAction> {
    let mut request = FilterAction::new(REQUEST_SECURITY, now);
    request.description = "Accepts unsecured communication and requests security; falls back to \
        unsecured communication with computers that do not respond"
        .into();
    request.qm_methods = esp_methods();
    request.qm_methods.push(QmSecMethod::ah(Integrity::Sha1));
    request.qm_methods.push(QmSecMethod::ah(Integrity::Md5));
    request.inpass = true;
    request.soft = true;

    let mut require = FilterAction::new(REQUIRE_SECURITY, now);
    require.description = "Accepts unsecured communication but always responds with IPsec; \
        never communicates unsecured with computers that cannot negotiate"
        .into();
    require.qm_methods = esp_methods();
    require.inpass = true;
    require.soft = false;

    let mut permit = FilterAction::new(PERMIT, now);
    permit.description = "Permits unsecured IP packets".into();
    permit.action = ActionKind::Permit;
    permit.qm_methods = Vec::new();

    vec![permit, request, require]
}

fn rule(list: &str, action: &str) -> Rule {
    Rule {
        name: list.to_string(),
        description: String::new(),
        filter_list: list.to_string(),
        filter_action: action.to_string(),
        auth: vec![AuthMethod::Kerberos],
        tunnel: None,
        conn_type: ConnectionType::All,
        active: true,
    }
}

/// The three predefined policies (default main mode settings, active default response
/// rule with Kerberos on each).
pub fn policies(now: u64) -> Vec<Policy> {
    let mut client = Policy::new(CLIENT, now);
    client.description = "Communicates unsecured; responds to computers that request security \
        through the default response rule"
        .into();

    let mut server = Policy::new(SERVER, now);
    server.description = "For all IP traffic, requests security with Kerberos trust; allows \
        unsecured communication with clients that do not respond"
        .into();
    server.rules = vec![
        rule(ALL_IP_TRAFFIC, REQUEST_SECURITY),
        rule(ALL_ICMP_TRAFFIC, PERMIT),
    ];

    let mut secure = Policy::new(SECURE_SERVER, now);
    secure.description = "For all IP traffic, requires security with Kerberos trust; does not \
        communicate unsecured with untrusted clients"
        .into();
    secure.rules = vec![
        rule(ALL_IP_TRAFFIC, REQUIRE_SECURITY),
        rule(ALL_ICMP_TRAFFIC, PERMIT),
    ];

    vec![client, server, secure]
}

/// Adds the predefined objects to a store ("Restore Default Policies"): objects with
/// these names are replaced, everything else is kept, the assignment is unchanged.
pub fn restore(store: &mut Store, now: u64) {
    for l in filter_lists(now) {
        store
            .filter_lists
            .retain(|x| !x.name.eq_ignore_ascii_case(&l.name));
        store.filter_lists.push(l);
    }
    for a in filter_actions(now) {
        store
            .filter_actions
            .retain(|x| !x.name.eq_ignore_ascii_case(&a.name));
        store.filter_actions.push(a);
    }
    for p in policies(now) {
        store
            .policies
            .retain(|x| !x.name.eq_ignore_ascii_case(&p.name));
        store.policies.push(p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predefined_store_is_valid() {
        let mut s = Store::default();
        restore(&mut s, 0);
        crate::validate::validate_store(&s).unwrap();
        assert_eq!(s.policies.len(), 3);
        assert!(s.policy(CLIENT).unwrap().rules.is_empty());
        assert_eq!(s.assigned, None);
        // Restoring twice keeps one copy of each object.
        restore(&mut s, 1);
        assert_eq!(s.policies.len(), 3);
        assert_eq!(s.filter_actions.len(), 3);
    }
}
