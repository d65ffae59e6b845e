//! Chinese names of the ledger's areas and stations, for documents people read.

use std::collections::HashMap;

use crate::ledger::model::{Area, AreaLevel, Ledger};

/// Names and places by code, from the ledger (Store::load_ledger).
#[derive(Debug, Clone, Default)]
pub struct Names {
    areas: HashMap<String, Area>,
    stations: HashMap<String, String>,
}

impl Names {
    pub fn from_ledger(ledger: &Ledger) -> Self {
        Self {
            areas: ledger
                .areas
                .iter()
                .map(|a| (a.code.clone(), a.clone()))
                .collect(),
            stations: ledger
                .stations
                .iter()
                .map(|s| (s.code.clone(), s.name.clone()))
                .collect(),
        }
    }

    /// The area's name, or empty when the code is unknown (a document still prints the code).
    pub fn area(&self, code: &str) -> &str {
        self.areas.get(code).map_or("", |a| a.name.as_str())
    }

    /// The station's name, or empty.
    pub fn station(&self, code: &str) -> &str {
        self.stations.get(code).map_or("", String::as_str)
    }

    /// The nearest enclosing area of `level` (the village itself included), as (code, name).
    pub fn ancestor(&self, code: &str, level: AreaLevel) -> Option<(&str, &str)> {
        let mut cur = self.areas.get(code);
        // The ledger's hierarchy is checked on import, but a bound keeps a bad row from looping.
        for _ in 0..8 {
            let a = cur?;
            if a.level == level {
                return Some((a.code.as_str(), a.name.as_str()));
            }
            cur = a.parent_code.as_deref().and_then(|p| self.areas.get(p));
        }
        None
    }
}

/// A settlement status as printed: 草稿 / 已审核 / 已批准.
pub fn status_zh(status: &str) -> &'static str {
    match status {
        "draft" => "草稿",
        "reviewed" => "已审核",
        "approved" => "已批准",
        _ => "未知",
    }
}

/// Where a station's energy came from; anything but the grid statement is an estimate.
pub fn source_zh(source: &str) -> &'static str {
    match source {
        "grid" => "电网结算单",
        "meter" => "电表（估算）",
        "inverters" => "逆变器（估算）",
        _ => "未知",
    }
}

/// The county's income rule.
pub fn income_mode_zh(mode: &str) -> &'static str {
    match mode {
        "accrued" => "应收口径（标杆电费+应计补贴）",
        _ => "到账口径（标杆电费+当月到账补贴）",
    }
}
