//! What `pvledger modbus probe` prints, as pure functions of what it read.
//!
//! Field technicians commission devices with this, often reading the screen to someone on
//! the phone, so every label is Chinese first with the English after it, unknown values
//! say "未知 unknown" (never a fake zero), and columns line up even with Chinese text
//! (which is two terminal cells per character).

use std::fmt::Write as _;

use super::block::{RegisterBlock, RegisterKind, find};
use super::profile::{Profile, ProfileReading, ProfileSource};
use super::sunspec::{Decoded, ModelChain};
use super::words::WordOrder;
use crate::reading::{DeviceStatus, Field, Reading};

/// Everything read from a SunSpec device.
#[derive(Debug, Clone)]
pub struct SunSpecReport {
    /// `host:port`.
    pub endpoint: String,
    /// Unit id.
    pub unit: u8,
    /// Address of "SunS".
    pub base: u16,
    /// The model chain.
    pub chain: ModelChain,
    /// Decoded values.
    pub decoded: Decoded,
    /// Reads that failed, as messages.
    pub failed_reads: Vec<String>,
}

/// Everything read from a device with a vendor profile.
#[derive(Debug, Clone)]
pub struct ProfileReport {
    /// `host:port`.
    pub endpoint: String,
    /// Unit id.
    pub unit: u8,
    /// The profile used.
    pub profile: Profile,
    /// Where it was loaded from.
    pub source: ProfileSource,
    /// The blocks that answered.
    pub blocks: Vec<RegisterBlock>,
    /// Decoded values.
    pub decoded: ProfileReading,
    /// Reads that failed, as messages.
    pub failed_reads: Vec<String>,
}

/// Terminal cells `text` takes: two for CJK and full-width characters.
pub fn display_width(text: &str) -> usize {
    text.chars()
        .map(|c| match c as u32 {
            0x1100..=0x115F
            | 0x2E80..=0xA4CF
            | 0xAC00..=0xD7A3
            | 0xF900..=0xFAFF
            | 0xFE30..=0xFE4F
            | 0xFF00..=0xFF60
            | 0xFFE0..=0xFFE6 => 2,
            _ => 1,
        })
        .sum()
}

/// `rows` as aligned columns, two spaces apart, indented by two.
pub fn table(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| display_width(s))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::from("  ");
        for (c, cell) in row.iter().enumerate() {
            line.push_str(cell);
            if c + 1 < row.len() {
                line.push_str(&" ".repeat(widths[c] - display_width(cell) + 2));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Chinese and English label of a reading field.
pub fn field_label(field: Field) -> &'static str {
    match field {
        Field::AcPowerW => "交流功率 AC power",
        Field::DcPowerW => "直流功率 DC power",
        Field::EnergyTotalKwh => "累计发电量 lifetime energy",
        Field::ExportEnergyKwh => "累计上网电量 exported energy",
        Field::GridVoltageV => "电网电压 grid voltage",
        Field::FrequencyHz => "电网频率 grid frequency",
        Field::TemperatureC => "机内温度 internal temperature",
        Field::IrradiancePoaWm2 => "斜面辐照度 POA irradiance",
        Field::ModuleTempC => "组件温度 module temperature",
        Field::AmbientTempC => "环境温度 ambient temperature",
        Field::Status => "运行状态 status",
        Field::FaultCode => "故障代码 fault code",
    }
}

/// Chinese and English name of a status.
pub fn status_label(status: DeviceStatus) -> &'static str {
    match status {
        DeviceStatus::Running => "运行 running",
        DeviceStatus::Standby => "待机 standby",
        DeviceStatus::Starting => "启动中 starting",
        DeviceStatus::Throttled => "限功率 throttled",
        DeviceStatus::Fault => "故障 fault",
        DeviceStatus::Off => "关机 off",
        DeviceStatus::Unknown => "未知状态 unknown state",
    }
}

