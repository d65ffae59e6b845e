// Use plan and settlement queries shared by both backends; compiled twice like ledger_sql.rs.

use crate::settlement::store_types::{
    AdjustmentRow, PlanRow, SettlementRow, StationRow, UseRow, VillageRow,
};
use crate::store::{Dec, Ts};

/// A connection (or transaction) of this backend.
pub type Conn = <Db as sqlx::Database>::Connection;

pub async fn plans_for_year(conn: &mut Conn, year: i32) -> Result<Vec<PlanRow>, sqlx::Error> {
    sqlx::query_as("SELECT village_code, year, jobs, works, rewards, other FROM use_plans WHERE year = $1 ORDER BY village_code")
        .bind(year)
        .fetch_all(conn)
        .await
}

pub async fn all_plans(conn: &mut Conn) -> Result<Vec<PlanRow>, sqlx::Error> {
    sqlx::query_as("SELECT village_code, year, jobs, works, rewards, other FROM use_plans ORDER BY village_code, year")
        .fetch_all(conn)
        .await
}

pub async fn upsert_plan(conn: &mut Conn, p: &PlanRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO use_plans (village_code, year, jobs, works, rewards, other) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (village_code, year) DO UPDATE SET jobs = excluded.jobs, works = excluded.works,
             rewards = excluded.rewards, other = excluded.other",
    )
    .bind(&p.village_code)
    .bind(p.year)
    .bind(p.jobs)
    .bind(p.works)
    .bind(p.rewards)
    .bind(p.other)
    .execute(conn)
    .await
    .map(drop)
}

const SETTLEMENT_COLUMNS: &str = "id, county_code, period, status, income_mode, distributable_yuan, adjustments_yuan, created_at, updated_at";

pub async fn find(conn: &mut Conn, county: &str, period: &str) -> Result<Option<SettlementRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {SETTLEMENT_COLUMNS} FROM settlements WHERE county_code = $1 AND period = $2"))
        .bind(county)
        .bind(period)
        .fetch_optional(conn)
        .await
}

pub async fn get<'c, E: sqlx::Executor<'c, Database = Db>>(ex: E, id: i64) -> Result<Option<SettlementRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {SETTLEMENT_COLUMNS} FROM settlements WHERE id = $1"))
        .bind(id)
        .fetch_optional(ex)
        .await
}

pub async fn delete(conn: &mut Conn, id: i64) -> Result<(), sqlx::Error> {
    for table in ["settlement_adjustments", "settlement_uses", "settlement_villages", "settlement_stations", "settlements"] {
        let column = if table == "settlements" { "id" } else { "settlement_id" };
        sqlx::query(&format!("DELETE FROM {table} WHERE {column} = $1")).bind(id).execute(&mut *conn).await?;
    }
    Ok(())
}

pub async fn insert(conn: &mut Conn, s: &SettlementRow) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO settlements (county_code, period, status, income_mode, distributable_yuan, created_at, updated_at, adjustments_yuan)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(&s.county_code)
    .bind(&s.period)
    .bind(&s.status)
    .bind(&s.income_mode)
    .bind(s.distributable_yuan)
    .bind(s.created_at)
    .bind(s.updated_at)
    .bind(s.adjustments_yuan)
    .fetch_one(conn)
    .await
}

pub async fn set_status(conn: &mut Conn, id: i64, status: &str, at: Ts) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE settlements SET status = $2, updated_at = $3 WHERE id = $1")
        .bind(id)
        .bind(status)
        .bind(at)
        .execute(conn)
        .await
        .map(drop)
}

pub async fn stations_of(conn: &mut Conn, id: i64) -> Result<Vec<StationRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT station_code, energy_kwh, energy_source, benchmark_price, subsidy_price, benchmark_income_yuan,
             subsidy_accrued_yuan, subsidy_received_yuan, deductions_yuan, carried_deficit_yuan, distributable_yuan,
             deficit_out_yuan, telemetry_kwh, reconcile_diff_percent, reconcile_flag
         FROM settlement_stations WHERE settlement_id = $1 ORDER BY station_code",
    )
    .bind(id)
    .fetch_all(conn)
    .await
}

pub async fn villages_of(conn: &mut Conn, id: i64) -> Result<Vec<VillageRow>, sqlx::Error> {
    sqlx::query_as("SELECT village_code, station_code, share, amount_yuan FROM settlement_villages WHERE settlement_id = $1 ORDER BY village_code, station_code")
        .bind(id)
        .fetch_all(conn)
        .await
}

pub async fn uses_of(conn: &mut Conn, id: i64) -> Result<Vec<UseRow>, sqlx::Error> {
    sqlx::query_as("SELECT village_code, use_code, percent, amount_yuan FROM settlement_uses WHERE settlement_id = $1 ORDER BY village_code, use_code")
        .bind(id)
        .fetch_all(conn)
        .await
}

