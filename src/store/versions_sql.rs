// The counters of migration 0018, moved on by triggers in the transaction of every change
// to what API processes keep in memory.

/// The ledger's and the accounts' versions, in one primary-key read.
pub async fn read<'c, E: sqlx::Executor<'c, Database = Db>>(ex: E) -> Result<crate::store::Versions, sqlx::Error> {
    let (ledger, accounts) = sqlx::query_as("SELECT ledger, accounts FROM versions WHERE id = 1").fetch_one(ex).await?;
    Ok(crate::store::Versions { ledger, accounts })
}
