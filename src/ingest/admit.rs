//! The ledger checks on parsed readings, pure: is the gateway known, is each device known
//! and does it belong to this gateway.

use super::directory::Snapshot;
use super::payload::{Parsed, ParsedReading, Refusal, RejectReason};
use crate::reading::Reading;

/// A reading ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct Accepted {
    pub device_id: i64,
    pub ts: chrono::DateTime<chrono::Utc>,
    pub reading: Reading,
}

/// Splits `parsed` (for `gateway`) into what may be stored and what is refused.
pub fn admit(parsed: Parsed, gateway: &str, snap: &Snapshot) -> (Vec<Accepted>, Vec<Refusal>) {
    let Parsed {
        readings,
        mut refusals,
        ..
    } = parsed;
    if !snap.gateways.contains_key(gateway) {
        for r in readings {
            refusals.push(refuse(
                r,
                RejectReason::UnknownGateway,
                format!("gateway {gateway} is not in the ledger"),
            ));
        }
        return (Vec::new(), refusals);
    }
    let mut accepted = Vec::new();
    for r in readings {
        match snap.devices.get(&r.device) {
            None => {
                let detail = format!("device {} is not in the ledger", r.device);
                refusals.push(refuse(r, RejectReason::UnknownDevice, detail));
            }
            Some(d) if d.gateway_code.as_deref() != Some(gateway) => {
                let owner = d
                    .gateway_code
                    .as_deref()
                    .unwrap_or("none (polled by the service)");
                let detail = format!(
                    "device {} belongs to gateway {owner}, not {gateway}",
                    r.device
                );
                refusals.push(refuse(r, RejectReason::ForeignDevice, detail));
            }
            Some(d) => accepted.push(Accepted {
                device_id: d.id,
                ts: r.ts,
                reading: r.reading,
            }),
        }
    }
    (accepted, refusals)
}

/// True when at least one reading names a device the snapshot does not know (worth a
/// reload before refusing: the ledger may have just been imported).
pub fn names_unknown(parsed: &Parsed, gateway: &str, snap: &Snapshot) -> bool {
    !snap.gateways.contains_key(gateway)
        || parsed
            .readings
            .iter()
            .any(|r| !snap.devices.contains_key(&r.device))
}

fn refuse(r: ParsedReading, reason: RejectReason, detail: String) -> Refusal {
    Refusal {
        reason,
        detail,
        device: Some(r.device),
        raw: r.raw,
    }
}
