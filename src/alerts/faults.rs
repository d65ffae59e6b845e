//! The vendor's fault text (Chinese, from the register profile) for a reported fault code.
//! Readings carry only the code: bitmaps as hex ("0x0001", one text per set bit), plain
//! codes in decimal, the way the profile decoder reports them.

use std::collections::HashMap;

use crate::modbus::profile::Point;
use crate::modbus::profile::library::ProfileLibrary;
use crate::reading::Field;

/// The text of `code` by the profile's fault point, when the profile knows it.
pub fn describe(point: &Point, code: &str) -> Option<String> {
    let code = code.trim();
    if point.fault_bits {
        let hex = code
            .strip_prefix("0x")
            .or_else(|| code.strip_prefix("0X"))?;
        let bits = u64::from_str_radix(hex, 16).ok()?;
        let texts: Vec<&str> = (0..64)
            .filter(|b| bits & (1u64 << b) != 0)
            .filter_map(|b| point.fault_text.get(&b).map(String::as_str))
            .collect();
        (!texts.is_empty()).then(|| texts.join("；"))
    } else {
        point.fault_text.get(&code.parse().ok()?).cloned()
    }
}

/// Fault points by profile name, loaded once from the profile library.
#[derive(Debug)]
pub struct FaultTexts {
    library: ProfileLibrary,
    points: HashMap<String, Option<Point>>,
}

impl FaultTexts {
    pub fn new(library: ProfileLibrary) -> Self {
        FaultTexts {
            library,
            points: HashMap::new(),
        }
    }

    /// The text for `code` of a device read with `profile`.
    pub fn text(&mut self, profile: Option<&str>, code: &str) -> Option<String> {
        let name = profile?;
        let library = &mut self.library;
        let point = self.points.entry(name.to_owned()).or_insert_with(|| {
            library
                .get(name)
                .ok()
                .and_then(|(p, _)| p.point(Field::FaultCode).cloned())
        });
        describe(point.as_ref()?, code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huawei_alarm_bits_and_unknown_codes() {
        let mut texts = FaultTexts::new(ProfileLibrary::new("/nonexistent"));
        assert_eq!(
            texts.text(Some("huawei_sun2000"), "0x0001").as_deref(),
            Some("组串输入电压高 (2001)")
        );
        assert_eq!(
            texts.text(Some("huawei_sun2000"), "0x8001").as_deref(),
            Some("组串输入电压高 (2001)；输出直流分量过高 (2040)")
        );
        assert_eq!(
            texts.text(Some("huawei_sun2000"), "0x0002"),
            None,
            "bit 1 has no text"
        );
        assert_eq!(
            texts.text(Some("huawei_sun2000"), "2001"),
            None,
            "not a bitmap"
        );
        assert_eq!(texts.text(None, "0x0001"), None);
    }
}
