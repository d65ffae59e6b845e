//! `pvledger modbus probe HOST:PORT`: what a device says, for commissioning.
//!
//! A technician at a village station needs to know, before leaving, that the inverter
//! answers, which unit id and profile fit, and that the values are plausible. The probe
//! connects once, finds SunSpec (or reads the given vendor profile), prints the model list
//! and decoded values (see [`super::probe_report`]), and turns each failure into a
//! sentence that says what to check: refused (device off, wrong port), no answer (wrong
//! unit id, another client holding the only connection), not SunSpec (try `--profile`).

use std::path::PathBuf;
use std::time::Duration;

use super::backoff::BackoffPolicy;
use super::block::{ReadRequest, RegisterBlock};
use super::device::{PollError, discover_chain, read_patiently};
use super::link::{ConnectError, Link, ReadError};
use super::probe_report::{ProfileReport, SunSpecReport, render_profile, render_sunspec};
use super::profile::{LibraryError, library};
use super::sunspec;
use super::target::{DEFAULT_PORT, SUNSPEC};

/// Exit code when the device could not be read.
pub const EXIT_DEVICE: i32 = 1;
/// Exit code for arguments the user must fix.
pub const EXIT_USAGE: i32 = 2;

/// Arguments of `pvledger modbus probe`.
#[derive(Debug, Clone, clap::Args)]
pub struct ProbeArgs {
    /// Device or gateway address, HOST:PORT (port 502 when omitted).
    #[arg(value_name = "HOST:PORT")]
    pub address: String,
    /// Modbus unit id (从站地址).
    #[arg(long, default_value_t = 1)]
    pub unit: u8,
    /// "sunspec" (the default) or a vendor profile name, e.g. huawei_sun2000.
    #[arg(long, value_name = "P")]
    pub profile: Option<String>,
    /// Seconds to wait for connecting and for each answer.
    #[arg(long, default_value_t = 5.0, value_name = "SECS")]
    pub timeout: f64,
    /// Directory of vendor profiles (the shipped ones are the fallback).
    #[arg(long, default_value = library::DEFAULT_DIR, value_name = "DIR")]
    pub profiles_dir: PathBuf,
}

/// Why the probe could not report.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// `HOST:PORT` did not parse.
    #[error("地址无效 / invalid address {0:?}: expected HOST:PORT, e.g. 192.168.1.10:502")]
    BadAddress(String),
    /// `--timeout` is not a positive number of seconds.
    #[error("--timeout {0} must be a positive number of seconds")]
    BadTimeout(f64),
    /// The profile could not be loaded.
    #[error(transparent)]
    Profile(#[from] LibraryError),
    /// Connecting failed.
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// The device stopped answering.
    #[error(
        "设备无应答 / no answer: {0}\n  检查从站地址 (--unit) 和是否有其他客户端占用连接 / check the unit id, and that no other client (vendor logger, SCADA) holds the device's only Modbus TCP connection"
    )]
    NoAnswer(ReadError),
    /// The connection failed while reading.
    #[error("连接中断 / connection failed while reading: {0}")]
    Link(ReadError),
    /// No "SunS" marker.
    #[error(
        "不是 SunSpec 设备 / not a SunSpec device: no \"SunS\" at 40000, 0 or 50000\n  请指定厂家配置 / give the vendor profile, e.g. --profile huawei_sun2000 (built-in: huawei_sun2000, sungrow_sg, growatt, goodwe)"
    )]
    NotSunSpec,
    /// Discovery found a marker but the chain is broken.
    #[error("SunSpec 模型链错误 / model chain: {0}")]
    Chain(String),
    /// The gateway says the unit is not there.
    #[error("网关无法访问该从站 / the gateway cannot reach unit {unit}: {error}")]
    Unreachable {
        /// Unit id.
        unit: u8,
        /// The exception.
        error: ReadError,
    },
    /// Nothing could be read.
    #[error("没有读到任何寄存器 / no register could be read:\n  {0}")]
    NothingRead(String),
}

impl ProbeError {
    /// The process exit code for this failure.
    pub fn exit_code(&self) -> i32 {
        match self {
            ProbeError::BadAddress(_) | ProbeError::BadTimeout(_) | ProbeError::Profile(_) => {
                EXIT_USAGE
            }
            _ => EXIT_DEVICE,
        }
    }
}

impl From<ReadError> for ProbeError {
    fn from(e: ReadError) -> Self {
        match e {
            ReadError::Timeout { .. } => ProbeError::NoAnswer(e),
            _ => ProbeError::Link(e),
        }
    }
}

