//! The efficacy assessment for the bureau (and technicians, admins): a period picker,
//! the county's ranking with grades (优/良/中/差), flags with their reasons and, for a
//! flagged station, its inverters against their siblings. The figures are those of
//! GET /api/v1/assessments (the same [`crate::assess::run`]), so page and API never differ.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;

use super::html::{esc, num, path_segment};
use super::period_pick::{Kind, Pick, Resolved, resolve};
use super::{Ctx, Lang, PageResult};
use crate::assess::dispersion::dispersion_class;
use crate::assess::grade::Grade;
use crate::assess::{AssessError, Report, StationAssessment};
use crate::auth::Permission;
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::ledger::model::AreaLevel;

fn grade_key(g: Grade) -> &'static str {
    match g {
        Grade::Excellent => "excellent",
        Grade::Good => "good",
        Grade::Fair => "fair",
        Grade::Poor => "poor",
    }
}

fn percent(v: Option<f64>) -> String {
    match v {
        Some(v) if v.is_finite() => format!("{:.1}%", v * 100.0),
        _ => "–".into(),
    }
}

/// The picker form, showing what was asked again.
fn picker(ctx: &Ctx, p: &Pick, r: Option<&Resolved>, counties: &[(String, String)]) -> String {
    let kind = r.map(|r| r.kind).unwrap_or(Kind::Month);
    let options: String = [Kind::Month, Kind::Quarter, Kind::Year, Kind::Range]
        .into_iter()
        .map(|k| {
            format!(
                "<option value=\"{v}\"{sel}>{label}</option>",
                v = k.as_str(),
                sel = if k == kind { " selected" } else { "" },
                label = ctx.t(&format!("assess.kind.{}", k.as_str())),
            )
        })
        .collect();
    let at = r
        .map(|r| r.at.clone())
        .or_else(|| p.at.clone())
        .unwrap_or_default();
    let (from, to) = match r {
        Some(r) if r.kind == Kind::Range => (r.from.to_string(), r.to.to_string()),
        _ => (
            p.from.clone().unwrap_or_default(),
            p.to.clone().unwrap_or_default(),
        ),
    };
    // A county choice only where the ledger holds several (the assessment needs one).
    let county = if counties.len() > 1 {
        let chosen = p.county.as_deref().unwrap_or_default();
        let opts: String = counties
            .iter()
            .map(|(code, name)| {
                format!(
                    "<option value=\"{c}\"{sel}>{n} {c}</option>",
                    c = esc(code),
                    n = esc(name),
                    sel = if code == chosen { " selected" } else { "" }
                )
            })
            .collect();
        format!(
            "<label>{}<select name=\"county\" id=\"county\">{opts}</select></label>",
            ctx.t("settle.county")
        )
    } else {
        String::new()
    };
    format!(
        "<form method=\"get\" action=\"/assessment\" class=\"row\" id=\"period-form\">\
         <label>{kind_t}<select name=\"kind\" id=\"kind\">{options}</select></label>\
         <label>{at_t}<input name=\"at\" id=\"at\" value=\"{at}\" placeholder=\"2026-10 / 2026-Q4 / 2026\"></label>\
         <label>{from_t}<input type=\"date\" name=\"from\" id=\"from\" value=\"{from}\"></label>\
         <label>{to_t}<input type=\"date\" name=\"to\" id=\"to\" value=\"{to}\"></label>\
         {county}<button type=\"submit\" id=\"assess\">{go}</button></form>\
         <p class=\"sub\">{help}</p>",
        kind_t = ctx.t("assess.kind"),
        at_t = ctx.t("assess.at"),
        at = esc(&at),
        from_t = ctx.t("col.from"),
        from = esc(&from),
        to_t = ctx.t("col.to"),
        to = esc(&to),
        go = ctx.t("assess.go"),
        help = ctx.t("assess.help"),
    )
}

/// The flags of a station in the page's language, the other language as a tooltip.
fn flags(ctx: &Ctx, s: &StationAssessment) -> String {
    s.flags
        .iter()
        .map(|f| {
            let (kind, reason, other) = match ctx.lang {
                Lang::Zh => (f.kind.zh(), &f.reason_zh, &f.reason_en),
                Lang::En => (f.kind.as_str(), &f.reason_en, &f.reason_zh),
            };
            format!(
                "<div class=\"flag\" data-kind=\"{k}\" title=\"{other}\"><b>{kind}</b> {reason}</div>",
                k = f.kind.as_str(),
                other = esc(other),
                kind = esc(kind),
                reason = esc(reason),
            )
        })
        .collect()
}

/// A flagged station's inverters against the station median and their siblings.
fn inverters(ctx: &Ctx, s: &StationAssessment) -> String {
    if s.flags.is_empty() || s.inverters.len() < 2 {
        return String::new();
    }
    let rows: String = s
        .inverters
        .iter()
        .map(|i| {
            let low = i.vs_siblings.is_some_and(|v| v < 0.9);
            format!(
                "<tr{cls}><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                esc(&i.code),
                num(Some(i.specific_yield), 1),
                percent(i.vs_station_median),
                percent(i.vs_siblings),
                cls = if low { " class=\"warn\"" } else { "" },
            )
        })
        .collect();
    let dispersion = s
        .dispersion_rate
        .map(|r| {
            let (zh, en) = dispersion_class(r);
            format!(
                "{} {} ({})",
                ctx.t("assess.dispersion"),
                percent(Some(r)),
                if ctx.lang == Lang::Zh { zh } else { en }
            )
        })
        .unwrap_or_default();
    format!(
        "<details class=\"inverters\" id=\"inv-{id}\"><summary>{title} {name} · {dispersion}</summary>\
         <table><tr><th>{c_dev}</th><th>{c_y}</th><th>{c_med}</th><th>{c_sib}</th></tr>{rows}</table></details>",
        id = esc(&s.code),
        title = ctx.t("assess.inverters"),
        name = esc(&s.name),
        c_dev = ctx.t("col.device"),
        c_y = ctx.t("assess.specific_yield"),
        c_med = ctx.t("assess.vs_median"),
        c_sib = ctx.t("assess.vs_siblings"),
    )
}

