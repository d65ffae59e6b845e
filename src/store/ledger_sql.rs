// Ledger queries shared by both backends. This file is compiled twice, inside
// `store::pg::ledger` and `store::lite::ledger` (see store/mod.rs), with `Db` naming the
// backend, so every statement here must be valid on PostgreSQL and SQLite alike.

use crate::ledger::model::{Area, Device, Gateway, Ledger, Share, Station, StationKind, Tariff};

/// A connection (or transaction) of this backend.
pub type Conn = <Db as sqlx::Database>::Connection;

const AREA_COLUMNS: &str = "code, name, level, parent_code, poor_village_code, status";
const STATION_COLUMNS: &str = "code, name, kind, area_code, dc_capacity_kwp, ac_capacity_kw, \
    latitude, longitude, tilt_deg, azimuth_deg, commissioning_date, grid_connection_date, \
    subsidy_batch, investment_yuan, funding_source, om_body, om_person, om_phone";
const DEVICE_COLUMNS: &str = "id, code, station_code, kind, vendor, model, serial, rated_ac_kw, \
    dc_kwp, protocol, host, port, unit_id, profile, gateway_code";

/// Areas at or below `root` (all areas when `root` is None), ordered by code.
pub async fn list_areas<'c, E: sqlx::Executor<'c, Database = Db>>(
    ex: E,
    root: Option<&str>,
) -> Result<Vec<Area>, sqlx::Error> {
    let sql = format!(
        "WITH RECURSIVE sub(code) AS (
             SELECT code FROM areas WHERE $1 IS NULL OR code = $1
             UNION SELECT a.code FROM areas a JOIN sub ON a.parent_code = sub.code)
         SELECT {AREA_COLUMNS} FROM areas WHERE code IN (SELECT code FROM sub) ORDER BY code"
    );
    sqlx::query_as(&sql).bind(root).fetch_all(ex).await
}

/// Stations standing in `root` or any area below it (all when None), ordered by code.
pub async fn list_stations<'c, E: sqlx::Executor<'c, Database = Db>>(
    ex: E,
    root: Option<&str>,
) -> Result<Vec<Station>, sqlx::Error> {
    let sql = format!(
        "WITH RECURSIVE sub(code) AS (
             SELECT code FROM areas WHERE $1 IS NULL OR code = $1
             UNION SELECT a.code FROM areas a JOIN sub ON a.parent_code = sub.code)
         SELECT {STATION_COLUMNS} FROM stations
         WHERE area_code IN (SELECT code FROM sub) ORDER BY code"
    );
    sqlx::query_as(&sql).bind(root).fetch_all(ex).await
}

/// Stations standing in `root` or below (all when None) that match `kind` (any when None):
/// how many there are, and the `limit` of them (all when None) after the first `offset`,
/// ordered by code (unique, so pages never overlap or skip a station).
pub async fn page_stations(
    pool: &sqlx::Pool<Db>,
    root: Option<&str>,
    kind: Option<StationKind>,
    limit: Option<i64>,
    offset: i64,
) -> Result<(i64, Vec<Station>), sqlx::Error> {
    // A filter left out is left out of the SQL too, rather than `$1 IS NULL OR ...`: the
    // unfiltered page is then a walk of the primary key that stops after offset + limit.
    let mut with = String::new();
    let mut conditions = String::new();
    let mut params = 0;
    if root.is_some() {
        params += 1;
        with = format!(
            "WITH RECURSIVE sub(code) AS (SELECT code FROM areas WHERE code = ${params} \
             UNION SELECT a.code FROM areas a JOIN sub ON a.parent_code = sub.code) "
        );
        conditions.push_str(" AND area_code IN (SELECT code FROM sub)");
    }
    if kind.is_some() {
        params += 1;
        conditions.push_str(&format!(" AND kind = ${params}"));
    }
    let matching = |columns: &str| format!("{with}SELECT {columns} FROM stations WHERE 1 = 1{conditions}");
    let mut conn = pool.acquire().await?;
    let sql = matching("COUNT(*)");
    let mut count = sqlx::query_scalar::<Db, i64>(&sql);
    if let Some(root) = root {
        count = count.bind(root);
    }
    if let Some(kind) = kind {
        count = count.bind(kind);
    }
    let total = count.fetch_one(&mut *conn).await?;
    // No limit is i64::MAX: both engines take it, and they differ on a NULL LIMIT.
    let sql = format!(
        "{} ORDER BY code LIMIT ${} OFFSET ${}",
        matching(STATION_COLUMNS),
        params + 1,
        params + 2
    );
    let mut page = sqlx::query_as::<Db, Station>(&sql);
    if let Some(root) = root {
        page = page.bind(root);
    }
    if let Some(kind) = kind {
        page = page.bind(kind);
    }
    let stations = page
        .bind(limit.unwrap_or(i64::MAX))
        .bind(offset)
        .fetch_all(&mut *conn)
        .await?;
    Ok((total, stations))
}

