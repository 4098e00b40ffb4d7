//! Money is `rust_decimal::Decimal` in yuan (CNY), exact. No floats anywhere in money
//! paths. Amounts that leave the system (acknowledgements, reports, allocations) are
//! rounded to the fen (0.01) with [`round_fen`]; everything in between stays exact.

use rust_decimal::prelude::*;
use rust_decimal::RoundingStrategy;
use thiserror::Error;

pub use rust_decimal::Decimal;

/// One fen, the smallest unit of CNY.
pub const FEN: Decimal = Decimal::from_parts(1, 0, 0, false, 2);

/// The largest amount (in magnitude) any parsed field may hold: 10^12 yuan, far beyond
/// any real order, bill line or day's total. Bounding every amount where it enters keeps
/// all later sums far from `Decimal`'s limit (about 7.9 × 10^28), whose overflow panics:
/// 64 GiB of bill lines at this bound still total under 10^23.
pub const MAX_YUAN: Decimal = Decimal::from_parts(3_567_587_328, 232, 0, false, 0);

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MoneyError {
    #[error("`{0}` is not a decimal amount")]
    NotADecimal(String),
    #[error("`{0}` has more than two decimal places (finer than a fen)")]
    FinerThanFen(String),
    #[error("amount {0} is negative")]
    Negative(Decimal),
    #[error("amount {0} is out of range (more than 10^12 yuan in magnitude)")]
    OutOfRange(String),
}

