//! Grouping a profile's points into as few reads as the device allows.
//!
//! Slow gateways (a Huawei SDongle takes 0.2-3 s per request) make the request count the
//! poll time, so neighbouring points share a read, and a small gap of unused registers is
//! read rather than paid for with another round trip. The gap is bounded by `max_gap`
//! because unmapped registers can raise exception 2 on some firmware; a profile that meets
//! that sets `max_gap = 0`.

use super::Profile;
use crate::modbus::block::ReadRequest;

impl Profile {
    /// The reads covering every point: sorted by address, each at most
    /// `max_registers_per_read` long, joining points separated by at most `max_gap`
    /// unused registers. A point is never split over two reads.
    pub fn plan(&self) -> Vec<ReadRequest> {
        let mut spans: Vec<(u32, u32)> = self
            .points
            .iter()
            .map(|p| (u32::from(p.address), p.end()))
            .collect();
        spans.sort_unstable();

        let max = u32::from(self.max_registers_per_read);
        let gap = u32::from(self.max_gap);
        let mut merged: Vec<(u32, u32)> = Vec::new();
        for (start, end) in spans {
            match merged.last_mut() {
                Some((from, to)) if start <= *to + gap && end - *from <= max => {
                    *to = (*to).max(end)
                }
                _ => merged.push((start, end)),
            }
        }
        merged
            .into_iter()
            .map(|(start, end)| ReadRequest {
                kind: self.register_kind,
                address: start as u16,
                count: (end - start) as u16,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use crate::modbus::profile::Profile;

    fn profile(max: u16, gap: u16, points: &[(u32, &str, &str)]) -> Profile {
        let mut text = format!(
            "name = \"t\"\nvendor = \"t\"\nregister_kind = \"input\"\naddress_base = 0\n\
             word_order = \"high_first\"\nmax_registers_per_read = {max}\nmax_gap = {gap}\n"
        );
        for (address, field, ty) in points {
            text.push_str(&format!(
                "[[points]]\nfield = \"{field}\"\naddress = {address}\ntype = \"{ty}\"\n"
            ));
        }
        Profile::from_toml_str(&text).unwrap()
    }

    fn spans(profile: &Profile) -> Vec<(u16, u16)> {
        profile
            .plan()
            .iter()
            .map(|r| (r.address, r.count))
            .collect()
    }

    #[test]
    fn contiguous_points_share_one_read() {
        let p = profile(
            125,
            0,
            &[(10, "ac_power_w", "i32"), (12, "frequency_hz", "u16")],
        );
        assert_eq!(spans(&p), vec![(10, 3)]);
    }

    #[test]
    fn a_small_gap_is_read_through_and_a_large_one_is_not() {
        let p = profile(
            125,
            4,
            &[
                (10, "ac_power_w", "u16"),
                (15, "frequency_hz", "u16"),
                (40, "grid_voltage_v", "u16"),
            ],
        );
        assert_eq!(spans(&p), vec![(10, 6), (40, 1)]);
    }

    #[test]
    fn reads_never_exceed_the_profile_limit() {
        let fields = [
            "dc_power_w",
            "ac_power_w",
            "energy_total_kwh",
            "export_energy_kwh",
            "grid_voltage_v",
            "frequency_hz",
        ];
        // Six 2-register points 14 apart: all gaps are cheap, but 72 registers exceed 64.
        let points: Vec<(u32, &str, &str)> = (0u32..)
            .zip(fields)
            .map(|(i, f)| (32064 + 14 * i, f, "u32"))
            .collect();
        let p = profile(64, 16, &points);
        assert_eq!(spans(&p), vec![(32064, 58), (32134, 2)]);
        assert!(p.plan().iter().all(|r| r.count <= 64));
    }

    #[test]
    fn points_are_planned_in_address_order_whatever_the_file_order() {
        let p = profile(
            125,
            0,
            &[(50, "ac_power_w", "u16"), (5, "frequency_hz", "u16")],
        );
        assert_eq!(spans(&p), vec![(5, 1), (50, 1)]);
    }

    #[test]
    fn requests_use_the_profiles_register_table() {
        let p = profile(125, 0, &[(0, "ac_power_w", "u16")]);
        assert_eq!(p.plan()[0].kind, crate::modbus::block::RegisterKind::Input);
    }
}
