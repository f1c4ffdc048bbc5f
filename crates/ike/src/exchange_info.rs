//! INFORMATIONAL (RFC 7296 §1.4): deletes of child SAs and IKE SAs, and empty liveness
//! checks (§2.4).

use wire::ikev2::{Delete, Payload, exchange, protocol};

use crate::error::Result;
use crate::sa::Pending;
use crate::session::{ChildState, Ctx, Session};

impl Session {
    pub(crate) fn on_informational_request(
        &mut self,
        ctx: &mut Ctx<'_>,
        idx: usize,
        message_id: u32,
        p: Vec<Payload>,
    ) -> Result<()> {
        let mut delete_ike = false;
        let mut ours = Vec::new();
        for d in p.iter().filter_map(|x| match x {
            Payload::Delete(d) => Some(d),
            _ => None,
        }) {
            match d.protocol {
                protocol::IKE => delete_ike = true,
                protocol::ESP | protocol::AH => {
                    for spi in &d.spis {
                        let Ok(b) = <[u8; 4]>::try_from(spi.as_slice()) else {
                            continue;
                        };
                        let spi = u32::from_be_bytes(b);
                        // The sender lists its inbound SPIs: our outbound ones (§3.11).
                        let Some(i) = self.children.iter().position(|c| c.outbound_spi == spi)
                        else {
                            continue;
                        };
                        let c = self.children.remove(i);
                        // §1.4.1: a child we are deleting ourselves is not listed again.
                        if c.state != ChildState::Deleting {
                            ours.push(c.inbound_spi.to_be_bytes().to_vec());
                        }
                        self.emit_delete(ctx, &c);
                        self.successor_gone(ctx, &c);
                    }
                }
                _ => {}
            }
        }
        if delete_ike {
            self.send_response(ctx, idx, exchange::INFORMATIONAL, message_id, &[])?;
            self.remove_sa(ctx, idx);
            return Ok(());
        }
        let mut out = Vec::new();
        if !ours.is_empty() {
            out.push(Payload::Delete(Delete {
                protocol: protocol::ESP,
                spi_size: 4,
                spis: ours,
            }));
        }
        self.send_response(ctx, idx, exchange::INFORMATIONAL, message_id, &out)
    }

    pub(crate) fn on_informational_response(
        &mut self,
        ctx: &mut Ctx<'_>,
        idx: usize,
        pending: Pending,
        _p: Vec<Payload>,
    ) {
        match pending {
            Pending::DeleteChildren(ids) => {
                for id in ids {
                    self.remove_child(ctx, id);
                }
            }
            Pending::DeleteIke => self.remove_sa(ctx, idx),
            Pending::DeleteSpis(_) | Pending::Dpd => {}
            other => self.abandon(ctx, other),
        }
    }
}
