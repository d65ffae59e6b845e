// Assessment reads shared by both backends; compiled twice like ledger_sql.rs.

use chrono::NaiveDate;
use sqlx::QueryBuilder;

use crate::store::telemetry::AssessDayRow;

/// Device ids per query: well under both engines' bound-parameter limits.
const IDS_PER_QUERY: usize = 2000;

/// Daily rollups of `device_ids` (all devices when None) for days in [from, to].
pub async fn daily_rows<'c, E>(ex: E, device_ids: Option<&[i64]>, from: NaiveDate, to: NaiveDate) -> Result<Vec<AssessDayRow>, sqlx::Error>
where
    E: sqlx::Executor<'c, Database = Db> + Copy,
{
    const COLUMNS: &str = "SELECT device_id, day, energy_kwh, samples, irradiation_kwh_m2, data_hours, producing_hours FROM energy_daily WHERE day >= ";
    let Some(ids) = device_ids else {
        let mut q: QueryBuilder<Db> = QueryBuilder::new(COLUMNS);
        q.push_bind(from).push(" AND day <= ").push_bind(to);
        return q.build_query_as().fetch_all(ex).await;
    };
    let mut out = Vec::new();
    for chunk in ids.chunks(IDS_PER_QUERY) {
        let mut q: QueryBuilder<Db> = QueryBuilder::new(COLUMNS);
        q.push_bind(from).push(" AND day <= ").push_bind(to).push(" AND device_id IN (");
        let mut list = q.separated(", ");
        for id in chunk {
            list.push_bind(*id);
        }
        q.push(")");
        out.extend(q.build_query_as::<AssessDayRow>().fetch_all(ex).await?);
    }
    Ok(out)
}
