//! The stocked catalogue the generated orders buy from: a fresh-grocery assortment with
//! the facts orderhub needs per SKU (temperature zone, weight, volume) and a popularity
//! weight, so a few staples dominate as they do in real baskets.

use crate::channels::Channel;

/// One product. Prices are in fen so money always adds up exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Product {
    /// Stable part of the SKU id; the run prefix makes it unique per run.
    pub code: &'static str,
    pub name: &'static str,
    pub price_fen: u32,
    pub zone: &'static str,
    pub weight_g: u32,
    pub volume_cm3: u32,
    /// Relative popularity.
    pub weight: u32,
}

pub const PRODUCTS: [Product; 12] = [
    product(
        "APPLE-1KG",
        "红富士苹果 1kg",
        1280,
        "ambient",
        1000,
        3000,
        14,
    ),
    product("BANANA-1KG", "香蕉 1kg", 990, "ambient", 1000, 2500, 12),
    product("MILK-950", "鲜牛奶 950ml", 1590, "chilled", 1000, 1100, 16),
    product("YOGURT-450", "原味酸奶 450g", 890, "chilled", 480, 600, 10),
    product("EGG-10", "土鸡蛋 10 枚", 1280, "ambient", 600, 1500, 12),
    product("RICE-5KG", "东北大米 5kg", 3900, "ambient", 5000, 6000, 5),
    product("PORK-500", "猪里脊 500g", 2680, "chilled", 520, 700, 6),
    product("SHRIMP-300", "冻虾仁 300g", 3590, "frozen", 320, 500, 4),
    product(
        "DUMPLING-1KG",
        "速冻水饺 1kg",
        2990,
        "frozen",
        1000,
        1800,
        6,
    ),
    product("TOFU-400", "北豆腐 400g", 350, "chilled", 420, 500, 7),
    product("BOKCHOY-500", "上海青 500g", 450, "ambient", 500, 2000, 8),
    product("TOMATO-500", "番茄 500g", 690, "ambient", 500, 1200, 9),
];

#[allow(clippy::too_many_arguments)]
const fn product(
    code: &'static str,
    name: &'static str,
    price_fen: u32,
    zone: &'static str,
    weight_g: u32,
    volume_cm3: u32,
    weight: u32,
) -> Product {
    Product {
        code,
        name,
        price_fen,
        zone,
        weight_g,
        volume_cm3,
        weight,
    }
}

/// The ids of one run: every SKU, channel code, order id, store and phone number is
/// derived from `token`, so a run never collides with an earlier one on a long-running
/// app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunIds {
    /// Decimal digits only (Meituan and Ele.me order ids are numeric).
    pub token: String,
}

impl RunIds {
    pub fn new(token: u64) -> Self {
        Self {
            token: token.to_string(),
        }
    }

    /// From the wall clock and the process id: unique per run, never from the seed
    /// (the same seed run twice must still use fresh ids).
    pub fn fresh() -> Self {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Self::new((secs % 1_000_000_000) * 100 + u64::from(std::process::id() % 100))
    }

    /// The stock ledger's SKU id (what every channel's code maps to).
    pub fn sku(&self, p: &Product) -> String {
        format!("LD{}-{}", self.token, p.code)
    }

    /// The channel's own code for a product, as the platform sends it.
    pub fn channel_sku(&self, channel: Channel, p: &Product) -> String {
        format!("{}-{}-{}", channel.sku_prefix(), self.token, p.code)
    }

    /// A store of this run (POS batches and every channel's `store_id`).
    pub fn store(&self) -> String {
        format!("LS{}", self.token)
    }

    /// An 11-digit mainland mobile number, distinct per customer within a run
    /// (7919 is coprime with 10^8, so the map is a bijection on the last 8 digits).
    pub fn phone(&self, customer: usize) -> String {
        let salt: u64 = self.token.bytes().fold(0u64, |h, b| {
            h.wrapping_mul(31).wrapping_add(u64::from(b - b'0'))
        });
        let tail = (customer as u64)
            .wrapping_mul(7919)
            .wrapping_add(salt)
            .rem_euclid(100_000_000);
        format!("1{}{tail:08}", 36 + salt % 4)
    }
}

/// `12.80` from 1280 fen: the decimal text every own channel sends.
pub fn yuan(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", fen.abs() / 100, fen.abs() % 100)
}

/// The same amount as a JSON number (Meituan and Ele.me send numbers): `12.8`.
pub fn yuan_number(fen: i64) -> serde_json::Value {
    let text = yuan(fen);
    let trimmed = text.trim_end_matches('0').trim_end_matches('.');
    serde_json::from_str(trimmed).unwrap_or(serde_json::Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yuan_is_exact() {
        assert_eq!(yuan(1280), "12.80");
        assert_eq!(yuan(5), "0.05");
        assert_eq!(yuan(-300), "-3.00");
        assert_eq!(yuan_number(1280).to_string(), "12.8");
        assert_eq!(yuan_number(1200).to_string(), "12");
        assert_eq!(yuan_number(50).to_string(), "0.5");
    }

    #[test]
    fn phones_are_distinct_mobile_numbers() {
        let run = RunIds::new(12345678901);
        let phones: std::collections::HashSet<String> = (0..10_000).map(|c| run.phone(c)).collect();
        assert_eq!(phones.len(), 10_000);
        assert!(phones.iter().all(|p| p.len() == 11 && p.starts_with('1')));
    }
}
