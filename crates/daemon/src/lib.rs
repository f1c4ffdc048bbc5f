//! `oakleyd`, Oakley's IPsec service: the only layer that touches devices, sockets, routes,
//! clocks and randomness. It moves packets between a TUN device (cleartext the host wants
//! protected) and raw/UDP sockets (ESP and AH on the wire), using the sans-IO `esp` crate
//! for every byte of IPsec.
//!
//! By default it applies IPsec policy ([`policy_map`]) and negotiates SAs with IKEv2
//! ([`ike_task`], started by [`service`]); the data plane ([`dataplane`]) asks policy about
//! every packet ([`acquire`]). Manually keyed SAs ([`manual`]) remain for labs and
//! benchmarks.
#![forbid(unsafe_code)]

pub mod acquire;
pub mod algorithms;
pub mod child_sa;
pub mod control;
pub mod dataplane;
pub mod firewall;
pub mod ike_task;
pub mod manual;
pub mod oakley_log;
pub mod packet;
pub mod policy_map;
pub mod routing;
pub mod selector;
pub mod service;
pub mod startup;