/// What each station carried out of `period` in `county`'s settlement (for the next month).
pub async fn deficits(conn: &mut Conn, county: &str, period: &str) -> Result<Vec<(String, Dec)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT s.station_code, s.deficit_out_yuan FROM settlement_stations s JOIN settlements t ON t.id = s.settlement_id
         WHERE t.county_code = $1 AND t.period = $2",
    )
    .bind(county)
    .bind(period)
    .fetch_all(conn)
    .await
}

/// Subsidy accrued per (station, period) in `county`'s settlements (any status).
pub async fn accrued_subsidy(conn: &mut Conn, county: &str) -> Result<Vec<(String, String, Dec)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT s.station_code, t.period, s.subsidy_accrued_yuan FROM settlement_stations s
         JOIN settlements t ON t.id = s.settlement_id WHERE t.county_code = $1",
    )
    .bind(county)
    .fetch_all(conn)
    .await
}

/// Subsidy paid so far per (station, period) in `county`.
pub async fn paid_subsidy(conn: &mut Conn, county: &str) -> Result<Vec<(String, String, Dec)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT p.station_code, p.period, p.amount_yuan FROM subsidy_payments p
         JOIN subsidy_receipts r ON r.id = p.receipt_id WHERE r.county_code = $1",
    )
    .bind(county)
    .fetch_all(conn)
    .await
}

/// Subsidy received per station in [from, to] (receipt dates), in `county`.
pub async fn received_between(conn: &mut Conn, county: &str, from: chrono::NaiveDate, to: chrono::NaiveDate) -> Result<Vec<(String, Dec)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT p.station_code, p.amount_yuan FROM subsidy_payments p
         JOIN subsidy_receipts r ON r.id = p.receipt_id
         WHERE r.county_code = $1 AND r.received_on >= $2 AND r.received_on <= $3",
    )
    .bind(county)
    .bind(from)
    .bind(to)
    .fetch_all(conn)
    .await
}

pub async fn insert_receipt(
    conn: &mut Conn,
    county: &str,
    received_on: chrono::NaiveDate,
    amount: Dec,
    reference: &str,
    credit: Dec,
    at: Ts,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO subsidy_receipts (county_code, received_on, amount_yuan, reference, credit_yuan, created_at)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(county)
    .bind(received_on)
    .bind(amount)
    .bind(reference)
    .bind(credit)
    .bind(at)
    .fetch_one(conn)
    .await
}

pub async fn insert_payment(conn: &mut Conn, receipt: i64, station: &str, period: &str, amount: Dec) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO subsidy_payments (receipt_id, station_code, period, amount_yuan) VALUES ($1, $2, $3, $4)")
        .bind(receipt)
        .bind(station)
        .bind(period)
        .bind(amount)
        .execute(conn)
        .await
        .map(drop)
}

/// Rows per multi-row INSERT: well under both engines' bound-parameter limits.
const BATCH: usize = 500;

pub async fn insert_stations(conn: &mut Conn, id: i64, rows: &[StationRow]) -> Result<(), sqlx::Error> {
    for chunk in rows.chunks(BATCH) {
        let mut q: sqlx::QueryBuilder<Db> = sqlx::QueryBuilder::new(
            "INSERT INTO settlement_stations (settlement_id, station_code, energy_kwh, energy_source, benchmark_price,
                 subsidy_price, benchmark_income_yuan, subsidy_accrued_yuan, subsidy_received_yuan, deductions_yuan,
                 carried_deficit_yuan, distributable_yuan, deficit_out_yuan, telemetry_kwh, reconcile_diff_percent, reconcile_flag) ",
        );
        q.push_values(chunk, |mut b, r| {
            b.push_bind(id)
                .push_bind(r.station_code.clone())
                .push_bind(r.energy_kwh)
                .push_bind(r.energy_source.clone())
                .push_bind(r.benchmark_price)
                .push_bind(r.subsidy_price)
                .push_bind(r.benchmark_income_yuan)
                .push_bind(r.subsidy_accrued_yuan)
                .push_bind(r.subsidy_received_yuan)
                .push_bind(r.deductions_yuan)
                .push_bind(r.carried_deficit_yuan)
                .push_bind(r.distributable_yuan)
                .push_bind(r.deficit_out_yuan)
                .push_bind(r.telemetry_kwh)
                .push_bind(r.reconcile_diff_percent)
                .push_bind(r.reconcile_flag);
        });
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
}

