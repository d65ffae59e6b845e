//! Simulated Modbus TCP devices: each modbus device of the ledger gets a register image at
//! its host:port and unit id (SunSpec 1+103+160, or its vendor profile's layout), updated
//! every step with the simulated values, so that the service's pollers read them for real.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::Path;

use crate::ledger::model::Ledger;
use crate::modbus::sim_image::{profile_image, sunspec_image};
use crate::modbus::sim_server::{SimServer, UnitImage};
use crate::modbus::{ProfileRef, targets_from_devices};
use crate::reading::{DeviceReading, Reading};

/// The running simulated devices.
pub struct ModbusFarm {
    servers: HashMap<SocketAddr, SimServer>,
    /// Device code -> (server address, unit id, how its registers are laid out).
    devices: HashMap<String, (SocketAddr, u8, ProfileRef)>,
}

impl ModbusFarm {
    /// Starts a server for every local host:port of the ledger's modbus devices. Devices on
    /// other hosts, or on ports already taken, are left out (with a warning).
    pub async fn start(ledger: &Ledger, profiles_dir: &Path) -> ModbusFarm {
        let (targets, problems) = targets_from_devices(&ledger.devices, profiles_dir);
        for p in problems {
            tracing::warn!(device = %p.device_code, problem = %p.problem, "not simulated over Modbus");
        }
        let mut farm = ModbusFarm {
            servers: HashMap::new(),
            devices: HashMap::new(),
        };
        let mut wanted: HashMap<SocketAddr, Vec<_>> = HashMap::new();
        for t in targets {
            match format!("{}:{}", t.host, t.port).parse::<SocketAddr>() {
                Ok(addr) if addr.ip().is_loopback() => wanted.entry(addr).or_default().push(t),
                _ => {
                    tracing::warn!(device = %t.device_code, host = %t.host, "only 127.0.0.1 devices are simulated")
                }
            }
        }
        for (addr, targets) in wanted {
            match SimServer::start(addr, HashMap::new()).await {
                Ok(server) => {
                    for t in targets {
                        farm.devices
                            .insert(t.device_code.clone(), (addr, t.unit_id, t.profile.clone()));
                        if let Some(image) = image(&t.profile, &Reading::default(), &t.device_code)
                        {
                            server.set_unit(t.unit_id, image);
                        }
                    }
                    farm.servers.insert(addr, server);
                }
                Err(e) => tracing::warn!(%addr, error = %e, "cannot simulate Modbus devices there"),
            }
        }
        tracing::info!(
            devices = farm.devices.len(),
            servers = farm.servers.len(),
            "simulated Modbus devices listening"
        );
        farm
    }

    /// The devices this farm serves (their data must not also go out over MQTT).
    pub fn served(&self) -> HashSet<String> {
        self.devices.keys().cloned().collect()
    }

    /// Writes each served device's new values into its registers.
    pub fn update(&self, readings: &[DeviceReading]) {
        for r in readings {
            let Some((addr, unit, profile)) = self.devices.get(&r.device_code) else {
                continue;
            };
            if let (Some(server), Some(image)) = (
                self.servers.get(addr),
                image(profile, &r.reading, &r.device_code),
            ) {
                server.set_unit(*unit, image);
            }
        }
    }
}

fn image(profile: &ProfileRef, reading: &Reading, code: &str) -> Option<UnitImage> {
    let result = match profile {
        ProfileRef::SunSpec => sunspec_image(reading, code, 2).map_err(|e| e.to_string()),
        ProfileRef::Vendor(p) => profile_image(p, reading).map_err(|e| e.to_string()),
    };
    result.map_err(|e| tracing::debug!(device = code, error = %e, "cannot lay out the simulated registers")).ok()
}
