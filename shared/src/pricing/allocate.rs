//! Allocation of order-level discounts to lines, in whole fen.

use rust_decimal::Decimal;

use super::{AppliedDiscount, LinePrice, PricingError};
use crate::money::{from_fen, round_fen, to_fen};
use crate::order::{Funder, Order};

fn fen(d: Decimal) -> Result<i64, PricingError> {
    to_fen(round_fen(d)).ok_or(PricingError::OutOfRange(d))
}

/// Split `amount` fen over `weights` proportionally: floor shares, then one fen each
/// to the largest remainders, ties to the lower line number. Exact: shares sum to
/// `amount`, and no share exceeds its weight when `amount ≤ Σ weights`.
fn largest_remainder(weights: &[(u32, i64)], amount: i64) -> Vec<i64> {
    let total: i128 = weights.iter().map(|(_, w)| i128::from(*w)).sum();
    if total <= 0 || amount == 0 {
        return vec![0; weights.len()];
    }
    let a = i128::from(amount);
    let mut shares: Vec<i64> = Vec::with_capacity(weights.len());
    let mut rems: Vec<(i128, u32, usize)> = Vec::with_capacity(weights.len());
    for (idx, (line_no, w)) in weights.iter().enumerate() {
        let p = a * i128::from(*w);
        shares.push((p / total) as i64);
        rems.push((p % total, *line_no, idx));
    }
    let left = amount - shares.iter().sum::<i64>();
    rems.sort_by(|x, y| y.0.cmp(&x.0).then(x.1.cmp(&y.1)));
    for (_, _, idx) in rems.into_iter().take(left.max(0) as usize) {
        shares[idx] += 1;
    }
    shares
}

/// Allocate one `discount` over lines `(line_no, amount)` proportionally to amount.
/// The discount may not exceed the lines' total.
pub fn allocate(lines: &[(u32, Decimal)], discount: Decimal) -> Result<Vec<Decimal>, PricingError> {
    let weights: Vec<(u32, i64)> = lines
        .iter()
        .map(|(n, a)| Ok((*n, fen(*a)?)))
        .collect::<Result<_, PricingError>>()?;
    let d = fen(discount)?;
    let total: i64 = weights.iter().map(|(_, w)| *w).sum();
    if d < 0 || d > total {
        return Err(PricingError::BadDiscount {
            id: "allocation".into(),
            what: format!("{discount} is not within 0..={}", from_fen(total)),
        });
    }
    Ok(largest_remainder(&weights, d)
        .into_iter()
        .map(from_fen)
        .collect())
}

/// Allocate every discount in turn, each proportional to what lines still carry after
/// the previous ones (so no line goes negative), keeping funders apart.
pub(super) fn allocate_discounts(
    amounts: &[(u32, Decimal)],
    discounts: &[AppliedDiscount],
) -> Result<Vec<LinePrice>, PricingError> {
    let mut net: Vec<(u32, i64)> = amounts
        .iter()
        .map(|(n, a)| Ok((*n, fen(*a)?)))
        .collect::<Result<_, PricingError>>()?;
    let mut by_funder = vec![(0i64, 0i64); amounts.len()];
    for d in discounts {
        let total: i64 = net.iter().map(|(_, w)| *w).sum();
        let amount = fen(d.amount)?;
        if amount > total {
            return Err(PricingError::BadDiscount {
                id: d.id.clone(),
                what: format!(
                    "{} exceeds what the lines carry ({})",
                    d.amount,
                    from_fen(total)
                ),
            });
        }
        for (i, share) in largest_remainder(&net, amount).into_iter().enumerate() {
            net[i].1 -= share;
            match d.funder {
                Funder::Merchant => by_funder[i].0 += share,
                Funder::Platform => by_funder[i].1 += share,
            }
        }
    }
    Ok(amounts
        .iter()
        .zip(net)
        .zip(by_funder)
        .map(|(((line_no, amount), (_, n)), (m, p))| LinePrice {
            line_no: *line_no,
            amount: round_fen(*amount),
            merchant_discount: from_fen(m),
            platform_discount: from_fen(p),
            net: from_fen(n),
        })
        .collect())
}

/// A platform order's own discounts allocated to its lines (for refunding one line).
pub fn allocate_reported(order: &Order) -> Result<Vec<LinePrice>, PricingError> {
    let amounts: Vec<(u32, Decimal)> = order
        .lines
        .iter()
        .map(|l| (l.line_no, l.amount()))
        .collect();
    let discounts: Vec<AppliedDiscount> = order
        .money
        .discounts
        .iter()
        .map(|d| AppliedDiscount {
            id: d.label.clone(),
            funder: d.funder,
            amount: d.amount,
        })
        .collect();
    allocate_discounts(&amounts, &discounts)
}