pub async fn insert_villages(conn: &mut Conn, id: i64, rows: &[VillageRow]) -> Result<(), sqlx::Error> {
    for chunk in rows.chunks(BATCH) {
        let mut q: sqlx::QueryBuilder<Db> =
            sqlx::QueryBuilder::new("INSERT INTO settlement_villages (settlement_id, village_code, station_code, share, amount_yuan) ");
        q.push_values(chunk, |mut b, r| {
            b.push_bind(id).push_bind(r.village_code.clone()).push_bind(r.station_code.clone()).push_bind(r.share).push_bind(r.amount_yuan);
        });
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
}

pub async fn insert_uses(conn: &mut Conn, id: i64, rows: &[UseRow]) -> Result<(), sqlx::Error> {
    for chunk in rows.chunks(BATCH) {
        let mut q: sqlx::QueryBuilder<Db> =
            sqlx::QueryBuilder::new("INSERT INTO settlement_uses (settlement_id, village_code, use_code, percent, amount_yuan) ");
        q.push_values(chunk, |mut b, r| {
            b.push_bind(id).push_bind(r.village_code.clone()).push_bind(r.use_code.clone()).push_bind(r.percent).push_bind(r.amount_yuan);
        });
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// Settlements, newest period first; `county` narrows to one county.
pub async fn list<'c, E: sqlx::Executor<'c, Database = Db>>(ex: E, county: Option<&str>) -> Result<Vec<SettlementRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {SETTLEMENT_COLUMNS} FROM settlements WHERE ($1 IS NULL OR county_code = $1) ORDER BY period DESC, county_code"
    ))
    .bind(county)
    .fetch_all(ex)
    .await
}

/// Every station's deduction terms, by station and date.
pub async fn all_terms(conn: &mut Conn) -> Result<Vec<crate::settlement::terms::StationTermsRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT station_code, valid_from, om_yuan_per_kwp_year, om_percent, land_rent_yuan_per_year,
                insurance_yuan_per_year, vat_rate, vat_refund_share, note
         FROM station_deductions ORDER BY station_code, valid_from",
    )
    .fetch_all(conn)
    .await
}

pub async fn upsert_terms(conn: &mut Conn, r: &crate::settlement::terms::StationTermsRow, at: Ts) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO station_deductions (station_code, valid_from, om_yuan_per_kwp_year, om_percent,
             land_rent_yuan_per_year, insurance_yuan_per_year, vat_rate, vat_refund_share, note, imported_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (station_code, valid_from) DO UPDATE SET
             om_yuan_per_kwp_year = excluded.om_yuan_per_kwp_year, om_percent = excluded.om_percent,
             land_rent_yuan_per_year = excluded.land_rent_yuan_per_year,
             insurance_yuan_per_year = excluded.insurance_yuan_per_year, vat_rate = excluded.vat_rate,
             vat_refund_share = excluded.vat_refund_share, note = excluded.note, imported_at = excluded.imported_at",
    )
    .bind(&r.station_code)
    .bind(r.valid_from)
    .bind(r.om_yuan_per_kwp_year)
    .bind(r.om_percent)
    .bind(r.land_rent_yuan_per_year)
    .bind(r.insurance_yuan_per_year)
    .bind(r.vat_rate)
    .bind(r.vat_refund_share)
    .bind(&r.note)
    .bind(at)
    .execute(conn)
    .await
    .map(drop)
}

/// Reviewed and approved settlements of `county` before `period`, oldest first.
pub async fn locked_before(conn: &mut Conn, county: &str, period: &str, oldest: &str) -> Result<Vec<SettlementRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {SETTLEMENT_COLUMNS} FROM settlements
         WHERE county_code = $1 AND period < $2 AND period >= $3 AND status <> 'draft' ORDER BY period"
    ))
    .bind(county)
    .bind(period)
    .bind(oldest)
    .fetch_all(conn)
    .await
}

/// Adjustment lines already carried by reviewed or approved settlements of `county`.
pub async fn locked_adjustments(conn: &mut Conn, county: &str) -> Result<Vec<AdjustmentRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT a.original_settlement_id, a.original_period, a.station_code, a.village_code, a.reason, a.amount_yuan
         FROM settlement_adjustments a JOIN settlements t ON t.id = a.settlement_id
         WHERE t.county_code = $1 AND t.status <> 'draft'",
    )
    .bind(county)
    .fetch_all(conn)
    .await
}

pub async fn adjustments_of(conn: &mut Conn, id: i64) -> Result<Vec<AdjustmentRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT original_settlement_id, original_period, station_code, village_code, reason, amount_yuan
         FROM settlement_adjustments WHERE settlement_id = $1
         ORDER BY original_period, station_code, village_code",
    )
    .bind(id)
    .fetch_all(conn)
    .await
}

pub async fn insert_adjustments(conn: &mut Conn, id: i64, rows: &[AdjustmentRow]) -> Result<(), sqlx::Error> {
    for r in rows {
        sqlx::query(
            "INSERT INTO settlement_adjustments (settlement_id, original_settlement_id, original_period,
                 station_code, village_code, reason, amount_yuan) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id)
        .bind(r.original_settlement_id)
        .bind(&r.original_period)
        .bind(&r.station_code)
        .bind(&r.village_code)
        .bind(&r.reason)
        .bind(r.amount_yuan)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}
