//! Import errors: every one names the line (1-based, in the decoded text) and, where it
//! applies, the column by its header name, so an operator can open the file and look.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use rust_decimal::Decimal;

use crate::money::MoneyError;

#[derive(Debug, Clone, PartialEq, Eq, Error, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ImportErrorKind {
    #[error("bytes are not valid {expected}")]
    WrongEncoding { expected: String },
    #[error("the archive is truncated or corrupt: {detail}")]
    TruncatedArchive { detail: String },
    #[error("the archive holds no bill CSV")]
    NoBillInArchive,
    #[error("no header row before the detail rows")]
    MissingHeader,
    #[error("required column `{column}` is missing from the header")]
    MissingColumn { column: String },
    #[error("the row has {found} fields, the header has {expected}")]
    FieldCount { expected: usize, found: usize },
    #[error("`{value}` is not an amount: {reason}")]
    MalformedAmount { value: String, reason: String },
    #[error("`{value}` is not a date/time in the expected format")]
    MalformedDate { value: String },
    #[error("`{value}` is not a known value for this column")]
    UnknownValue { value: String },
    #[error("required value is empty")]
    EmptyValue,
    #[error("malformed record: {detail}")]
    MalformedRecord { detail: String },
    #[error("a line is longer than {limit} bytes")]
    LineTooLong { limit: usize },
    #[error("the running total of `{field}` is out of range")]
    TotalOutOfRange { field: String },
    #[error("the file ends before its summary")]
    MissingSummary,
    #[error("summary `{field}` says {declared}, the detail rows add up to {computed}")]
    SummaryMismatch {
        field: String,
        declared: String,
        computed: String,
    },
}

/// Where and what. `line` counts lines of the bill text (for a zipped bill: of the CSV
/// inside); `column` is the header name of the offending field.
#[derive(Debug, Clone, PartialEq, Eq, Error, Serialize, Deserialize)]
#[error("line {line}{}: {kind}", column.as_ref().map(|c| format!(", column `{c}`")).unwrap_or_default())]
pub struct ImportError {
    pub line: u64,
    pub column: Option<String>,
    pub kind: ImportErrorKind,
}

impl ImportError {
    pub fn at(line: u64, kind: ImportErrorKind) -> Self {
        Self {
            line,
            column: None,
            kind,
        }
    }
    pub fn in_column(line: u64, column: &str, kind: ImportErrorKind) -> Self {
        Self {
            line,
            column: Some(column.to_string()),
            kind,
        }
    }
    pub(crate) fn amount(line: u64, column: &str, value: &str, reason: &MoneyError) -> Self {
        Self::in_column(
            line,
            column,
            ImportErrorKind::MalformedAmount {
                value: value.to_string(),
                reason: reason.to_string(),
            },
        )
    }
    /// `total + amount` for an importer's running total. Amounts are bounded where they
    /// are parsed, so this cannot fail on a bill of any size we accept; it is checked
    /// anyway because an overflowing `Decimal` `+` panics, and a panic is a trap.
    pub(crate) fn add_to_total(
        total: &mut Decimal,
        amount: Decimal,
        line: u64,
        field: &str,
    ) -> Result<(), ImportError> {
        *total = total.checked_add(amount).ok_or_else(|| {
            Self::in_column(
                line,
                field,
                ImportErrorKind::TotalOutOfRange {
                    field: field.to_string(),
                },
            )
        })?;
        Ok(())
    }
    pub(crate) fn summary(
        line: u64,
        field: &str,
        declared: impl ToString,
        computed: impl ToString,
    ) -> Self {
        Self::in_column(
            line,
            field,
            ImportErrorKind::SummaryMismatch {
                field: field.to_string(),
                declared: declared.to_string(),
                computed: computed.to_string(),
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_running_total_that_would_overflow_is_an_error_not_a_panic() {
        let mut total = Decimal::MAX;
        let err = ImportError::add_to_total(&mut total, Decimal::ONE, 7, "退款金额").unwrap_err();
        assert_eq!((err.line, err.column.as_deref()), (7, Some("退款金额")));
        assert!(matches!(err.kind, ImportErrorKind::TotalOutOfRange { .. }));
        let mut total = Decimal::ONE;
        ImportError::add_to_total(&mut total, Decimal::ONE, 1, "x").unwrap();
        assert_eq!(total, Decimal::TWO);
    }
}
