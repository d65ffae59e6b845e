//! The problem ledger (问题台账) as XLSX: one row per alert, and every alert's
//! rectification history (逐项销号) on a second sheet, in order.

use std::collections::HashMap;

use rust_xlsxwriter::{Format, Workbook, XlsxError};

use super::model::{AlertRow, EventRow, Status};
use super::rules::Rule;

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

/// The workbook's bytes.
pub fn workbook(
    alerts: &[AlertRow],
    history: &HashMap<i64, Vec<EventRow>>,
    zone: chrono_tz::Tz,
) -> Result<Vec<u8>, XlsxError> {
    let local = |t: crate::store::Ts| {
        t.0.with_timezone(&zone)
            .format("%Y-%m-%d %H:%M")
            .to_string()
    };
    let mut book = Workbook::new();
    let bold = Format::new().set_bold();
    let items = book.add_worksheet();
    items.set_name("问题台账")?;
    let heads = [
        "编号",
        "问题类型",
        "级别",
        "状态",
        "电站",
        "设备",
        "网关",
        "区域",
        "管护主体",
        "问题描述",
        "详情",
        "发现时间",
        "确认人",
        "确认时间",
        "销号人",
        "销号时间",
        "整改说明",
    ];
    for (c, h) in heads.iter().enumerate() {
        items.write_with_format(0, c as u16, *h, &bold)?;
    }
    for (i, a) in alerts.iter().enumerate() {
        let r = i as u32 + 1;
        let status = Status::parse(&a.status).map_or(a.status.as_str(), |s| s.zh());
        let rule = Rule::parse(&a.rule).map_or(a.rule.as_str(), |r| r.zh());
        let opt = |v: &Option<String>| v.clone().unwrap_or_default();
        let cells = [
            a.id.to_string(),
            rule.to_owned(),
            a.severity.clone(),
            status.to_owned(),
            opt(&a.station_code),
            opt(&a.device_code),
            opt(&a.gateway_code),
            opt(&a.area_code),
            opt(&a.om_body),
            a.title.clone(),
            a.detail.clone(),
            local(a.opened_at),
            opt(&a.acknowledged_by),
            a.acknowledged_at.map(local).unwrap_or_default(),
            opt(&a.resolved_by),
            a.resolved_at.map(local).unwrap_or_default(),
            opt(&a.resolution_note),
        ];
        for (c, v) in cells.iter().enumerate() {
            if c == 0 {
                items.write(r, 0, a.id as f64)?;
            } else {
                items.write(r, c as u16, v.as_str())?;
            }
        }
    }
    items.set_column_width(9, 50)?;
    items.set_column_width(10, 60)?;
    items.set_freeze_panes(1, 0)?;

    let log = book.add_worksheet();
    log.set_name("整改记录")?;
    for (c, h) in ["告警编号", "问题描述", "时间", "操作", "操作人", "说明"]
        .iter()
        .enumerate()
    {
        log.write_with_format(0, c as u16, *h, &bold)?;
    }
    let mut r = 1;
    for a in alerts {
        for e in history.get(&a.id).into_iter().flatten() {
            log.write(r, 0, a.id as f64)?;
            log.write(r, 1, a.title.as_str())?;
            log.write(r, 2, local(e.at))?;
            log.write(r, 3, action_zh(&e.action))?;
            log.write(r, 4, e.actor.as_str())?;
            log.write(r, 5, e.note.clone().unwrap_or_default())?;
            r += 1;
        }
    }
    log.set_column_width(1, 50)?;
    log.set_column_width(5, 60)?;
    book.save_to_buffer()
}