// `devices_of_stations` is written per backend in store/mod.rs (an array on PostgreSQL).

/// One area by code.
pub async fn get_area<'c, E: sqlx::Executor<'c, Database = Db>>(
    ex: E,
    code: &str,
) -> Result<Option<Area>, sqlx::Error> {
    let sql = format!("SELECT {AREA_COLUMNS} FROM areas WHERE code = $1");
    sqlx::query_as(&sql).bind(code).fetch_optional(ex).await
}

pub async fn get_station<'c, E: sqlx::Executor<'c, Database = Db>>(
    ex: E,
    code: &str,
) -> Result<Option<Station>, sqlx::Error> {
    let sql = format!("SELECT {STATION_COLUMNS} FROM stations WHERE code = $1");
    sqlx::query_as(&sql).bind(code).fetch_optional(ex).await
}

pub async fn get_device<'c, E: sqlx::Executor<'c, Database = Db>>(
    ex: E,
    code: &str,
) -> Result<Option<Device>, sqlx::Error> {
    let sql = format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE code = $1");
    sqlx::query_as(&sql).bind(code).fetch_optional(ex).await
}

/// Everything recorded about one station: tariffs, share sets and devices.
pub async fn station_details(
    pool: &sqlx::Pool<Db>,
    code: &str,
) -> Result<(Vec<Tariff>, Vec<Share>, Vec<Device>), sqlx::Error> {
    let mut conn = pool.acquire().await?;
    let tariffs = sqlx::query_as(
        "SELECT station_code, valid_from, total_price, benchmark_price FROM tariffs
         WHERE station_code = $1 ORDER BY valid_from",
    )
    .bind(code)
    .fetch_all(&mut *conn)
    .await?;
    let shares = sqlx::query_as(
        "SELECT station_code, valid_from, village_code, share, basis FROM shares
         WHERE station_code = $1 ORDER BY valid_from, village_code",
    )
    .bind(code)
    .fetch_all(&mut *conn)
    .await?;
    let devices = sqlx::query_as(&format!(
        "SELECT {DEVICE_COLUMNS} FROM devices WHERE station_code = $1 ORDER BY code"
    ))
    .bind(code)
    .fetch_all(&mut *conn)
    .await?;
    Ok((tariffs, shares, devices))
}

/// The whole ledger, each table ordered by its key (the export order).
pub async fn load_all(conn: &mut Conn) -> Result<Ledger, sqlx::Error> {
    Ok(Ledger {
        areas: list_areas(&mut *conn, None).await?,
        stations: sqlx::query_as(&format!(
            "SELECT {STATION_COLUMNS} FROM stations ORDER BY code"
        ))
        .fetch_all(&mut *conn)
        .await?,
        tariffs: sqlx::query_as(
            "SELECT station_code, valid_from, total_price, benchmark_price FROM tariffs
             ORDER BY station_code, valid_from",
        )
        .fetch_all(&mut *conn)
        .await?,
        shares: sqlx::query_as(
            "SELECT station_code, valid_from, village_code, share, basis FROM shares
             ORDER BY station_code, valid_from, village_code",
        )
        .fetch_all(&mut *conn)
        .await?,
        gateways: sqlx::query_as(
            "SELECT code, name, area_code, credential_hash FROM gateways ORDER BY code",
        )
        .fetch_all(&mut *conn)
        .await?,
        devices: sqlx::query_as(&format!("SELECT {DEVICE_COLUMNS} FROM devices ORDER BY code"))
            .fetch_all(&mut *conn)
            .await?,
    })
}

pub async fn upsert_area(conn: &mut Conn, a: &Area) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO areas (code, name, level, parent_code, poor_village_code, status)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (code) DO UPDATE SET name = excluded.name, level = excluded.level,
             parent_code = excluded.parent_code, poor_village_code = excluded.poor_village_code,
             status = excluded.status",
    )
    .bind(&a.code)
    .bind(&a.name)
    .bind(a.level)
    .bind(&a.parent_code)
    .bind(&a.poor_village_code)
    .bind(a.status)
    .execute(conn)
    .await
    .map(drop)
}

