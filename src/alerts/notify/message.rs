//! Message texts and bodies for each channel, pure. Chinese first; the English rule name
//! and ids stay in for anyone searching logs.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::alerts::model::{AlertRow, Status};
use crate::alerts::rules::{Rule, Severity};

/// The heading: 【告警】 or 【已恢复】 with the rule and severity.
pub fn heading(a: &AlertRow, opened: bool) -> String {
    let rule = Rule::parse(&a.rule).map_or(a.rule.as_str(), |r| r.zh());
    let severity = match a.severity.as_str() {
        "critical" => Severity::Critical.zh(),
        "major" => Severity::Major.zh(),
        _ => Severity::Minor.zh(),
    };
    if opened {
        format!("【光伏告警·{severity}】{rule}")
    } else {
        format!("【已恢复】{rule}")
    }
}

/// Markdown for WeCom and DingTalk robots.
pub fn markdown(a: &AlertRow, opened: bool, zone: chrono_tz::Tz) -> String {
    let mut s = format!("### {}\n**{}**\n", heading(a, opened), a.title);
    let mut line = |k: &str, v: Option<&str>| {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            s.push_str(&format!("> {k}：{v}\n"));
        }
    };
    line("电站", a.station_code.as_deref());
    line("设备", a.device_code.as_deref());
    line("网关", a.gateway_code.as_deref());
    line("区域", a.area_code.as_deref());
    line("管护主体", a.om_body.as_deref());
    let at = a.resolved_at.filter(|_| !opened).unwrap_or(a.opened_at);
    line(
        "时间",
        Some(
            &at.0
                .with_timezone(&zone)
                .format("%Y-%m-%d %H:%M")
                .to_string(),
        ),
    );
    s.push('\n');
    if opened {
        s.push_str(&a.detail);
    } else if let Some(note) = &a.resolution_note {
        s.push_str(note);
    }
    s.push_str(&format!("\n\n告警编号 #{} ({})", a.id, a.rule));
    s
}

/// Plain text (e-mail): the markdown without its marks.
pub fn plain(a: &AlertRow, opened: bool, zone: chrono_tz::Tz) -> String {
    markdown(a, opened, zone)
        .lines()
        .map(|l| {
            l.trim_start_matches("### ")
                .trim_start_matches("> ")
                .replace("**", "")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The generic webhook's JSON: the event, the whole alert and the text.
pub fn webhook_body(a: &AlertRow, opened: bool, zone: chrono_tz::Tz) -> Value {
    json!({
        "event": if opened { "opened" } else { "resolved" },
        "status": Status::parse(&a.status).map(Status::as_str),
        "alert": a,
        "evidence": serde_json::from_str::<Value>(&a.evidence).unwrap_or(Value::Null),
        "text": plain(a, opened, zone),
    })
}

/// 企业微信群机器人 markdown message.
pub fn wecom_body(a: &AlertRow, opened: bool, zone: chrono_tz::Tz) -> Value {
    json!({"msgtype": "markdown", "markdown": {"content": markdown(a, opened, zone)}})
}

/// 钉钉群机器人 markdown message.
pub fn dingtalk_body(a: &AlertRow, opened: bool, zone: chrono_tz::Tz) -> Value {
    json!({"msgtype": "markdown", "markdown": {"title": heading(a, opened), "text": markdown(a, opened, zone)}})
}

/// DingTalk's signature: Base64(HMAC-SHA256(key = secret, "{timestamp_ms}\n{secret}")),
/// URL-encoded, appended with the timestamp to the robot URL.
pub fn dingtalk_sign(secret: &str, timestamp_ms: i64) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(format!("{timestamp_ms}\n{secret}").as_bytes());
    let b64 = STANDARD.encode(mac.finalize().into_bytes());
    b64.replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D")
}

/// The robot URL with `&timestamp=...&sign=...` when a secret is set.
pub fn dingtalk_url(url: &str, secret: &str, timestamp_ms: i64) -> String {
    if secret.is_empty() {
        return url.to_owned();
    }
    let sep = if url.contains('?') { '&' } else { '?' };
    format!(
        "{url}{sep}timestamp={timestamp_ms}&sign={}",
        dingtalk_sign(secret, timestamp_ms)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dingtalk_signature_matches_one_worked_out_with_openssl() {
        // printf '1700000000000\nSECtest' | openssl dgst -sha256 -hmac SECtest -binary | base64
        let sign = dingtalk_sign("SECtest", 1_700_000_000_000);
        assert_eq!(sign, "aZLLrriXgn05YbwaGR7knYsLeJADjr9NwLaNNKpxh4g%3D");
        assert!(!sign.contains('='), "URL-encoded");
        assert_eq!(
            dingtalk_url(
                "https://oapi.dingtalk.com/robot/send?access_token=t",
                "SECtest",
                1_700_000_000_000
            ),
            format!(
                "https://oapi.dingtalk.com/robot/send?access_token=t&timestamp=1700000000000&sign={sign}"
            )
        );
        assert_eq!(dingtalk_url("http://x/y", "", 1), "http://x/y");
    }
}
