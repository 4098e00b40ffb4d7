//! What a partial refund gives back to stock: exactly the units of the goods it names,
//! never more than the order has of them. The ledger then releases at most what each
//! line still holds (`release` takes from the allocation's `out` counter), so a refund
//! of units already shipped releases nothing and a later full refund or cancel
//! releases only what is left.

use crate::order::{Order, RefundedLine};

use super::settle::SettleLine;

/// The lines and units a partial refund of `refunded` releases on `order`. Each
/// refunded item is matched to the order's lines with the same channel SKU code in line
/// order, filling each up to its quantity (the same code on two lines: the first one
/// first); units beyond what the order has of that code, and codes the order does not
/// have, release nothing. Lines come out in line order, each once.
pub fn refund_release(order: &Order, refunded: &[RefundedLine]) -> Vec<SettleLine> {
    let mut given: Vec<i64> = vec![0; order.lines.len()];
    for item in refunded {
        let mut remaining = i64::from(item.quantity);
        for (i, line) in order.lines.iter().enumerate() {
            if remaining == 0 {
                break;
            }
            if line.channel_sku != item.channel_sku {
                continue;
            }
            let room = i64::from(line.quantity) - given[i];
            let take = remaining.min(room).max(0);
            given[i] += take;
            remaining -= take;
        }
    }
    order
        .lines
        .iter()
        .zip(given)
        .filter(|(_, units)| *units > 0)
        .map(|(line, quantity)| SettleLine {
            line_no: line.line_no,
            quantity,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::merge::fixtures::{address, order};

    fn refunded(items: &[(&str, u32)]) -> Vec<RefundedLine> {
        items
            .iter()
            .map(|&(code, quantity)| RefundedLine {
                channel_sku: code.into(),
                quantity,
            })
            .collect()
    }

    fn with_lines(lines: &[(&str, u32)]) -> Order {
        let mut o = order("meituan", "r1", "c1", address("k", 31.2, 121.4), 0);
        let template = o.lines[0].clone();
        o.lines = lines
            .iter()
            .enumerate()
            .map(|(i, &(code, quantity))| crate::order::OrderLine {
                line_no: u32::try_from(i + 1).unwrap(),
                channel_sku: code.into(),
                quantity,
                ..template.clone()
            })
            .collect();
        o
    }

    fn pairs(lines: &[SettleLine]) -> Vec<(u32, i64)> {
        lines.iter().map(|l| (l.line_no, l.quantity)).collect()
    }

    #[test]
    fn releases_exactly_the_named_goods() {
        let o = with_lines(&[("apple", 5), ("pear", 2), ("milk", 1)]);
        let lines = refund_release(&o, &refunded(&[("apple", 2), ("milk", 1)]));
        assert_eq!(pairs(&lines), vec![(1, 2), (3, 1)]);
    }

    #[test]
    fn never_more_than_the_order_has_and_unknown_codes_release_nothing() {
        let o = with_lines(&[("apple", 3)]);
        assert_eq!(
            pairs(&refund_release(&o, &refunded(&[("apple", 9), ("kiwi", 4)]))),
            vec![(1, 3)]
        );
        assert!(refund_release(&o, &[]).is_empty(), "a money-only refund");
    }

    #[test]
    fn one_code_on_two_lines_fills_the_first_first() {
        let o = with_lines(&[("apple", 2), ("pear", 1), ("apple", 4)]);
        assert_eq!(
            pairs(&refund_release(
                &o,
                &refunded(&[("apple", 3), ("apple", 1)])
            )),
            vec![(1, 2), (3, 2)]
        );
    }

    proptest! {
        /// Per line never more than its quantity; per code exactly min(asked, what the
        /// order has of it).
        #[test]
        fn bounded_by_the_order_and_exact_per_code(
            lines in prop::collection::vec((0usize..3, 1u32..6), 1..6),
            asked in prop::collection::vec((0usize..4, 1u32..8), 0..6),
        ) {
            let codes = ["a", "b", "c", "d"];
            let o = with_lines(&lines.iter().map(|&(c, q)| (codes[c], q)).collect::<Vec<_>>());
            let r = refunded(&asked.iter().map(|&(c, q)| (codes[c], q)).collect::<Vec<_>>());
            let out = refund_release(&o, &r);
            for l in &out {
                let line = &o.lines[(l.line_no - 1) as usize];
                prop_assert!(l.quantity > 0 && l.quantity <= i64::from(line.quantity));
            }
            for code in codes {
                let has: i64 = o.lines.iter().filter(|l| l.channel_sku == code).map(|l| i64::from(l.quantity)).sum();
                let want: i64 = r.iter().filter(|l| l.channel_sku == code).map(|l| i64::from(l.quantity)).sum();
                let got: i64 = out.iter().filter(|l| o.lines[(l.line_no - 1) as usize].channel_sku == code).map(|l| l.quantity).sum();
                prop_assert_eq!(got, want.min(has));
            }
        }
    }
}
