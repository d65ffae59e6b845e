//! The problem ledger (问题台账) as XLSX, on the shared report layer: one row per alert,
//! and every alert's rectification history (逐项销号) on a second sheet, in order.

use std::collections::HashMap;

use rust_decimal::Decimal;
use rust_xlsxwriter::XlsxError;

use super::model::{AlertRow, EventRow, Status};
use super::rules::Rule;
use crate::report::xlsx::{Book, Cell, Col, Kind, col};

fn action_zh(action: &str) -> &str {
    match action {
        "opened" => "发现（开单）",
        "acknowledged" => "确认（处理中）",
        "resolved" => "销号",
        "notified" => "已通知",
        "notify_failed" => "通知失败",
        other => other,
    }
}

const ITEMS: &[Col] = &[
    col("编号", "id", 8.0, Kind::Integer),
    col("问题类型", "rule", 16.0, Kind::Text),
    col("级别", "severity", 9.0, Kind::Text),
    col("状态", "status", 9.0, Kind::Text),
    col("电站", "station", 20.0, Kind::Text),
    col("设备", "device", 26.0, Kind::Text),
    col("网关", "gateway", 18.0, Kind::Text),
    col("区域", "area", 14.0, Kind::Text),
    col("管护主体", "O&M body", 26.0, Kind::Text),
    col("问题描述", "title", 50.0, Kind::Text),
    col("详情", "detail", 60.0, Kind::Text),
    col("发现时间", "opened", 17.0, Kind::Text),
    col("确认人", "acknowledged by", 16.0, Kind::Text),
    col("确认时间", "acknowledged", 17.0, Kind::Text),
    col("销号人", "resolved by", 16.0, Kind::Text),
    col("销号时间", "resolved", 17.0, Kind::Text),
    col("整改说明", "resolution note", 40.0, Kind::Text),
];

const HISTORY: &[Col] = &[
    col("告警编号", "alert", 9.0, Kind::Integer),
    col("问题描述", "title", 50.0, Kind::Text),
    col("时间", "at", 17.0, Kind::Text),
    col("操作", "action", 14.0, Kind::Text),
    col("操作人", "actor", 22.0, Kind::Text),
    col("说明", "note", 60.0, Kind::Text),
];

/// The workbook's bytes.
pub fn workbook(
    alerts: &[AlertRow],
    history: &HashMap<i64, Vec<EventRow>>,
    zone: chrono_tz::Tz,
) -> Result<Vec<u8>, XlsxError> {
    let local = |t: crate::store::Ts| {
        Cell::Text(
            t.0.with_timezone(&zone)
                .format("%Y-%m-%d %H:%M")
                .to_string(),
        )
    };
    let text = |v: &Option<String>| v.clone().map_or(Cell::Empty, Cell::Text);
    let mut book = Book::new();
    book.table(
        "问题台账",
        ITEMS,
        alerts.iter().map(|a| {
            vec![
                Cell::Number(Decimal::from(a.id)),
                Cell::from(Rule::parse(&a.rule).map_or(a.rule.as_str(), |r| r.zh())),
                Cell::from(a.severity.as_str()),
                Cell::from(Status::parse(&a.status).map_or(a.status.as_str(), |s| s.zh())),
                text(&a.station_code),
                text(&a.device_code),
                text(&a.gateway_code),
                text(&a.area_code),
                text(&a.om_body),
                Cell::from(a.title.as_str()),
                Cell::from(a.detail.as_str()),
                local(a.opened_at),
                text(&a.acknowledged_by),
                a.acknowledged_at.map_or(Cell::Empty, local),
                text(&a.resolved_by),
                a.resolved_at.map_or(Cell::Empty, local),
                text(&a.resolution_note),
            ]
        }),
    )?;
    book.table(
        "整改记录",
        HISTORY,
        alerts.iter().flat_map(|a| {
            history.get(&a.id).into_iter().flatten().map(move |e| {
                vec![
                    Cell::Number(Decimal::from(a.id)),
                    Cell::from(a.title.as_str()),
                    local(e.at),
                    Cell::from(action_zh(&e.action)),
                    Cell::from(e.actor.as_str()),
                    text(&e.note),
                ]
            })
        }),
    )?;
    book.finish()
}
