//! The registry's enums in SQL: stored as their text, read back strictly.

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};

use super::events::EventOutcome;
use super::rows::Origin;
use crate::model::{DesiredState, ObservedState, RouteMode, RuntimeKind};

/// `ToSql` as `as_str()`, `FromSql` through `parse`.
macro_rules! text_enum {
    ($t:ty, $parse:expr) => {
        impl ToSql for $t {
            fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                Ok(ToSqlOutput::from(self.as_str()))
            }
        }

        impl FromSql for $t {
            fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
                let text = value.as_str()?;
                ($parse)(text).ok_or_else(|| {
                    FromSqlError::Other(
                        format!("`{text}` is not a valid {}", stringify!($t)).into(),
                    )
                })
            }
        }
    };
}

text_enum!(RuntimeKind, RuntimeKind::parse);
text_enum!(DesiredState, DesiredState::parse);
text_enum!(RouteMode, RouteMode::parse);
text_enum!(Origin, Origin::parse);

impl ToSql for ObservedState {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl ToSql for EventOutcome {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.to_string()))
    }
}

impl FromSql for EventOutcome {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let text = value.as_str()?;
        EventOutcome::parse(text).ok_or_else(|| {
            FromSqlError::Other(format!("`{text}` is not a valid event outcome").into())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::Connection;

    fn round_trip<T: ToSql + FromSql + PartialEq + std::fmt::Debug>(value: T) {
        let conn = Connection::open_in_memory().unwrap();
        let back: T = conn.query_row("SELECT ?1", [&value], |r| r.get(0)).unwrap();
        assert_eq!(back, value);
    }

    #[test]
    fn enums_round_trip_through_sqlite_and_unknown_text_is_an_error() {
        round_trip(RuntimeKind::Unikernel);
        round_trip(DesiredState::Ignore);
        round_trip(RouteMode::L7);
        round_trip(Origin::Adopted);
        round_trip(EventOutcome::Failed("podman said no".into()));
        round_trip(EventOutcome::Interrupted);
        let conn = Connection::open_in_memory().unwrap();
        let bad: rusqlite::Result<RuntimeKind> = conn.query_row("SELECT 'lxc'", [], |r| r.get(0));
        assert!(bad.is_err());
    }
}
