//! What to poll: one [`PollTarget`] per device, built by hand or from the ledger.
//!
//! Settings that belong to the device's firmware (largest read, pauses a logger needs)
//! come from its vendor profile; the target may override them for one site. Timing that
//! belongs to the deployment (interval, timeout, reconnect backoff) lives on the target.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::backoff::BackoffPolicy;
use super::block::MAX_REGISTERS_PER_READ;
use super::profile::{LibraryError, Profile, ProfileLibrary};
use crate::ledger::model::{Device, Protocol};

/// The name the ledger uses for SunSpec devices in its `profile` column.
pub const SUNSPEC: &str = "sunspec";

/// Default Modbus TCP port.
pub const DEFAULT_PORT: u16 = 502;

/// How to read a device's registers.
#[derive(Debug, Clone)]
pub enum ProfileRef {
    /// SunSpec: discovery at 40000, 0, 50000, then the model chain.
    SunSpec,
    /// A vendor register map.
    Vendor(Arc<Profile>),
}

impl ProfileRef {
    /// `sunspec` or the vendor profile's name.
    pub fn name(&self) -> &str {
        match self {
            ProfileRef::SunSpec => SUNSPEC,
            ProfileRef::Vendor(profile) => &profile.name,
        }
    }
}

/// One device to poll.
#[derive(Debug, Clone)]
pub struct PollTarget {
    /// The device's ledger code; readings carry it.
    pub device_code: String,
    /// Host name or IP address of the device or its gateway.
    pub host: String,
    /// TCP port (502 unless the device says otherwise).
    pub port: u16,
    /// Modbus unit id: which device behind the host:port answers.
    pub unit_id: u8,
    /// SunSpec or a vendor profile.
    pub profile: ProfileRef,
    /// Time between the starts of two polls (default 60 s).
    pub interval: Duration,
    /// Longest wait for one request's answer (and for connecting), default 5 s.
    pub timeout: Duration,
    /// Wait after connecting before the first request; `None` = the profile's (SunSpec 0).
    pub pause_after_connect: Option<Duration>,
    /// Wait between two requests; `None` = the profile's (SunSpec 0).
    pub pause_between_requests: Option<Duration>,
    /// Largest read; `None` = the profile's (SunSpec 125).
    pub max_registers_per_read: Option<u16>,
    /// Consecutive exception-0x02 replies after which a block is no longer read.
    pub disable_block_after: u32,
    /// Reconnect backoff after a transport error or timeout.
    pub reconnect: BackoffPolicy,
    /// Backoff while the device answers exception 0x06 (busy).
    pub busy: BackoffPolicy,
}

impl PollTarget {
    /// Default poll interval.
    pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);
    /// Default request timeout: a Huawei SDongle can take 3 s for one request.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
    /// Default number of consecutive 0x02 replies before a block is disabled.
    pub const DEFAULT_DISABLE_BLOCK_AFTER: u32 = 3;

    /// A target with the default timing.
    pub fn new(
        device_code: impl Into<String>,
        host: impl Into<String>,
        port: u16,
        unit_id: u8,
        profile: ProfileRef,
    ) -> Self {
        PollTarget {
            device_code: device_code.into(),
            host: host.into(),
            port,
            unit_id,
            profile,
            interval: Self::DEFAULT_INTERVAL,
            timeout: Self::DEFAULT_TIMEOUT,
            pause_after_connect: None,
            pause_between_requests: None,
            max_registers_per_read: None,
            disable_block_after: Self::DEFAULT_DISABLE_BLOCK_AFTER,
            reconnect: BackoffPolicy::RECONNECT,
            busy: BackoffPolicy::BUSY,
        }
    }

    /// `host:port`, the key that groups targets onto one connection.
    pub fn endpoint(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The effective pause after connecting.
    pub fn effective_pause_after_connect(&self) -> Duration {
        self.pause_after_connect.unwrap_or(match &self.profile {
            ProfileRef::SunSpec => Duration::ZERO,
            ProfileRef::Vendor(p) => Duration::from_millis(p.pause_after_connect_ms),
        })
    }

    /// The effective pause between requests.
    pub fn effective_pause_between_requests(&self) -> Duration {
        self.pause_between_requests.unwrap_or(match &self.profile {
            ProfileRef::SunSpec => Duration::ZERO,
            ProfileRef::Vendor(p) => Duration::from_millis(p.pause_between_requests_ms),
        })
    }

    /// The effective largest read, never above the protocol's 125.
    pub fn effective_max_registers(&self) -> u16 {
        let profile_max = match &self.profile {
            ProfileRef::SunSpec => MAX_REGISTERS_PER_READ,
            ProfileRef::Vendor(p) => p.max_registers_per_read,
        };
        self.max_registers_per_read
            .unwrap_or(profile_max)
            .clamp(1, MAX_REGISTERS_PER_READ)
    }
}

/// Why a ledger device could not become a poll target.
#[derive(Debug, thiserror::Error)]
#[error("device {device_code}: {problem}")]
pub struct TargetError {
    /// The device's ledger code.
    pub device_code: String,
    /// What is wrong.
    pub problem: TargetProblem,
}

