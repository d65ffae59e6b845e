//! The message catalogue: every text a page shows, in Chinese (the default) and English.
//! One table, so that a translation is never missing in one language only (a test checks
//! that every key the pages use is here).

use axum::extract::{Path, Query};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::auth::Role;
use crate::http::session::cookie;

/// Name of the language cookie.
const LANG_COOKIE: &str = "pvl_lang";

/// A page language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Zh,
    En,
}

impl Lang {
    pub fn parse(s: &str) -> Option<Lang> {
        match s {
            "zh" => Some(Lang::Zh),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }

    pub fn html_code(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    pub fn other(self) -> Lang {
        match self {
            Lang::Zh => Lang::En,
            Lang::En => Lang::Zh,
        }
    }

    /// The language's name in itself (for the switch).
    pub fn self_name(self) -> &'static str {
        match self {
            Lang::Zh => "中文",
            Lang::En => "English",
        }
    }

    /// `?lang=` first, then the cookie, then Chinese.
    pub fn from_parts(parts: &Parts) -> Lang {
        let query = parts.uri.query().unwrap_or_default();
        query
            .split('&')
            .filter_map(|kv| kv.strip_prefix("lang="))
            .find_map(Lang::parse)
            .or_else(|| cookie(&parts.headers, LANG_COOKIE).and_then(|v| Lang::parse(&v)))
            .unwrap_or(Lang::Zh)
    }

    /// The text for `key`; the key itself when missing (a test keeps that from happening).
    pub fn t(self, key: &str) -> &'static str {
        match CATALOGUE.iter().find(|(k, _, _)| *k == key) {
            Some((_, zh, en)) => match self {
                Lang::Zh => zh,
                Lang::En => en,
            },
            None => {
                tracing::warn!(key, "missing page text");
                "?"
            }
        }
    }

    pub fn role(self, r: Role) -> &'static str {
        match self {
            Lang::Zh => r.label_zh(),
            Lang::En => match r {
                Role::Admin => "administrator",
                Role::Bureau => "energy bureau",
                Role::Finance => "finance",
                Role::Technician => "technician",
                Role::Village => "village committee",
            },
        }
    }
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

/// GET /lang/{code}?next=: remembers the language in a cookie and goes back.
pub async fn switch(Path(code): Path<String>, Query(q): Query<NextQuery>) -> Response {
    let lang = Lang::parse(&code).unwrap_or(Lang::Zh);
    let next = match q.next.as_deref() {
        Some(n) if n.starts_with('/') && !n.starts_with("//") => n.to_owned(),
        _ => "/".into(),
    };
    let mut h = HeaderMap::new();
    h.insert(
        header::SET_COOKIE,
        format!(
            "{LANG_COOKIE}={}; Path=/; SameSite=Strict; Max-Age=31536000",
            lang.code()
        )
        .parse()
        .expect("ASCII cookie"),
    );
    (h, Redirect::to(&next)).into_response()
}