/// Round half away from zero to the fen, the convention of Chinese payment bills.
pub fn round_fen(amount: Decimal) -> Decimal {
    amount.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

/// Parse a yuan amount as platforms send it in text ("12.5", "0.10", "-3").
/// Rejects anything finer than a fen: a platform never sends it, so it is a corrupt field.
pub fn parse_yuan(text: &str) -> Result<Decimal, MoneyError> {
    let t = text.trim();
    let d = Decimal::from_str_exact(t).map_err(|_| MoneyError::NotADecimal(t.to_string()))?;
    if d.normalize().scale() > 2 {
        return Err(MoneyError::FinerThanFen(t.to_string()));
    }
    within_range(d, t)
}

/// `amount` if its magnitude is at most [`MAX_YUAN`]; `text` names it in the error.
pub fn within_range(amount: Decimal, text: &str) -> Result<Decimal, MoneyError> {
    if amount.abs() > MAX_YUAN {
        return Err(MoneyError::OutOfRange(text.trim().to_string()));
    }
    Ok(amount)
}

/// Parse a non-negative yuan amount.
pub fn parse_yuan_non_negative(text: &str) -> Result<Decimal, MoneyError> {
    let d = parse_yuan(text)?;
    if d.is_sign_negative() && !d.is_zero() {
        return Err(MoneyError::Negative(d));
    }
    Ok(d)
}

/// A JSON number or string as a yuan amount, without going through `f64`.
/// `serde_json::Number`'s text form is exact for what was on the wire.
pub fn yuan_from_json(value: &serde_json::Value) -> Result<Decimal, MoneyError> {
    match value {
        serde_json::Value::Number(n) => {
            let text = n.to_string();
            if text.contains(['e', 'E']) {
                let d = Decimal::from_scientific(&text)
                    .map_err(|_| MoneyError::NotADecimal(text.clone()))?;
                parse_yuan(&d.normalize().to_string())
            } else {
                parse_yuan(&text)
            }
        }
        serde_json::Value::String(s) => parse_yuan(s),
        other => Err(MoneyError::NotADecimal(other.to_string())),
    }
}

/// Σ `amounts` for report totals, saturating at `Decimal`'s limit instead of
/// panicking: parsed amounts are bounded by [`MAX_YUAN`], so only a corrupt stored value
/// can get there, and then the total shows as absurd instead of trapping the request.
pub fn saturating_sum(amounts: impl IntoIterator<Item = Decimal>) -> Decimal {
    amounts
        .into_iter()
        .fold(Decimal::ZERO, |a, b| a.saturating_add(b))
}

/// Fen (integer) to yuan.
pub fn from_fen(fen: i64) -> Decimal {
    Decimal::new(fen, 2)
}

/// Yuan to whole fen; `None` when the amount is finer than a fen or out of `i64`.
pub fn to_fen(amount: Decimal) -> Option<i64> {
    let scaled = amount.checked_mul(Decimal::ONE_HUNDRED)?;
    if scaled.fract() != Decimal::ZERO {
        return None;
    }
    scaled.to_i64()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn parses_platform_amounts_exactly() {
        assert_eq!(parse_yuan("12.5"), Ok(dec!(12.5)));
        assert_eq!(parse_yuan(" 0.10 "), Ok(dec!(0.10)));
        assert_eq!(parse_yuan("-3"), Ok(dec!(-3)));
        assert_eq!(
            parse_yuan("1.005"),
            Err(MoneyError::FinerThanFen("1.005".into()))
        );
        assert!(matches!(parse_yuan("abc"), Err(MoneyError::NotADecimal(_))));
        assert!(matches!(
            parse_yuan_non_negative("-0.01"),
            Err(MoneyError::Negative(_))
        ));
    }

    #[test]
    fn json_numbers_do_not_pass_through_floats() {
        let v: serde_json::Value = serde_json::from_str("[0.1, 25.80, \"3.30\"]").unwrap();
        let a = v.as_array().unwrap();
        assert_eq!(yuan_from_json(&a[0]), Ok(dec!(0.1)));
        assert_eq!(yuan_from_json(&a[1]), Ok(dec!(25.80)));
        assert_eq!(yuan_from_json(&a[2]), Ok(dec!(3.30)));
    }

    #[test]
    fn amounts_beyond_the_bound_are_refused_not_overflowed() {
        assert_eq!(MAX_YUAN, dec!(1_000_000_000_000));
        assert_eq!(parse_yuan("1000000000000.00"), Ok(MAX_YUAN));
        assert_eq!(parse_yuan("-1000000000000"), Ok(-MAX_YUAN));
        for huge in [
            "1000000000000.01",
            "-1000000000000.01",
            "79228162514264337593543950335",
        ] {
            assert_eq!(
                parse_yuan(huge),
                Err(MoneyError::OutOfRange(huge.to_string()))
            );
        }
        let v: serde_json::Value =
            serde_json::from_str("[79228162514264337593543950335, 1e13, \"1e3\"]").unwrap();
        let a = v.as_array().unwrap();
        assert!(matches!(
            yuan_from_json(&a[0]),
            Err(MoneyError::OutOfRange(_))
        ));
        assert!(matches!(
            yuan_from_json(&a[1]),
            Err(MoneyError::OutOfRange(_))
        ));
        assert!(matches!(
            yuan_from_json(&a[2]),
            Err(MoneyError::NotADecimal(_))
        ));
    }

    #[test]
    fn saturating_sum_does_not_panic_at_the_limit() {
        assert_eq!(saturating_sum([dec!(1.10), dec!(2.20)]), dec!(3.30));
        assert_eq!(saturating_sum([Decimal::MAX, Decimal::MAX]), Decimal::MAX);
        assert_eq!(saturating_sum([Decimal::MIN, -Decimal::ONE]), Decimal::MIN);
    }

    #[test]
    fn fen_round_trip_and_rounding() {
        assert_eq!(to_fen(dec!(12.34)), Some(1234));
        assert_eq!(to_fen(dec!(12.345)), None);
        assert_eq!(from_fen(1234), dec!(12.34));
        assert_eq!(round_fen(dec!(0.005)), dec!(0.01));
        assert_eq!(round_fen(dec!(-0.005)), dec!(-0.01));
        assert_eq!(FEN, dec!(0.01));
    }
}