/// What is wrong with a ledger device's Modbus settings.
#[derive(Debug, thiserror::Error)]
pub enum TargetProblem {
    /// `host` is empty.
    #[error("no host given")]
    NoHost,
    /// `port` is not 1..=65535.
    #[error("port {0} is not between 1 and 65535")]
    BadPort(i32),
    /// `unit_id` is not 0..=255.
    #[error("unit_id {0} is not between 0 and 255")]
    BadUnitId(i32),
    /// `profile` is empty.
    #[error("no profile given (\"sunspec\" or a vendor profile name)")]
    NoProfile,
    /// The profile could not be loaded.
    #[error(transparent)]
    Profile(#[from] LibraryError),
}

/// Poll targets for the Modbus devices of the ledger, with the default timing.
///
/// MQTT devices are skipped (their gateway publishes for them). Each device that cannot be
/// polled is reported with its code, and the others are still returned: one bad row in the
/// ledger must not stop a whole county's polling. Profiles are loaded from `profiles_dir`
/// (usually `config/profiles`), falling back to the shipped ones.
pub fn targets_from_devices(
    devices: &[Device],
    profiles_dir: &Path,
) -> (Vec<PollTarget>, Vec<TargetError>) {
    let mut library = ProfileLibrary::new(profiles_dir);
    let mut targets = Vec::new();
    let mut errors = Vec::new();
    for device in devices.iter().filter(|d| d.protocol == Protocol::Modbus) {
        match target_from_device(device, &mut library) {
            Ok(target) => targets.push(target),
            Err(problem) => errors.push(TargetError {
                device_code: device.code.clone(),
                problem,
            }),
        }
    }
    (targets, errors)
}

/// [`targets_from_devices`] for every device in the stored ledger.
pub async fn targets_from_store(
    store: &crate::store::Store,
    profiles_dir: &Path,
) -> Result<(Vec<PollTarget>, Vec<TargetError>), sqlx::Error> {
    let ledger = store.load_ledger().await?;
    Ok(targets_from_devices(&ledger.devices, profiles_dir))
}

fn target_from_device(
    device: &Device,
    library: &mut ProfileLibrary,
) -> Result<PollTarget, TargetProblem> {
    let host = device
        .host
        .as_deref()
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .ok_or(TargetProblem::NoHost)?;
    let port = match device.port {
        None => DEFAULT_PORT,
        Some(p) => u16::try_from(p)
            .ok()
            .filter(|p| *p != 0)
            .ok_or(TargetProblem::BadPort(p))?,
    };
    let unit_id = match device.unit_id {
        None => 1,
        Some(u) => u8::try_from(u).map_err(|_| TargetProblem::BadUnitId(u))?,
    };
    let name = device
        .profile
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .ok_or(TargetProblem::NoProfile)?;
    let profile = if name.eq_ignore_ascii_case(SUNSPEC) {
        ProfileRef::SunSpec
    } else {
        ProfileRef::Vendor(library.get(name)?.0)
    };
    Ok(PollTarget::new(&device.code, host, port, unit_id, profile))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::model::DeviceKind;

    fn device(code: &str, protocol: Protocol, profile: Option<&str>) -> Device {
        Device {
            host: Some("10.0.0.5".into()),
            port: Some(502),
            unit_id: Some(3),
            profile: profile.map(Into::into),
            ..Device::new(code, "S1", DeviceKind::Inverter, protocol)
        }
    }

    #[test]
    fn modbus_devices_become_targets_and_mqtt_devices_are_skipped() {
        let devices = [
            device("INV-1", Protocol::Modbus, Some("sunspec")),
            device("INV-2", Protocol::Modbus, Some("huawei_sun2000")),
            device("MTR-1", Protocol::Mqtt, None),
        ];
        let (targets, errors) = targets_from_devices(&devices, Path::new("/nonexistent"));
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(targets.len(), 2);
        assert!(matches!(targets[0].profile, ProfileRef::SunSpec));
        assert_eq!(targets[1].profile.name(), "huawei_sun2000");
        assert_eq!(targets[1].endpoint(), "10.0.0.5:502");
        assert_eq!(targets[1].unit_id, 3);
        assert_eq!(
            targets[1].effective_pause_after_connect(),
            Duration::from_millis(1500)
        );
        assert_eq!(targets[1].effective_max_registers(), 64);
    }

    #[test]
    fn a_bad_device_is_reported_by_code_and_the_others_still_polled() {
        let mut bad_port = device("INV-3", Protocol::Modbus, Some("sunspec"));
        bad_port.port = Some(70000);
        let devices = [
            device("INV-1", Protocol::Modbus, Some("fronius")),
            bad_port,
            device("INV-2", Protocol::Modbus, Some("sungrow_sg")),
        ];
        let (targets, errors) = targets_from_devices(&devices, Path::new("/nonexistent"));
        assert_eq!(targets.len(), 1);
        let messages: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert!(messages[0].starts_with("device INV-1: no vendor profile \"fronius\""));
        assert_eq!(
            messages[1],
            "device INV-3: port 70000 is not between 1 and 65535"
        );
    }

    #[test]
    fn a_sunspec_target_reads_125_registers_with_no_pauses_unless_told() {
        let mut target = PollTarget::new("D", "h", 502, 1, ProfileRef::SunSpec);
        assert_eq!(target.effective_max_registers(), 125);
        assert_eq!(target.effective_pause_between_requests(), Duration::ZERO);
        target.max_registers_per_read = Some(500);
        assert_eq!(target.effective_max_registers(), 125);
    }

    #[test]
    fn an_ipv6_host_is_bracketed_in_the_endpoint() {
        let target = PollTarget::new("D", "::1", 1502, 1, ProfileRef::SunSpec);
        assert_eq!(target.endpoint(), "[::1]:1502");
    }
}