/// Splits `HOST:PORT`, `HOST` or `[V6]:PORT`.
pub fn parse_endpoint(text: &str) -> Result<(String, u16), ProbeError> {
    let bad = || ProbeError::BadAddress(text.to_owned());
    let text = text.trim();
    if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or_else(bad)?;
        let port = match after.strip_prefix(':') {
            Some(port) => port.parse().map_err(|_| bad())?,
            None if after.is_empty() => DEFAULT_PORT,
            None => return Err(bad()),
        };
        return Ok((host.to_owned(), port));
    }
    let (host, port) = match text.rsplit_once(':') {
        Some((host, port)) => (host, port.parse::<u16>().map_err(|_| bad())?),
        None => (text, DEFAULT_PORT),
    };
    if host.is_empty() || host.contains(':') || port == 0 {
        return Err(bad());
    }
    Ok((host.to_owned(), port))
}

/// Runs the probe and prints the report; returns the process exit code.
pub async fn run(args: ProbeArgs) -> i32 {
    match probe(&args).await {
        Ok(report) => {
            print!("{report}");
            0
        }
        Err(e) => {
            eprintln!("探测失败 / probe failed: {e}");
            e.exit_code()
        }
    }
}

/// Probes the device and returns the rendered report.
pub async fn probe(args: &ProbeArgs) -> Result<String, ProbeError> {
    let (host, port) = parse_endpoint(&args.address)?;
    if !(args.timeout.is_finite() && args.timeout > 0.0) {
        return Err(ProbeError::BadTimeout(args.timeout));
    }
    let limit = Duration::from_secs_f64(args.timeout);
    let profile = match args.profile.as_deref() {
        None => None,
        Some(name) if name.eq_ignore_ascii_case(SUNSPEC) => None,
        Some(name) => Some(library::load(&args.profiles_dir, name)?),
    };
    let mut link = Link::connect(&host, port, limit).await?;
    let endpoint = link.endpoint().to_owned();
    match profile {
        None => {
            let chain = discover_chain(&mut link, args.unit, Duration::ZERO, BackoffPolicy::BUSY)
                .await
                .map_err(|e| poll_error(e, args.unit))?;
            let base = chain
                .models
                .first()
                .map_or(0, |m| m.address.saturating_sub(2));
            let plan = sunspec::plan_reads(&chain, 125);
            let (blocks, failed_reads) =
                read_all(&mut link, args.unit, &plan, Duration::ZERO).await?;
            let decoded = sunspec::decode(&chain, &blocks);
            Ok(render_sunspec(&SunSpecReport {
                endpoint,
                unit: args.unit,
                base,
                chain,
                decoded,
                failed_reads,
            }))
        }
        Some((profile, source)) => {
            link.hold_off(Duration::from_millis(profile.pause_after_connect_ms));
            let pause = Duration::from_millis(profile.pause_between_requests_ms);
            let (blocks, failed_reads) =
                read_all(&mut link, args.unit, &profile.plan(), pause).await?;
            if blocks.is_empty() {
                return Err(ProbeError::NothingRead(failed_reads.join("\n  ")));
            }
            let decoded = profile.decode(&blocks);
            Ok(render_profile(&ProfileReport {
                endpoint,
                unit: args.unit,
                profile,
                source,
                blocks,
                decoded,
                failed_reads,
            }))
        }
    }
}

fn poll_error(e: PollError, unit: u8) -> ProbeError {
    match e {
        PollError::Link(e) => e.into(),
        PollError::NotSunSpec => ProbeError::NotSunSpec,
        PollError::Chain(text) => ProbeError::Chain(text),
        PollError::Unreachable(error) | PollError::Busy(error) => {
            ProbeError::Unreachable { unit, error }
        }
        PollError::NothingRead => ProbeError::NothingRead(String::new()),
    }
}

/// Performs every request; exceptions are collected as messages, a broken link ends it.
async fn read_all(
    link: &mut Link,
    unit: u8,
    plan: &[ReadRequest],
    pause: Duration,
) -> Result<(Vec<RegisterBlock>, Vec<String>), ProbeError> {
    let mut blocks = Vec::new();
    let mut failed = Vec::new();
    for request in plan {
        match read_patiently(link, unit, request, pause, BackoffPolicy::BUSY).await {
            Ok(block) => blocks.push(block),
            Err(e) if e.needs_reconnect() => return Err(e.into()),
            Err(e) => failed.push(e.to_string()),
        }
    }
    Ok((blocks, failed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_parse_with_and_without_a_port() {
        assert_eq!(
            parse_endpoint("192.168.1.10:1502").unwrap(),
            ("192.168.1.10".into(), 1502)
        );
        assert_eq!(
            parse_endpoint("inverter.local").unwrap(),
            ("inverter.local".into(), 502)
        );
        assert_eq!(parse_endpoint("[::1]:5020").unwrap(), ("::1".into(), 5020));
    }

    #[test]
    fn malformed_endpoints_are_refused_with_the_text() {
        for text in ["", ":502", "host:port", "host:0", "::1", "[::1"] {
            let err = parse_endpoint(text).unwrap_err();
            assert!(matches!(err, ProbeError::BadAddress(_)), "{text}");
            assert_eq!(err.exit_code(), EXIT_USAGE);
        }
    }
}
