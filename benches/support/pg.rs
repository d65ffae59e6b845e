//! A throwaway PostgreSQL database for one benchmark run, shared by the benchmarks through
//! `#[path]`: created on the local server (or PVLEDGER_TEST_PG_URL) and dropped afterwards.

use sqlx::Connection;

pub struct ScratchDb {
    admin: sqlx::PgConnection,
    name: String,
    pub url: String,
}

/// A new, empty database named for `tag`; `None` (with a message) when no server answers.
pub async fn scratch(tag: &str) -> Option<ScratchDb> {
    let admin_url = std::env::var("PVLEDGER_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let Ok(mut admin) = sqlx::PgConnection::connect(&admin_url).await else {
        eprintln!("PostgreSQL not reachable at {admin_url}: its rows are skipped");
        return None;
    };
    let name = format!("pvledger_bench_{tag}_{}", std::process::id());
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    let url = format!("{}/{name}", admin_url.rsplit_once('/').unwrap().0);
    Some(ScratchDb { admin, name, url })
}

impl ScratchDb {
    pub async fn drop_database(mut self) {
        sqlx::query(&format!("DROP DATABASE {} WITH (FORCE)", self.name))
            .execute(&mut self.admin)
            .await
            .unwrap();
    }
}