/// (key, Chinese, English)
const CATALOGUE: &[(&str, &str, &str)] = &[
    (
        "brand",
        "村级光伏扶贫电站监测与收益结算",
        "Village PV poverty-relief stations",
    ),
    ("nav.home", "返回首页", "Home"),
    ("nav.overview", "总览", "Overview"),
    ("nav.alerts", "告警", "Alerts"),
    ("nav.settlements", "收益结算", "Settlements"),
    ("nav.ledger", "台账", "Ledger"),
    ("nav.audit", "审计日志", "Audit log"),
    ("nav.village", "本村收益", "Our village"),
    ("nav.password", "修改密码", "Password"),
    ("nav.logout", "退出", "Log out"),
    ("forbidden.title", "无权访问", "Not allowed"),
    (
        "forbidden.text",
        "您的角色无权查看此页面或执行此操作：",
        "Your role may not see this page or do this:",
    ),
    ("login.title", "登录", "Log in"),
    ("login.user", "用户名", "User name"),
    ("login.password", "密码", "Password"),
    ("login.submit", "登录", "Log in"),
    (
        "login.expired",
        "登录页面已过期，请重新输入 (the form expired; please try again)",
        "The login form expired; please try again",
    ),
    ("password.title", "修改密码", "Change password"),
    (
        "password.must",
        "您正在使用一次性密码，请先设置自己的新密码。",
        "You are using a one-time password: choose your own before continuing.",
    ),
    ("password.current", "当前密码", "Current password"),
    ("password.new", "新密码", "New password"),
    ("password.repeat", "再次输入新密码", "New password again"),
    ("password.submit", "修改", "Change"),
    (
        "password.rule",
        "至少 10 个字符，不能与用户名或当前密码相同。修改后其他已登录的会话将失效。",
        "At least 10 characters, different from the user name and the current password. Other sessions are logged out.",
    ),
    (
        "password.mismatch",
        "两次输入的新密码不一致",
        "The two new passwords differ",
    ),
    ("overview.title", "全县电站总览", "County overview"),
    ("overview.power", "当前功率", "Power now"),
    ("overview.today", "今日发电量", "Energy today"),
    ("overview.month", "本月发电量", "Energy this month"),
    ("overview.year", "本年发电量", "Energy this year"),
    ("overview.producing", "发电中", "Producing"),
    ("overview.offline", "离线", "Offline"),
    ("overview.fault", "故障", "Faulty"),
    ("overview.standby", "待机/夜间", "Standby / night"),
    (
        "overview.stations",
        "电站分布（按经纬度，颜色表示状态）",
        "Stations by position, coloured by health",
    ),
    (
        "overview.worst_assessed",
        "近 30 天成效最差的电站（按等级、同组比）",
        "Worst performers, last 30 days (grade, peer ratio)",
    ),
    (
        "overview.worst",
        "近 30 天等效利用小时最低的电站",
        "Lowest specific yield, last 30 days",
    ),
    ("overview.alerts", "未处理告警", "Open alerts"),
    ("col.station", "电站", "Station"),
    ("col.code", "编码", "Code"),
    ("col.kind", "类型", "Kind"),
    ("col.capacity", "装机容量 (kWp)", "Capacity (kWp)"),
    ("col.state", "状态", "State"),
    ("col.power", "功率 (kW)", "Power (kW)"),
    ("col.today", "今日 (kWh)", "Today (kWh)"),
    ("col.yield30", "30 天等效小时 (h)", "30-day yield (kWh/kWp)"),
    ("col.village", "村", "Village"),
    ("col.share", "份额", "Share"),
    ("col.basis", "确权依据", "Basis"),
    ("col.from", "起始日期", "From"),
    ("col.device", "设备", "Device"),
    ("col.vendor", "厂家/型号", "Vendor / model"),
    ("col.protocol", "接入方式", "Protocol"),
    ("col.last", "最新数据", "Last reading"),
    ("col.status", "状态码", "Status"),
    ("col.period", "结算月份", "Period"),
    ("col.county", "县", "County"),
    ("col.total", "合计 (元)", "Total (yuan)"),
    ("col.distributable", "可分配 (元)", "Distributable (yuan)"),
    ("col.energy", "电量 (kWh)", "Energy (kWh)"),
    ("col.income", "收入 (元)", "Income (yuan)"),
    ("col.amount", "金额 (元)", "Amount (yuan)"),
    ("col.use", "用途", "Use"),
    ("col.at", "时间", "Time"),
    ("col.actor", "操作人", "Actor"),
    ("col.action", "操作", "Action"),
    ("col.subject", "对象", "Subject"),
    ("col.detail", "详情", "Detail"),
    ("col.name", "名称", "Name"),
    ("col.level", "级别", "Level"),
    ("col.parent", "上级", "Parent"),
    ("col.om", "管护主体", "O&M body"),
    ("state.producing", "发电中", "producing"),
    ("state.night_standby", "夜间待机", "night standby"),
    ("state.standby", "待机", "standby"),
    ("state.offline", "离线", "offline"),
    ("state.fault", "故障", "fault"),
    ("station.title", "电站", "Station"),
    (
        "station.power",
        "近 24 小时功率曲线 (kW)",
        "Power, last 24 hours (kW)",
    ),
    (
        "station.daily",
        "近 30 天日发电量 (kWh)",
        "Daily energy, last 30 days (kWh)",
    ),
    (
        "station.monthly",
        "本年各月发电量 (kWh)",
        "Monthly energy this year (kWh)",
    ),
    ("station.inverters", "逆变器", "Inverters"),
    ("station.ledger", "台账信息", "Ledger data"),
    (
        "station.shares",
        "各村份额（现行）",
        "Village shares in force",
    ),
    ("station.om_person", "管护责任人", "O&M person"),
    ("station.grid_date", "并网日期", "Grid connection"),
    ("station.batch", "补贴目录批次", "Subsidy batch"),
    ("station.nodata", "暂无数据", "No data"),
    ("station.alerts", "告警", "Alerts"),
    ("settle.title", "月度收益结算", "Monthly settlements"),
    ("settle.run", "结算月份", "Settle a month"),
    ("settle.run_button", "计算草稿", "Compute draft"),
    (
        "settle.county",
        "县编码（仅一个县时可不填）",
        "County code (optional with one county)",
    ),
    ("settle.status.draft", "草稿", "draft"),
    ("settle.status.reviewed", "已审核", "reviewed"),
    ("settle.status.approved", "已批准", "approved"),
    ("settle.review", "审核", "Review"),
    ("settle.approve", "批准", "Approve"),
    ("settle.detail", "结算单", "Settlement"),
    ("settle.stations", "各电站", "Stations"),
    ("settle.villages", "各村收益", "Villages"),
    ("settle.uses", "各村用途", "Uses by village"),
    ("settle.none", "还没有结算。", "No settlements yet."),
    ("settle.done", "操作成功", "Done"),
    ("settle.downloads", "下载", "Download"),
    (
        "settle.locked",
        "已审核或已批准的结算不可修改；之后的更正将作为调整计入下月。",
        "Reviewed and approved settlements are immutable; later corrections become adjustments next month.",
    ),
    (
        "audit.title",
        "审计日志（最新在前）",
        "Audit log (newest first)",
    ),
    ("ledger.title", "电站台账", "Station ledger"),
    ("ledger.stations", "电站", "Stations"),
    ("ledger.villages", "行政区划与村", "Areas and villages"),
    ("ledger.shares", "份额", "Shares"),
    ("ledger.devices", "设备", "Devices"),
    ("ledger.import", "导入台账 CSV", "Import ledger CSV"),
    (
        "ledger.import_help",
        "选择一个或多个台账文件（villages.csv、stations.csv、tariffs.csv、shares.csv、gateways.csv、devices.csv），UTF-8 或 GBK 均可。全部通过检查才写入，否则逐行列出错误。",
        "Choose one or more ledger files (villages.csv, stations.csv, tariffs.csv, shares.csv, gateways.csv, devices.csv), UTF-8 or GBK. Nothing is written unless every line passes; errors are listed per line.",
    ),
    ("ledger.import_button", "上传并导入", "Upload and import"),
    ("ledger.import_ok", "导入成功", "Imported"),
    (
        "ledger.import_failed",
        "导入失败，未做任何修改：",
        "Import refused, nothing was changed:",
    ),
    ("ledger.file", "文件", "File"),
    ("ledger.line", "行", "Line"),
    ("ledger.column", "列", "Column"),
    ("ledger.reason", "问题", "Problem"),
    ("ledger.new", "新增", "new"),
    ("ledger.changed", "修改", "changed"),
    ("ledger.unchanged", "未变", "unchanged"),
    (
        "settle.workbook",
        "下载结算工作簿 (XLSX)",
        "Download the workbook (XLSX)",
    ),
    ("settle.statement_pdf", "公示单 PDF", "Statement PDF"),
    (
        "settle.draft_documents",
        "未批准：文件标注为草稿，不得张贴公示。",
        "Not approved: the documents are marked as drafts, not for posting.",
    ),
    ("col.statement", "公示单", "Statement"),
    ("col.to", "结束日期", "To"),
    ("nav.assessment", "成效评估", "Assessment"),
    (
        "assess.title",
        "电站成效评估",
        "Station efficacy assessment",
    ),
    ("assess.kind", "期间", "Period"),
    ("assess.kind.month", "月", "Month"),
    ("assess.kind.quarter", "季度", "Quarter"),
    ("assess.kind.year", "年", "Year"),
    ("assess.kind.range", "自定义日期", "Date range"),
    ("assess.at", "月 / 季度 / 年", "Month / quarter / year"),
    ("assess.go", "评估", "Assess"),
    (
        "assess.help",
        "月填 2026-10，季度填 2026-Q4，年填 2026；自定义日期填开始和结束日期。期间截至今天。",
        "Month 2026-10, quarter 2026-Q4, year 2026; a date range uses From and To. Periods end today at the latest.",
    ),
    (
        "assess.peers",
        "同组对比：同县（或乡镇）电站当日中位数",
        "Peers: the daily median of the county's (or township's) stations",
    ),
    ("assess.grade", "等级", "Grade"),
    ("assess.grade.excellent", "优", "excellent"),
    ("assess.grade.good", "良", "good"),
    ("assess.grade.fair", "中", "fair"),
    ("assess.grade.poor", "差", "poor"),
    ("assess.yf", "等效利用小时 h", "Final yield h"),
    ("assess.peer_ratio", "同组比", "Peer ratio"),
    ("assess.availability", "可利用率", "Availability"),
    ("assess.completeness", "数据完整率", "Data completeness"),
    ("assess.dispersion", "离散率", "Dispersion"),
    ("assess.flags", "问题及原因", "Flags and reasons"),
    (
        "assess.flagged",
        "有问题电站的逆变器对比",
        "Inverters of flagged stations",
    ),
    ("assess.inverters", "逆变器对比", "Inverters of"),
    (
        "assess.specific_yield",
        "等效小时 kWh/kWp",
        "Specific yield kWh/kWp",
    ),
    ("assess.vs_median", "与全站中位数比", "vs station median"),
    ("assess.vs_siblings", "与其他逆变器比", "vs its siblings"),
    ("gateway.title", "边缘网关", "Edge gateways"),
    ("gateway.code", "网关", "Gateway"),
    (
        "gateway.never",
        "从未上报状态（如厂家数据采集器）",
        "Never sent a status (e.g. a vendor data logger)",
    ),
    ("gateway.ok", "正常", "OK"),
    ("gateway.silent", "失联", "silent"),
    ("gateway.backlogged", "积压", "backlogged"),
    ("gateway.silent_for", "距上次状态", "Silent for"),
    ("gateway.outbox", "待发条数", "Outbox depth"),
    ("gateway.oldest", "最早未发", "Oldest unsent"),
    ("gateway.thinned", "已抽稀", "Thinned"),
    ("gateway.skew", "时钟偏差", "Clock skew"),
    ("gateway.failures", "采集失败", "Poll failures"),
    ("alerts.title", "告警处理", "Alerts"),
    ("alerts.sev.critical", "紧急", "critical"),
    ("alerts.sev.major", "重要", "major"),
    ("alerts.sev.minor", "一般", "minor"),
    ("alerts.status.open", "待处理", "open"),
    ("alerts.status.acknowledged", "处理中", "acknowledged"),
    ("alerts.status.resolved", "已销号", "resolved"),
    ("alerts.since", "发生时间", "Since"),
    ("alerts.acked_by", "已确认：", "Acknowledged by"),
    ("alerts.ack", "确认接单", "Acknowledge"),
    ("alerts.resolve", "销号", "Resolve"),
    (
        "alerts.note",
        "处理说明（销号必填）",
        "Note (required to resolve)",
    ),
    ("alerts.none", "没有未处理的告警。", "No unresolved alerts."),
    ("alerts.all_stations", "全部电站", "All stations"),
    ("alerts.filter", "筛选", "Filter"),
    (
        "alerts.ledger_xlsx",
        "下载问题台账 (XLSX)",
        "Problem ledger (XLSX)",
    ),
    (
        "alerts.readonly",
        "只读：确认和销号由运维人员操作。",
        "Read only: technicians acknowledge and resolve.",
    ),
    ("alerts.station_section", "未处理告警", "Unresolved alerts"),
    (
        "alerts.open_page",
        "到告警页处理",
        "Handle on the alerts page",
    ),
    ("village.title", "本村光伏收益", "Our village's PV income"),
    (
        "village.none",
        "还没有已批准的结算。",
        "No approved settlement yet.",
    ),
    (
        "village.own",
        "仅显示本村数据。",
        "Only your village's figures are shown.",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `.t("key")` in the page sources is in the catalogue, and no key is doubled.
    #[test]
    fn every_key_the_pages_use_is_translated() {
        let sources = [
            include_str!("layout.rs"),
            include_str!("login.rs"),
            include_str!("mod.rs"),
            include_str!("overview.rs"),
            include_str!("station.rs"),
            include_str!("settlements.rs"),
            include_str!("ledger.rs"),
            include_str!("village.rs"),
            include_str!("assessment.rs"),
            include_str!("gateways.rs"),
            include_str!("alerts.rs"),
        ];
        for src in sources {
            for piece in src.split(".t(\"").skip(1) {
                let key = piece.split('"').next().unwrap();
                assert!(
                    CATALOGUE.iter().any(|(k, _, _)| *k == key),
                    "missing page text {key:?}"
                );
            }
        }
        for (i, (k, zh, en)) in CATALOGUE.iter().enumerate() {
            assert!(!zh.is_empty() && !en.is_empty(), "{k}");
            assert!(
                CATALOGUE[i + 1..].iter().all(|(k2, _, _)| k2 != k),
                "{k} twice"
            );
        }
    }

    #[test]
    fn chinese_is_the_default_and_english_is_available() {
        assert_eq!(Lang::Zh.t("nav.overview"), "总览");
        assert_eq!(Lang::En.t("nav.overview"), "Overview");
    }
}
