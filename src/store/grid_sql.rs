// Grid statement queries shared by both backends; compiled twice like ledger_sql.rs.

use crate::settlement::grid::GridStatement;
use crate::store::Ts;

/// A connection (or transaction) of this backend.
pub type Conn = <Db as sqlx::Database>::Connection;

/// Every stored statement, ordered by station and period.
pub async fn all(conn: &mut Conn) -> Result<Vec<GridStatement>, sqlx::Error> {
    sqlx::query_as(
        "SELECT station_code, period, export_kwh, benchmark_paid, reference FROM grid_statements
         ORDER BY station_code, period",
    )
    .fetch_all(conn)
    .await
}

/// Inserts or replaces the statement of one station and month.
pub async fn upsert(conn: &mut Conn, s: &GridStatement, at: Ts) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO grid_statements (station_code, period, export_kwh, benchmark_paid, reference, imported_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (station_code, period) DO UPDATE SET export_kwh = excluded.export_kwh,
             benchmark_paid = excluded.benchmark_paid, reference = excluded.reference,
             imported_at = excluded.imported_at",
    )
    .bind(&s.station_code)
    .bind(&s.period)
    .bind(s.export_kwh)
    .bind(s.benchmark_paid)
    .bind(&s.reference)
    .bind(at)
    .execute(conn)
    .await
    .map(drop)
}
