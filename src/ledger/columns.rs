//! The columns of each ledger file, with the Chinese headers accepted in place of the
//! English ones. docs/LEDGER.md documents the same table for users.

/// One column of an import file.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    /// English header, also the exported one.
    pub name: &'static str,
    /// Chinese header accepted on import.
    pub zh: &'static str,
    pub required: bool,
}

const fn req(name: &'static str, zh: &'static str) -> Column {
    Column {
        name,
        zh,
        required: true,
    }
}
const fn opt(name: &'static str, zh: &'static str) -> Column {
    Column {
        name,
        zh,
        required: false,
    }
}

pub const VILLAGES: &[Column] = &[
    req("code", "编码"),
    req("name", "名称"),
    req("level", "级别"),
    opt("parent_code", "上级编码"),
    opt("poor_village_code", "贫困村编码"),
    opt("status", "状态"),
];

pub const STATIONS: &[Column] = &[
    req("code", "电站编码"),
    req("name", "电站名称"),
    req("kind", "电站类型"),
    req("area_code", "所在地编码"),
    req("dc_capacity_kwp", "直流装机容量"),
    opt("ac_capacity_kw", "交流容量"),
    opt("latitude", "纬度"),
    opt("longitude", "经度"),
    opt("tilt_deg", "倾角"),
    opt("azimuth_deg", "方位角"),
    opt("commissioning_date", "投运日期"),
    opt("grid_connection_date", "并网日期"),
    opt("subsidy_batch", "补贴目录批次"),
    opt("investment_yuan", "建设投资"),
    opt("funding_source", "资金来源"),
    opt("om_body", "管护主体"),
    opt("om_person", "管护责任人"),
    opt("om_phone", "联系电话"),
];

pub const TARIFFS: &[Column] = &[
    req("station_code", "电站编码"),
    req("valid_from", "起始日期"),
    req("total_price", "上网电价"),
    req("benchmark_price", "燃煤基准价"),
];

pub const SHARES: &[Column] = &[
    req("station_code", "电站编码"),
    req("village_code", "村编码"),
    req("share", "份额"),
    req("basis", "确权依据"),
    req("valid_from", "起始日期"),
];

pub const DEVICES: &[Column] = &[
    req("code", "设备编码"),
    req("station_code", "电站编码"),
    req("kind", "设备类型"),
    opt("vendor", "厂家"),
    opt("model", "型号"),
    opt("serial", "序列号"),
    opt("rated_ac_kw", "额定功率"),
    opt("dc_kwp", "直流容量"),
    req("protocol", "通信协议"),
    opt("host", "主机地址"),
    opt("port", "端口"),
    opt("unit_id", "从站地址"),
    opt("profile", "寄存器配置"),
    opt("gateway_code", "网关编码"),
];

/// Gateways take either `credential` (plain, hashed on import) or `credential_hash`.
pub const GATEWAYS: &[Column] = &[
    req("code", "网关编码"),
    req("name", "网关名称"),
    opt("area_code", "所在地编码"),
    opt("credential", "接入凭据"),
    opt("credential_hash", "凭据哈希"),
];

/// The exported gateway columns: the plain credential is never written out.
pub const GATEWAYS_EXPORT: &[&str] = &["code", "name", "area_code", "credential_hash"];

/// Finds the column a header names: English (any case) or Chinese, ignoring surrounding
/// spaces and a trailing unit in parentheses, e.g. "直流装机容量(kWp)" or "建设投资（元）".
pub fn lookup(columns: &[Column], header: &str) -> Option<Column> {
    let key = strip_unit(header.trim().trim_start_matches('\u{feff}')).trim();
    columns
        .iter()
        .copied()
        .find(|c| c.name.eq_ignore_ascii_case(key) || c.zh == key)
}

fn strip_unit(h: &str) -> &str {
    for open in ['(', '（'] {
        if let Some(i) = h.find(open) {
            let close = if open == '(' { ')' } else { '）' };
            if h.trim_end().ends_with(close) {
                return &h[..i];
            }
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_match_in_english_chinese_and_with_units() {
        assert_eq!(
            lookup(STATIONS, "DC_Capacity_kWp").unwrap().name,
            "dc_capacity_kwp"
        );
        assert_eq!(
            lookup(STATIONS, "直流装机容量(kWp)").unwrap().name,
            "dc_capacity_kwp"
        );
        assert_eq!(
            lookup(STATIONS, " 建设投资（元） ").unwrap().name,
            "investment_yuan"
        );
        assert!(lookup(STATIONS, "装机").is_none());
    }
}