/// Chinese and English name of a SunSpec model, and whether pvledger decodes it.
pub fn model_name(id: u16) -> (&'static str, bool) {
    match id {
        1 => ("通用信息 common", true),
        101 => ("单相逆变器 single-phase inverter", true),
        102 => ("分相逆变器 split-phase inverter", true),
        103 => ("三相逆变器 three-phase inverter", true),
        111 => ("单相逆变器(浮点) single-phase inverter, float", true),
        112 => ("分相逆变器(浮点) split-phase inverter, float", true),
        113 => ("三相逆变器(浮点) three-phase inverter, float", true),
        120 => ("铭牌额定值 nameplate ratings", true),
        121 => ("基本设置 basic settings", false),
        122 => ("测量与状态 measurements and status", false),
        123 => ("即时控制 immediate controls", false),
        160 => ("多路MPPT multiple MPPT", true),
        201..=204 => ("电表 meter", false),
        302..=304 => ("辐照度 irradiance", false),
        307 => ("气象站 met station", false),
        701..=799 => ("DER 信息模型 DER model", false),
        _ => ("其他 other", false),
    }
}

fn unknown() -> String {
    "未知 unknown".to_owned()
}

fn number(value: Option<f64>, unit: &str) -> String {
    match value {
        Some(v) if unit.is_empty() => format!("{v}"),
        Some(v) => format!("{v} {unit}"),
        None => unknown(),
    }
}

/// The value of `field` in `reading`, with its unit, for people.
pub fn field_value(reading: &Reading, field: Field) -> String {
    let unit = match field.unit() {
        Some("degC") => "°C",
        Some(unit) => unit,
        None => "",
    };
    match field {
        Field::Status => reading
            .status
            .map_or_else(unknown, |s| status_label(s).into()),
        Field::FaultCode => reading
            .fault_code
            .clone()
            .unwrap_or_else(|| "无 none".to_owned()),
        Field::AcPowerW => number(reading.ac_power_w, unit),
        Field::DcPowerW => number(reading.dc_power_w, unit),
        Field::EnergyTotalKwh => number(reading.energy_total_kwh, unit),
        Field::ExportEnergyKwh => number(reading.export_energy_kwh, unit),
        Field::GridVoltageV => number(reading.grid_voltage_v, unit),
        Field::FrequencyHz => number(reading.frequency_hz, unit),
        Field::TemperatureC => number(reading.temperature_c, unit),
        Field::IrradiancePoaWm2 => number(reading.irradiance_poa_wm2, unit),
        Field::ModuleTempC => number(reading.module_temp_c, unit),
        Field::AmbientTempC => number(reading.ambient_temp_c, unit),
    }
}

fn failed(out: &mut String, failed_reads: &[String]) {
    if !failed_reads.is_empty() {
        out.push_str("\n读取失败 / failed reads\n");
        for message in failed_reads {
            let _ = writeln!(out, "  {message}");
        }
    }
}

/// The report for a SunSpec device.
pub fn render_sunspec(report: &SunSpecReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Modbus 探测 / probe: {} 单元 unit {}",
        report.endpoint, report.unit
    );
    let _ = writeln!(
        out,
        "SunSpec 标识 \"SunS\" 地址 / marker at: {}\n",
        report.base
    );
    out.push_str("SunSpec 模型 / models\n");
    let mut rows = vec![vec![
        "编号 id".to_owned(),
        "地址 address".to_owned(),
        "长度 length".to_owned(),
        "名称 name".to_owned(),
        "解码 decoded".to_owned(),
    ]];
    for model in &report.chain.models {
        let (name, decoded) = model_name(model.id);
        rows.push(vec![
            model.id.to_string(),
            model.address.to_string(),
            model.length.to_string(),
            name.to_owned(),
            if decoded { "是 yes" } else { "否 no" }.to_owned(),
        ]);
    }
    out.push_str(&table(&rows));
    if !report.chain.complete {
        out.push_str("  (模型链未以 0xFFFF 结束 / chain did not reach the 0xFFFF end marker)\n");
    }

    if let Some(common) = &report.decoded.common {
        out.push_str("\n设备信息 / device\n");
        let text = |v: &Option<String>| v.clone().unwrap_or_else(unknown);
        out.push_str(&table(&[
            vec!["制造商 manufacturer".into(), text(&common.manufacturer)],
            vec!["型号 model".into(), text(&common.model)],
            vec!["序列号 serial".into(), text(&common.serial)],
            vec!["固件版本 version".into(), text(&common.version)],
        ]));
    }

    out.push_str("\n读数 / values\n");
    let mut rows: Vec<Vec<String>> = Field::ALL
        .iter()
        .filter(|f| {
            !matches!(
                f,
                Field::ExportEnergyKwh
                    | Field::IrradiancePoaWm2
                    | Field::ModuleTempC
                    | Field::AmbientTempC
            )
        })
        .map(|f| {
            vec![
                field_label(*f).into(),
                field_value(&report.decoded.reading, *f),
            ]
        })
        .collect();
    if let Some(rated) = report.decoded.rated_power_w {
        rows.push(vec![
            "额定功率 rated power".into(),
            number(Some(rated), "W"),
        ]);
    }
    out.push_str(&table(&rows));

    if !report.decoded.mppt.is_empty() {
        out.push_str("\n多路MPPT / MPPT inputs\n");
        let mut rows = vec![vec![
            "输入 input".to_owned(),
            "电压 voltage".to_owned(),
            "电流 current".to_owned(),
            "功率 power".to_owned(),
        ]];
        for m in &report.decoded.mppt {
            rows.push(vec![
                m.label
                    .clone()
                    .unwrap_or_else(|| format!("#{}", m.index + 1)),
                number(m.dc_voltage_v, "V"),
                number(m.dc_current_a, "A"),
                number(m.dc_power_w, "W"),
            ]);
        }
        out.push_str(&table(&rows));
    }
    if !report.decoded.issues.is_empty() {
        out.push_str("\n注意 / issues\n");
        for issue in &report.decoded.issues {
            let _ = writeln!(out, "  {issue:?}");
        }
    }
    failed(&mut out, &report.failed_reads);
    out
}

