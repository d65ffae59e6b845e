//! [`Dec`]: an exact decimal that both storage backends can hold.
//!
//! PostgreSQL stores it as NUMERIC; SQLite has no decimal type, so it is stored there as
//! TEXT (never REAL: floats cannot hold 0.1 exactly). Values are normalised on the way out
//! (`0.8500` and `0.85` read back the same), so both backends answer identically.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArgumentBuffer, PgTypeInfo, PgValueRef};
use sqlx::sqlite::{SqliteArgumentValue, SqliteTypeInfo, SqliteValueRef};
use sqlx::{Decode, Encode, Postgres, Sqlite, Type};

/// An exact decimal (prices, capacities, shares, money) for the database and the API.
/// In JSON it is a string, so that no client parses it into a float by accident.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Dec(pub Decimal);

impl From<Decimal> for Dec {
    fn from(d: Decimal) -> Self {
        Dec(d)
    }
}

impl fmt::Display for Dec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for Dec {
    type Err = rust_decimal::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Decimal::from_str_exact(s).map(Dec)
    }
}

impl Type<Postgres> for Dec {
    fn type_info() -> PgTypeInfo {
        <Decimal as Type<Postgres>>::type_info()
    }
}

impl Encode<'_, Postgres> for Dec {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        <Decimal as Encode<Postgres>>::encode_by_ref(&self.0, buf)
    }
}

impl<'r> Decode<'r, Postgres> for Dec {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(Dec(
            <Decimal as Decode<Postgres>>::decode(value)?.normalize()
        ))
    }
}

impl Type<Sqlite> for Dec {
    fn type_info() -> SqliteTypeInfo {
        <str as Type<Sqlite>>::type_info()
    }
}

impl<'q> Encode<'q, Sqlite> for Dec {
    fn encode_by_ref(&self, buf: &mut Vec<SqliteArgumentValue<'q>>) -> Result<IsNull, BoxDynError> {
        <String as Encode<Sqlite>>::encode(self.0.normalize().to_string(), buf)
    }
}

impl<'r> Decode<'r, Sqlite> for Dec {
    fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        let text = <&str as Decode<Sqlite>>::decode(value)?;
        Ok(Dec(Decimal::from_str_exact(text)?.normalize()))
    }
}