fn ranking(ctx: &Ctx, report: &Report) -> String {
    if report.stations.is_empty() {
        return format!("<p>{}</p>", ctx.t("station.nodata"));
    }
    let rows: String = report
        .stations
        .iter()
        .map(|s| {
            let grade = match ctx.lang {
                Lang::Zh => s.grade.zh().to_owned(),
                Lang::En => format!("{} {}", s.grade.zh(), ctx.t(&format!("assess.grade.{}", grade_key(s.grade)))),
            };
            format!(
                "<tr data-code=\"{code}\"><td class=\"n\">{rank}</td><td><a href=\"/stations/{enc}\">{name}</a><br><span class=\"sub\">{code}</span></td>\
                 <td><span class=\"grade g-{gk}\">{grade}</span></td><td class=\"n\">{yf}</td><td class=\"n\">{peer}</td>\
                 <td class=\"n\">{avail}</td><td class=\"n\">{compl}</td><td class=\"n\">{pr}</td><td class=\"n\">{disp}</td><td class=\"flags\">{flags}</td></tr>",
                rank = s.rank,
                enc = path_segment(&s.code),
                name = esc(&s.name),
                code = esc(&s.code),
                gk = grade_key(s.grade),
                grade = esc(&grade),
                yf = num(s.final_yield_h, 1),
                peer = num(s.peer_ratio, 2),
                avail = percent(s.availability),
                compl = percent(s.completeness),
                pr = percent(s.performance_ratio),
                disp = percent(s.dispersion_rate),
                flags = flags(ctx, s),
            )
        })
        .collect();
    let details: String = report.stations.iter().map(|s| inverters(ctx, s)).collect();
    let details = if details.is_empty() {
        String::new()
    } else {
        format!("<h2>{}</h2>{details}", ctx.t("assess.flagged"))
    };
    format!(
        "<div class=\"scroll\"><table id=\"ranking\"><tr><th>#</th><th>{c_st}</th><th>{c_g}</th><th>{c_yf}</th><th>{c_peer}</th>\
         <th>{c_av}</th><th>{c_co}</th><th>PR</th><th>{c_di}</th><th>{c_fl}</th></tr>{rows}</table></div>{details}",
        c_st = ctx.t("col.station"),
        c_g = ctx.t("assess.grade"),
        c_yf = ctx.t("assess.yf"),
        c_peer = ctx.t("assess.peer_ratio"),
        c_av = ctx.t("assess.availability"),
        c_co = ctx.t("assess.completeness"),
        c_di = ctx.t("assess.dispersion"),
        c_fl = ctx.t("assess.flags"),
    )
}

/// GET /assessment?kind=&at=&from=&to=&county=
pub async fn page(State(state): State<AppState>, ctx: Ctx, Query(p): Query<Pick>) -> PageResult {
    ctx.require(Permission::ViewAssessment)?;
    ctx.refuse_village()?;
    let fail = |e: sqlx::Error| ApiError::from(e).into_response();
    let ledger = state.store.load_ledger().await.map_err(fail)?;
    let counties: Vec<(String, String)> = ledger
        .areas
        .iter()
        .filter(|a| a.level == AreaLevel::County)
        .map(|a| (a.code.clone(), a.name.clone()))
        .collect();
    let refused = |r: Option<&Resolved>, message: String| {
        let body = format!(
            "{}<p class=\"error\" id=\"assess-error\">{}</p>",
            picker(&ctx, &p, r, &counties),
            esc(&message)
        );
        Err((
            StatusCode::UNPROCESSABLE_ENTITY,
            ctx.render(ctx.t("assess.title"), &body),
        )
            .into_response())
    };
    let resolved = match resolve(&p, state.today()) {
        Ok(r) => r,
        Err(message) => return refused(None, message),
    };
    let county = p
        .county
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .or_else(|| {
            counties
                .first()
                .map(|(c, _)| c.as_str())
                .filter(|_| counties.len() > 1)
        });
    let started = std::time::Instant::now();
    let report = match crate::assess::run(
        &state.store,
        &state.config,
        resolved.from,
        resolved.to,
        county,
    )
    .await
    {
        Ok(r) => r,
        Err(AssessError::Store(e)) => return Err(fail(e)),
        Err(e) => return refused(Some(&resolved), e.to_string()),
    };
    tracing::debug!(
        elapsed_ms = started.elapsed().as_millis() as u64,
        "assessment page"
    );
    let body = format!(
        "{picker}<p class=\"sub\" id=\"assess-period\">{county} {code} · {from} – {to} · {peers}</p>{ranking}",
        picker = picker(&ctx, &p, Some(&resolved), &counties),
        county = esc(&report.county_name),
        code = esc(&report.county),
        from = report.from,
        to = report.to,
        peers = ctx.t("assess.peers"),
        ranking = ranking(&ctx, &report),
    );
    Ok(ctx.render(ctx.t("assess.title"), &body))
}
