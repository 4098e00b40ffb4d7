//! The statement mappings shipped for Meituan and Ele.me.
//!
//! Their real export layouts are not public here: these headers are a plausible design
//! (the names their merchant back-offices use for the same quantities), to be corrected
//! in configuration when a real export is at hand, not in code.

use std::collections::BTreeMap;

use super::statement::{AmountFormat, StatementField as F, StatementFormat, StatementMapping};
use super::text::TextEncoding;
use crate::order::ChannelId;

fn columns(pairs: &[(&str, F)]) -> BTreeMap<String, F> {
    pairs.iter().map(|(n, f)| (n.to_string(), *f)).collect()
}

/// Meituan: the back-office's Excel-style CSV export, GBK, amounts in yuan, a 合计 row.
pub fn meituan() -> StatementMapping {
    StatementMapping {
        channel: ChannelId::new("meituan"),
        format: StatementFormat::Csv { delimiter: ',' },
        encoding: TextEncoding::Gbk,
        amount_format: AmountFormat::Yuan,
        date_format: "%Y-%m-%d".to_string(),
        columns: columns(&[
            ("订单号", F::OrderId),
            ("账单日期", F::BusinessDate),
            ("商品总价", F::GoodsAmount),
            ("美团补贴", F::PlatformSubsidy),
            ("商家活动支出", F::MerchantDiscount),
            ("配送费", F::DeliveryFee),
            ("打包费", F::PackagingFee),
            ("佣金", F::Commission),
            ("退款金额", F::Refund),
            ("商家应收金额", F::AmountSettled),
            ("订单状态", F::Status),
        ]),
        cancelled_values: vec!["已取消".to_string()],
        total_row_label: Some("合计".to_string()),
        preamble_lines: 0,
        comment_prefix: Some("#".to_string()),
        commission_rate: None,
    }
}

/// Ele.me: UTF-8 CSV, amounts in yuan, no totals row.
pub fn eleme() -> StatementMapping {
    StatementMapping {
        channel: ChannelId::new("eleme"),
        format: StatementFormat::Csv { delimiter: ',' },
        encoding: TextEncoding::Utf8,
        amount_format: AmountFormat::Yuan,
        date_format: "%Y-%m-%d".to_string(),
        columns: columns(&[
            ("订单编号", F::OrderId),
            ("账单日期", F::BusinessDate),
            ("商品金额", F::GoodsAmount),
            ("平台补贴", F::PlatformSubsidy),
            ("商户补贴", F::MerchantDiscount),
            ("配送费", F::DeliveryFee),
            ("餐盒费", F::PackagingFee),
            ("平台服务费", F::Commission),
            ("退款金额", F::Refund),
            ("结算金额", F::AmountSettled),
            ("订单状态", F::Status),
        ]),
        cancelled_values: vec!["已取消".to_string(), "无效".to_string()],
        total_row_label: None,
        preamble_lines: 0,
        comment_prefix: None,
        commission_rate: None,
    }
}

/// Ele.me's open-platform bill API as JSON Lines: English keys, amounts in fen.
pub fn eleme_json() -> StatementMapping {
    StatementMapping {
        channel: ChannelId::new("eleme"),
        format: StatementFormat::JsonLines,
        encoding: TextEncoding::Utf8,
        amount_format: AmountFormat::Fen,
        date_format: "%Y-%m-%d".to_string(),
        columns: columns(&[
            ("orderId", F::OrderId),
            ("billDate", F::BusinessDate),
            ("goodsAmount", F::GoodsAmount),
            ("platformSubsidy", F::PlatformSubsidy),
            ("merchantSubsidy", F::MerchantDiscount),
            ("deliveryFee", F::DeliveryFee),
            ("packageFee", F::PackagingFee),
            ("commission", F::Commission),
            ("refundAmount", F::Refund),
            ("settleAmount", F::AmountSettled),
            ("orderStatus", F::Status),
        ]),
        cancelled_values: vec!["CANCELLED".to_string(), "INVALID".to_string()],
        total_row_label: None,
        preamble_lines: 0,
        comment_prefix: None,
        commission_rate: None,
    }
}