pub async fn upsert_station(conn: &mut Conn, s: &Station) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO stations (code, name, kind, area_code, dc_capacity_kwp, ac_capacity_kw,
             latitude, longitude, tilt_deg, azimuth_deg, commissioning_date, grid_connection_date,
             subsidy_batch, investment_yuan, funding_source, om_body, om_person, om_phone)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
         ON CONFLICT (code) DO UPDATE SET name = excluded.name, kind = excluded.kind,
             area_code = excluded.area_code, dc_capacity_kwp = excluded.dc_capacity_kwp,
             ac_capacity_kw = excluded.ac_capacity_kw, latitude = excluded.latitude,
             longitude = excluded.longitude, tilt_deg = excluded.tilt_deg,
             azimuth_deg = excluded.azimuth_deg, commissioning_date = excluded.commissioning_date,
             grid_connection_date = excluded.grid_connection_date,
             subsidy_batch = excluded.subsidy_batch, investment_yuan = excluded.investment_yuan,
             funding_source = excluded.funding_source, om_body = excluded.om_body,
             om_person = excluded.om_person, om_phone = excluded.om_phone",
    )
    .bind(&s.code)
    .bind(&s.name)
    .bind(s.kind)
    .bind(&s.area_code)
    .bind(s.dc_capacity_kwp)
    .bind(s.ac_capacity_kw)
    .bind(s.latitude)
    .bind(s.longitude)
    .bind(s.tilt_deg)
    .bind(s.azimuth_deg)
    .bind(s.commissioning_date)
    .bind(s.grid_connection_date)
    .bind(&s.subsidy_batch)
    .bind(s.investment_yuan)
    .bind(&s.funding_source)
    .bind(&s.om_body)
    .bind(&s.om_person)
    .bind(&s.om_phone)
    .execute(conn)
    .await
    .map(drop)
}

pub async fn upsert_tariff(conn: &mut Conn, t: &Tariff) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO tariffs (station_code, valid_from, total_price, benchmark_price)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (station_code, valid_from) DO UPDATE SET
             total_price = excluded.total_price, benchmark_price = excluded.benchmark_price",
    )
    .bind(&t.station_code)
    .bind(t.valid_from)
    .bind(t.total_price)
    .bind(t.benchmark_price)
    .execute(conn)
    .await
    .map(drop)
}

/// Replaces the share set of one (station, valid_from) with `set` (all rows share that key).
pub async fn replace_share_set(conn: &mut Conn, set: &[Share]) -> Result<(), sqlx::Error> {
    let Some(first) = set.first() else {
        return Ok(());
    };
    sqlx::query("DELETE FROM shares WHERE station_code = $1 AND valid_from = $2")
        .bind(&first.station_code)
        .bind(first.valid_from)
        .execute(&mut *conn)
        .await?;
    for s in set {
        sqlx::query(
            "INSERT INTO shares (station_code, valid_from, village_code, share, basis)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&s.station_code)
        .bind(s.valid_from)
        .bind(&s.village_code)
        .bind(s.share)
        .bind(s.basis)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

pub async fn upsert_gateway(conn: &mut Conn, g: &Gateway) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO gateways (code, name, area_code, credential_hash) VALUES ($1, $2, $3, $4)
         ON CONFLICT (code) DO UPDATE SET name = excluded.name, area_code = excluded.area_code,
             credential_hash = excluded.credential_hash",
    )
    .bind(&g.code)
    .bind(&g.name)
    .bind(&g.area_code)
    .bind(&g.credential_hash)
    .execute(conn)
    .await
    .map(drop)
}

pub async fn upsert_device(conn: &mut Conn, d: &Device) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO devices (code, station_code, kind, vendor, model, serial, rated_ac_kw,
             dc_kwp, protocol, host, port, unit_id, profile, gateway_code)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
         ON CONFLICT (code) DO UPDATE SET station_code = excluded.station_code,
             kind = excluded.kind, vendor = excluded.vendor, model = excluded.model,
             serial = excluded.serial, rated_ac_kw = excluded.rated_ac_kw, dc_kwp = excluded.dc_kwp,
             protocol = excluded.protocol, host = excluded.host, port = excluded.port,
             unit_id = excluded.unit_id, profile = excluded.profile,
             gateway_code = excluded.gateway_code",
    )
    .bind(&d.code)
    .bind(&d.station_code)
    .bind(d.kind)
    .bind(&d.vendor)
    .bind(&d.model)
    .bind(&d.serial)
    .bind(d.rated_ac_kw)
    .bind(d.dc_kwp)
    .bind(d.protocol)
    .bind(&d.host)
    .bind(d.port)
    .bind(d.unit_id)
    .bind(&d.profile)
    .bind(&d.gateway_code)
    .execute(conn)
    .await
    .map(drop)
}

/// Every device, ordered by station then code.
pub async fn list_devices<'c, E: sqlx::Executor<'c, Database = Db>>(ex: E) -> Result<Vec<Device>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {DEVICE_COLUMNS} FROM devices ORDER BY station_code, code"))
        .fetch_all(ex)
        .await
}
