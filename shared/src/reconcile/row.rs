//! Typed access to one split CSV row, so every field error names its line and column.

use std::borrow::Cow;

use chrono::NaiveDateTime;
use rust_decimal::Decimal;

use super::error::{ImportError, ImportErrorKind};
use crate::money::{parse_yuan, MoneyError};

/// A column: where it is in the header and what it is called (for errors).
#[derive(Debug, Clone)]
pub struct Column {
    pub index: usize,
    pub name: String,
}

pub struct Row<'a> {
    pub line: u64,
    pub fields: Vec<Cow<'a, str>>,
    /// Characters a source prefixes every value with (WeChat's backtick), stripped.
    pub prefix: Option<char>,
}

impl<'a> Row<'a> {
    pub fn text(&self, col: &Column) -> &str {
        let raw = self.fields.get(col.index).map(|f| f.as_ref()).unwrap_or("");
        let t = raw.trim();
        let t = match self.prefix {
            Some(p) => t.strip_prefix(p).unwrap_or(t),
            None => t,
        };
        t.trim()
    }

    pub fn opt_text(&self, col: &Column) -> Option<String> {
        let t = self.text(col);
        (!t.is_empty()).then(|| t.to_string())
    }

    /// An amount in yuan; an empty cell is zero (bills leave optional amounts blank).
    pub fn yuan(&self, col: &Column) -> Result<Decimal, ImportError> {
        self.amount_with(col, parse_yuan)
    }

    pub fn amount_with(
        &self,
        col: &Column,
        parse: impl Fn(&str) -> Result<Decimal, MoneyError>,
    ) -> Result<Decimal, ImportError> {
        let t = self.text(col);
        if t.is_empty() {
            return Ok(Decimal::ZERO);
        }
        parse(t).map_err(|e| ImportError::amount(self.line, &col.name, t, &e))
    }

    pub fn datetime(&self, col: &Column, format: &str) -> Result<NaiveDateTime, ImportError> {
        let t = self.text(col);
        NaiveDateTime::parse_from_str(t, format).map_err(|_| {
            ImportError::in_column(
                self.line,
                &col.name,
                ImportErrorKind::MalformedDate {
                    value: t.to_string(),
                },
            )
        })
    }

    pub fn check_width(&self, expected: usize) -> Result<(), ImportError> {
        if self.fields.len() < expected {
            return Err(ImportError::at(
                self.line,
                ImportErrorKind::FieldCount {
                    expected,
                    found: self.fields.len(),
                },
            ));
        }
        Ok(())
    }
}

/// Find named columns in a header row; the first missing one is the error.
pub fn find_columns(
    header: &[Cow<'_, str>],
    wanted: &[&str],
    line: u64,
    prefix: Option<char>,
) -> Result<Vec<Column>, ImportError> {
    let clean = |h: &str| -> String {
        let t = h.trim().trim_start_matches('\u{feff}');
        let t = match prefix {
            Some(p) => t.strip_prefix(p).unwrap_or(t),
            None => t,
        };
        t.trim().to_string()
    };
    let names: Vec<String> = header.iter().map(|h| clean(h)).collect();
    wanted
        .iter()
        .map(|w| {
            names
                .iter()
                .position(|n| n == w)
                .map(|index| Column {
                    index,
                    name: w.to_string(),
                })
                .ok_or_else(|| {
                    ImportError::in_column(
                        line,
                        w,
                        ImportErrorKind::MissingColumn {
                            column: w.to_string(),
                        },
                    )
                })
        })
        .collect()
}