/// The report for a device read with a vendor profile.
pub fn render_profile(report: &ProfileReport) -> String {
    let profile = &report.profile;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Modbus 探测 / probe: {} 单元 unit {}",
        report.endpoint, report.unit
    );
    let table_name = match profile.register_kind {
        RegisterKind::Holding => "保持寄存器 holding (0x03)",
        RegisterKind::Input => "输入寄存器 input (0x04)",
    };
    let _ = writeln!(
        out,
        "厂家配置 / profile: {} ({}), 来源 source: {}",
        profile.name, profile.vendor, report.source
    );
    let order = match profile.word_order {
        WordOrder::HighFirst => "high_first (ABCD)",
        WordOrder::LowFirst => "low_first (CDAB)",
    };
    let _ = writeln!(
        out,
        "寄存器 / registers: {table_name}, 地址基 address base {}, 字序 word order {order}\n",
        profile.address_base
    );
    let mut rows = vec![vec![
        "字段 field".to_owned(),
        "文档地址 doc address".to_owned(),
        "类型 type".to_owned(),
        "原始值 raw".to_owned(),
        "数值 value".to_owned(),
    ]];
    for point in &profile.points {
        let raw = find(
            &report.blocks,
            u32::from(point.address),
            u32::from(point.register_count()),
        )
        .map_or_else(
            || "未读 not read".to_owned(),
            |words| {
                words
                    .iter()
                    .map(|w| format!("{w:04X}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            },
        );
        rows.push(vec![
            field_label(point.field).into(),
            point.document_address.to_string(),
            point.word_type.as_str().into(),
            raw,
            field_value(&report.decoded.reading, point.field),
        ]);
    }
    out.push_str(&table(&rows));
    if let Some(text) = &report.decoded.fault_text {
        let _ = writeln!(out, "\n故障说明 / fault text: {text}");
    }
    failed(&mut out, &report.failed_reads);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_characters_take_two_cells() {
        assert_eq!(display_width("id"), 2);
        assert_eq!(display_width("编号 id"), 7);
    }

    #[test]
    fn columns_line_up_with_mixed_chinese_and_english() {
        let text = table(&[
            vec!["编号 id".into(), "x".into()],
            vec!["1".into(), "y".into()],
        ]);
        assert_eq!(text, "  编号 id  x\n  1        y\n");
    }

    #[test]
    fn unknown_values_are_never_shown_as_zero() {
        let reading = Reading::default();
        assert_eq!(field_value(&reading, Field::AcPowerW), "未知 unknown");
        assert_eq!(field_value(&reading, Field::FaultCode), "无 none");
        let reading = Reading {
            temperature_c: Some(41.5),
            ..Reading::default()
        };
        assert_eq!(field_value(&reading, Field::TemperatureC), "41.5 °C");
    }

    #[test]
    fn model_names_say_whether_pvledger_decodes_them() {
        assert_eq!(model_name(103), ("三相逆变器 three-phase inverter", true));
        assert!(!model_name(64001).1);
    }
}
