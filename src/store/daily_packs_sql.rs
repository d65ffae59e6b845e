// The year packs of daily energy (`energy_daily_packs`; store/daily_packs.rs), shared by
// both backends: included in each `telemetry` module, next to `push_days` and `daily`.
// The hot read, `daily_packed`, is in store/mod.rs, one per backend.

/// Devices per statement of the packer's reads: far below both engines' bind limits.
const PACK_CHUNK: usize = 500;

/// Every device's id, ascending: the packer walks them all.
pub async fn all_device_ids<'c, E: sqlx::Executor<'c, Database = Db>>(ex: E) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM devices ORDER BY id").fetch_all(ex).await
}

/// The stored packs of `device_ids`, without their days, by device and year.
pub async fn pack_extents(conn: &mut Conn, device_ids: &[i64]) -> Result<Vec<super::super::daily_packs::PackExtent>, sqlx::Error> {
    let mut out = Vec::new();
    for chunk in device_ids.chunks(PACK_CHUNK) {
        let mut q: QueryBuilder<Db> =
            QueryBuilder::new("SELECT device_id, year, through_day AS through FROM energy_daily_packs WHERE device_id IN (");
        let mut list = q.separated(", ");
        for id in chunk {
            list.push_bind(*id);
        }
        q.push(") ORDER BY device_id, year");
        out.extend(q.build_query_as::<super::super::daily_packs::PackExtent>().fetch_all(&mut *conn).await?);
    }
    Ok(out)
}

/// The first day with energy of each of `device_ids` that has one: one index lookup each.
pub async fn first_days(conn: &mut Conn, device_ids: &[i64]) -> Result<Vec<(i64, NaiveDate)>, sqlx::Error> {
    let mut out = Vec::new();
    for chunk in device_ids.chunks(PACK_CHUNK) {
        let mut q: QueryBuilder<Db> = QueryBuilder::new("SELECT w.column1, (SELECT min(e.day) FROM energy_daily e WHERE e.device_id = w.column1) FROM (");
        q.push_values(chunk, |mut b, id| {
            b.push_bind(*id);
        });
        q.push(") AS w");
        let rows: Vec<(i64, Option<NaiveDate>)> = q.build_query_as().fetch_all(&mut *conn).await?;
        out.extend(rows.into_iter().filter_map(|(id, day)| Some((id, day?))));
    }
    Ok(out)
}

/// Writes packs over any stored for the same device and year.
pub async fn save_packs(conn: &mut Conn, packs: &[super::super::daily_packs::Pack]) -> Result<(), sqlx::Error> {
    for chunk in packs.chunks(PACK_CHUNK) {
        let mut q: QueryBuilder<Db> = QueryBuilder::new("INSERT INTO energy_daily_packs (device_id, year, through_day, days) ");
        q.push_values(chunk, |mut b, p| {
            b.push_bind(p.device_id).push_bind(p.year).push_bind(p.through).push_bind(p.encode());
        });
        q.push(" ON CONFLICT (device_id, year) DO UPDATE SET through_day = excluded.through_day, days = excluded.days");
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// Drops the packs that hold any of the days being rewritten: per device, those whose
/// `through_day` is on or after the first of its days (a suffix of its years; see
/// store/daily_packs.rs). Runs in the transaction that rewrites the days.
pub async fn drop_packs_from(conn: &mut Conn, days: &[DeviceDays]) -> Result<(), sqlx::Error> {
    for chunk in days.chunks(SPAN_CHUNK) {
        let mut q: QueryBuilder<Db> = QueryBuilder::new(
            "DELETE FROM energy_daily_packs WHERE (device_id, year) IN (SELECT p.device_id, p.year FROM (",
        );
        push_days(&mut q, chunk);
        q.push(") AS w JOIN energy_daily_packs p ON p.device_id = w.column1 AND p.through_day >= w.column2)");
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
}
