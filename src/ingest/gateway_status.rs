//! Status messages of edge gateways (`{prefix}/{gateway}/status`, see crate::gateway::status):
//! checked against the ledger and the topic, then the latest per gateway is stored.

use chrono::{DateTime, Utc};

use crate::gateway::status::GatewayStatus;
use crate::store::GatewayStatusRow;
use crate::store::Ts;

/// Why a status message was not stored.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum StatusRefused {
    #[error("status of {topic_gateway}: not a gateway status message: {detail}")]
    Unparseable {
        topic_gateway: String,
        detail: String,
    },
    #[error("status on the topic of {topic_gateway} says gateway {claimed}")]
    GatewayMismatch {
        topic_gateway: String,
        claimed: String,
    },
    #[error("status of {0}: the gateway is not in the ledger")]
    UnknownGateway(String),
}

/// A status message not stored: refused (acknowledged anyway, it would only come back),
/// or the database failed (not acknowledged, so that the broker delivers it again).
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    #[error(transparent)]
    Refused(#[from] StatusRefused),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

/// Parses a status message received for `topic_gateway` at `now` into a row (pure).
pub fn parse(
    bytes: &[u8],
    topic_gateway: &str,
    now: DateTime<Utc>,
) -> Result<GatewayStatusRow, StatusRefused> {
    let status: GatewayStatus =
        serde_json::from_slice(bytes).map_err(|e| StatusRefused::Unparseable {
            topic_gateway: topic_gateway.to_owned(),
            detail: e.to_string(),
        })?;
    if status.gateway != topic_gateway {
        return Err(StatusRefused::GatewayMismatch {
            topic_gateway: topic_gateway.to_owned(),
            claimed: status.gateway,
        });
    }
    let as_i64 = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    Ok(GatewayStatusRow {
        gateway_code: status.gateway.clone(),
        received_at: Ts(now),
        sent_at: Ts(status.sent_at),
        // PostgreSQL TEXT refuses NUL; a refused write would leave the message
        // unacknowledged and the broker would deliver it again forever.
        version: status.version.replace('\0', "\u{FFFD}"),
        outbox_depth: as_i64(status.outbox.depth),
        oldest_unsent: status.outbox.oldest_unsent.map(Ts),
        thinned_total: as_i64(
            status
                .outbox
                .thinned_raw_total
                .saturating_add(status.outbox.thinned_hourly_total),
        ),
        clock_skew_ms: status.clock_skew_ms,
        poll_failures: as_i64(status.poll_failures()),
        message: String::from_utf8_lossy(bytes).into_owned(),
        thinned_at: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_for_another_gateway_is_refused() {
        let body = br#"{"gateway":"GW-2","version":"0.1.0","sent_at":"2026-06-01T00:00:00Z",
            "started_at":"2026-06-01T00:00:00Z","outbox":{"depth":3,"max_readings":10,
            "oldest_unsent":null,"appended_total":3,"thinned_raw_total":0,
            "thinned_hourly_total":0,"last_thinned_at":null},"clock_skew_ms":-1200,
            "clock_checked_at":null,"devices":{},"acked_readings":0,"reconnects":0}"#;
        assert!(matches!(
            parse(body, "GW-1", Utc::now()),
            Err(StatusRefused::GatewayMismatch { .. })
        ));
        let row = parse(body, "GW-2", Utc::now()).unwrap();
        assert_eq!((row.outbox_depth, row.clock_skew_ms), (3, Some(-1200)));
        assert!(matches!(
            parse(b"{}", "GW-2", Utc::now()),
            Err(StatusRefused::Unparseable { .. })
        ));
    }

    #[test]
    fn counters_near_u64_max_saturate_instead_of_overflowing() {
        // Fault drills (issue 7): thinned totals and per-device poll failures were
        // added with `+`/`sum`, a panic in debug builds for counters near u64::MAX.
        let max = u64::MAX;
        let body = format!(
            r#"{{"gateway":"GW-2","version":"0.1.0\u0000x","sent_at":"2026-06-01T00:00:00Z",
            "started_at":"2026-06-01T00:00:00Z","outbox":{{"depth":{max},"max_readings":10,
            "oldest_unsent":null,"appended_total":3,"thinned_raw_total":{max},
            "thinned_hourly_total":{max},"last_thinned_at":null}},"clock_skew_ms":null,
            "clock_checked_at":null,"devices":{{
              "A":{{"polls_ok":0,"poll_failures":{max},"consecutive_failures":0,"last_ok":null,"last_error":null}},
              "B":{{"polls_ok":0,"poll_failures":{max},"consecutive_failures":0,"last_ok":null,"last_error":null}}}},
            "acked_readings":0,"reconnects":0}}"#
        );
        let row = parse(body.as_bytes(), "GW-2", Utc::now()).unwrap();
        assert_eq!(
            (row.outbox_depth, row.thinned_total, row.poll_failures),
            (i64::MAX, i64::MAX, i64::MAX)
        );
        assert_eq!(row.version, "0.1.0\u{FFFD}x", "no NUL reaches the database");
    }
}
