//! The station page's gateway section: each edge gateway its devices report through, with
//! its last status (docs/GATEWAY.md) and a warning style when it has gone silent or holds
//! an old backlog, the two things a technician acts on.

use super::html::esc;
use super::{Ctx, Lang};
use crate::http::gateway::{GatewayView, StatusView};

/// When the page calls a gateway silent or backlogged (`[http]` configuration).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub silent_after_s: i64,
    pub backlog_after_s: i64,
}

/// What is wrong with a gateway, if anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Warnings {
    pub silent: bool,
    pub backlogged: bool,
}

pub fn warnings(s: &StatusView, l: Limits) -> Warnings {
    Warnings {
        silent: s.silent_s > l.silent_after_s,
        backlogged: s.backlog_age_s.is_some_and(|a| a > l.backlog_after_s),
    }
}

/// A duration for people: 45 s, 12 min, 3.5 h, 2.0 d (Chinese units in Chinese).
pub fn age(lang: Lang, s: i64) -> String {
    let s = s.max(0);
    let (v, zh, en) = match s {
        0..60 => (s.to_string(), "秒", "s"),
        60..3600 => ((s / 60).to_string(), "分钟", "min"),
        3600..86_400 => (format!("{:.1}", s as f64 / 3600.0), "小时", "h"),
        _ => (format!("{:.1}", s as f64 / 86_400.0), "天", "d"),
    };
    match lang {
        Lang::Zh => format!("{v} {zh}"),
        Lang::En => format!("{v} {en}"),
    }
}

/// The section (empty when the station has no gateway in the ledger).
pub fn section(ctx: &Ctx, views: &[GatewayView], limits: Limits) -> String {
    if views.is_empty() {
        return String::new();
    }
    let rows: String = views
        .iter()
        .map(|v| match &v.status {
            None => format!(
                "<tr data-gateway=\"{g}\"><td>{g}</td><td colspan=\"7\" class=\"sub\">{none}</td></tr>",
                g = esc(&v.gateway),
                none = ctx.t("gateway.never"),
            ),
            Some(s) => {
                let w = warnings(s, limits);
                let mut state = Vec::new();
                if w.silent {
                    state.push(ctx.t("gateway.silent"));
                }
                if w.backlogged {
                    state.push(ctx.t("gateway.backlogged"));
                }
                let (cls, state) = if state.is_empty() {
                    ("gw-ok", ctx.t("gateway.ok").to_owned())
                } else {
                    ("gw-warn", state.join(" · "))
                };
                let oldest = s
                    .backlog_age_s
                    .map(|a| age(ctx.lang, a))
                    .unwrap_or_else(|| "–".into());
                let skew = s
                    .clock_skew_ms
                    .map(|ms| format!("{:+.1} s", ms as f64 / 1000.0))
                    .unwrap_or_else(|| "–".into());
                format!(
                    "<tr class=\"{cls}\" data-gateway=\"{g}\"><td>{g}<br><span class=\"sub\">{version}</span></td><td class=\"gw-state\">{state}</td>\
                     <td class=\"n{silent_cls}\">{silent}</td><td class=\"n{backlog_cls}\">{depth}</td><td class=\"n{backlog_cls}\">{oldest}</td>\
                     <td class=\"n\">{thinned}</td><td class=\"n\">{skew}</td><td class=\"n\">{failures}</td></tr>",
                    g = esc(&v.gateway),
                    version = esc(&s.version),
                    state = esc(&state),
                    silent_cls = if w.silent { " warn" } else { "" },
                    silent = age(ctx.lang, s.silent_s),
                    backlog_cls = if w.backlogged { " warn" } else { "" },
                    depth = s.outbox_depth,
                    thinned = s.thinned_total,
                    failures = s.poll_failures,
                )
            }
        })
        .collect();
    format!(
        "<h2>{title}</h2><div class=\"scroll\"><table id=\"gateways\"><tr><th>{c_gw}</th><th>{c_state}</th><th>{c_silent}</th>\
         <th>{c_depth}</th><th>{c_oldest}</th><th>{c_thinned}</th><th>{c_skew}</th><th>{c_fail}</th></tr>{rows}</table></div>",
        title = ctx.t("gateway.title"),
        c_gw = ctx.t("gateway.code"),
        c_state = ctx.t("col.state"),
        c_silent = ctx.t("gateway.silent_for"),
        c_depth = ctx.t("gateway.outbox"),
        c_oldest = ctx.t("gateway.oldest"),
        c_thinned = ctx.t("gateway.thinned"),
        c_skew = ctx.t("gateway.skew"),
        c_fail = ctx.t("gateway.failures"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(silent_s: i64, backlog_age_s: Option<i64>) -> StatusView {
        let now = crate::store::Ts(chrono::Utc::now());
        StatusView {
            received_at: now,
            silent_s,
            sent_at: now,
            version: "t".into(),
            outbox_depth: 0,
            oldest_unsent: None,
            backlog_age_s,
            thinned_total: 0,
            clock_skew_ms: None,
            poll_failures: 0,
            message: serde_json::Value::Null,
        }
    }

    #[test]
    fn a_gateway_is_silent_or_backlogged_only_past_its_limits() {
        let l = Limits {
            silent_after_s: 300,
            backlog_after_s: 900,
        };
        let ok = Warnings {
            silent: false,
            backlogged: false,
        };
        assert_eq!(warnings(&status(300, Some(900)), l), ok);
        assert_eq!(warnings(&status(45, None), l), ok);
        let w = warnings(&status(301, Some(901)), l);
        assert!(w.silent && w.backlogged);
    }

    #[test]
    fn ages_read_in_the_pages_language() {
        assert_eq!(age(Lang::Zh, 45), "45 秒");
        assert_eq!(age(Lang::En, 720), "12 min");
        assert_eq!(age(Lang::Zh, 3 * 3600 + 1800), "3.5 小时");
        assert_eq!(age(Lang::En, 2 * 86_400), "2.0 d");
    }
}
