//! The gateway's clock against the service's.
//!
//! Readings are stamped with the gateway's own clock (inverter clocks drift and are never
//! used). To know how far that clock is off, the gateway asks the service for
//! `clock.check_url` (its `/healthz`) and reads the HTTP `Date` header (RFC 9110: the
//! server's time when it answered, one-second resolution). The skew is the gateway's time
//! at the middle of the round trip minus the server's, so it is accurate to about
//! ±(0.5 s + round trip / 2); enough to flag a box whose clock lost its NTP source
//! (payloads more than 10 minutes ahead are refused centrally). The check is a plain
//! HTTP/1.1 request over TCP: no HTTP client library is needed on the box.

use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The last clock check, as reported in the status message.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ClockReport {
    /// Gateway clock minus service clock, milliseconds (positive = gateway ahead).
    pub skew_ms: Option<i64>,
    pub checked_at: Option<DateTime<Utc>>,
    /// Why the last check failed, if it did.
    pub error: Option<String>,
}

/// Shared between the checking task and the status reporter.
#[derive(Debug, Default)]
pub struct Clock(Mutex<ClockReport>);

impl Clock {
    pub fn report(&self) -> ClockReport {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn set(&self, report: ClockReport) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = report;
    }
}

/// The skew from one exchange: local send and receive instants and the server's `Date`.
pub fn skew_ms(sent: DateTime<Utc>, received: DateTime<Utc>, server: DateTime<Utc>) -> i64 {
    let middle = sent + (received - sent) / 2;
    // `Date` is truncated to the second: the server's true time is on average 0.5 s later.
    (middle - server).num_milliseconds() - 500
}

/// The `Date` header of a raw HTTP response head.
pub fn date_header(head: &str) -> Option<DateTime<Utc>> {
    head.lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("date"))
        .and_then(|(_, value)| DateTime::parse_from_rfc2822(value.trim()).ok())
        .map(|d| d.with_timezone(&Utc))
}

/// `http://HOST[:PORT]/PATH` split into (host, port, path).
pub fn split_url(url: &str) -> Option<(String, u16, String)> {
    let rest = url.strip_prefix("http://")?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].to_owned()),
        None => (rest, "/".to_owned()),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h, p.parse().ok()?),
        None => (authority, 80),
    };
    (!host.is_empty()).then(|| (host.to_owned(), port, path))
}

/// One check: returns the skew in milliseconds.
pub async fn check_once(url: &str) -> Result<i64, String> {
    let (host, port, path) = split_url(url)
        .ok_or_else(|| format!("clock.check_url {url:?} is not http://HOST:PORT/PATH"))?;
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        let sent = Utc::now();
        stream
            .write_all(request.as_bytes())
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        let mut buf = Vec::new();
        // The head is enough; the body of /healthz is tiny anyway.
        let mut chunk = [0u8; 1024];
        loop {
            let n = stream
                .read(&mut chunk)
                .await
                .map_err(|e| format!("{url}: {e}"))?;
            buf.extend_from_slice(&chunk[..n]);
            if n == 0 || buf.windows(4).any(|w| w == b"\r\n\r\n") || buf.len() > 16 * 1024 {
                break;
            }
        }
        let received = Utc::now();
        let head = String::from_utf8_lossy(&buf);
        let server =
            date_header(&head).ok_or_else(|| format!("{url}: no Date header in the answer"))?;
        Ok(skew_ms(sent, received, server))
    };
    tokio::time::timeout(Duration::from_secs(10), exchange)
        .await
        .map_err(|_| format!("{url}: no answer within 10 s"))?
}

/// Checks every `interval` until `shutdown`, keeping the last result in `clock`.
pub async fn run(
    url: String,
    interval: Duration,
    warn_skew: Duration,
    clock: std::sync::Arc<Clock>,
    shutdown: tokio_util::sync::CancellationToken,
) {
    loop {
        let now = Utc::now();
        match check_once(&url).await {
            Ok(skew) => {
                if skew.unsigned_abs() > warn_skew.as_millis() as u64 {
                    tracing::warn!(
                        skew_ms = skew,
                        "网关时钟偏差过大 / the gateway clock is off from the service's; fix its NTP source"
                    );
                } else {
                    tracing::debug!(skew_ms = skew, "clock checked");
                }
                clock.set(ClockReport {
                    skew_ms: Some(skew),
                    checked_at: Some(now),
                    error: None,
                });
            }
            Err(e) => {
                tracing::debug!(error = %e, "clock check failed");
                let mut report = clock.report();
                report.error = Some(e);
                clock.set(report);
            }
        }
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            () = shutdown.cancelled() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_date_header_is_found_in_any_case() {
        let head = "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ndate: Sun, 01 Nov 2026 02:00:00 GMT\r\n\r\n";
        assert_eq!(
            date_header(head).unwrap().to_rfc3339(),
            "2026-11-01T02:00:00+00:00"
        );
        assert_eq!(date_header("HTTP/1.1 200 OK\r\n\r\n"), None);
    }

    #[test]
    fn the_skew_compares_the_middle_of_the_round_trip_with_the_servers_second() {
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        // Sent at :00.0, answered at :01.0; the server said :00 (meaning :00.0-:00.999).
        let skew = skew_ms(
            t("2026-11-01T02:00:00Z"),
            t("2026-11-01T02:00:01Z"),
            t("2026-11-01T02:00:00Z"),
        );
        assert_eq!(skew, 0);
        // A gateway two minutes ahead.
        let skew = skew_ms(
            t("2026-11-01T02:02:00.4Z"),
            t("2026-11-01T02:02:00.6Z"),
            t("2026-11-01T02:00:00Z"),
        );
        assert_eq!(skew, 120_000);
    }

    #[test]
    fn check_urls_are_split_into_host_port_and_path() {
        assert_eq!(
            split_url("http://10.0.0.5:8080/healthz"),
            Some(("10.0.0.5".into(), 8080, "/healthz".into()))
        );
        assert_eq!(
            split_url("http://svc"),
            Some(("svc".into(), 80, "/".into()))
        );
        assert_eq!(split_url("https://svc/healthz"), None);
    }
}
