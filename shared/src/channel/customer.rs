//! Customer identity: phone numbers (real or platform privacy numbers) and the
//! cross-channel customer key.

use crate::order::{Address, ChannelId, Customer, Phone};

/// Parse a phone as channels send it: `13812345678`, `+86 138-1234-5678`, or a
/// privacy number `138xxxx1234_123456` / `138****1234,123456` (masked digits, an
/// extension after `_`, `,` or `#`).
pub fn parse_phone(raw: &str) -> Option<Phone> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    let (main, extension) = match raw.find(['_', ',', '#', '转']) {
        Some(i) => {
            let sep_len = raw[i..].chars().next().map_or(1, char::len_utf8);
            let ext: String = raw[i + sep_len..]
                .chars()
                .filter(char::is_ascii_digit)
                .collect();
            (&raw[..i], (!ext.is_empty()).then_some(ext))
        }
        None => (raw, None),
    };
    let masked = main.chars().any(|c| matches!(c, 'x' | 'X' | '*'));
    let mut number: String = main
        .chars()
        .filter(|c| c.is_ascii_digit() || matches!(c, 'x' | 'X' | '*'))
        .collect();
    // Mainland mobile numbers with the country code: keep the 11 national digits.
    if !masked && number.len() == 13 && number.starts_with("86") {
        number.drain(..2);
    }
    if number.is_empty() {
        return None;
    }
    Some(Phone {
        is_privacy: masked || extension.is_some(),
        number,
        extension,
    })
}

/// The customer key per [`Customer`]'s rule: a real phone resolves across channels;
/// then the channel's user id; then the normalized address; then the order itself
/// (nothing identifies the customer beyond this one order).
pub fn customer_key(
    channel: &ChannelId,
    phone: Option<&Phone>,
    channel_user_id: Option<&str>,
    address: Option<&Address>,
    channel_order_id: &str,
) -> String {
    if let Some(p) = phone.filter(|p| !p.is_privacy && p.number.len() >= 7) {
        return format!("phone:{}", p.number);
    }
    if let Some(uid) = channel_user_id.map(str::trim).filter(|u| !u.is_empty()) {
        return format!("{channel}:user:{uid}");
    }
    if let Some(a) = address.filter(|a| !a.merge_key.is_empty()) {
        return format!("{channel}:addr:{}", a.merge_key);
    }
    format!("{channel}:order:{channel_order_id}")
}

/// What a platform's privacy number still shows of the real one: `138xxxx1234` keeps
/// the first three and last four digits of an 11-digit mobile number. The same mask of
/// a real number is the link between a customer's masked and unmasked orders; merge
/// uses it only together with the same door, where a chance collision (1 in 10^4 per
/// pair of different phones) is further ruled out when both real numbers are known.
pub fn phone_mask(number: &str) -> Option<String> {
    let b = number.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|s| s.iter().all(u8::is_ascii_digit));
    (b.len() == 11 && b[0] == b'1' && digits(0..3) && digits(7..11))
        .then(|| format!("{}****{}", &number[..3], &number[7..]))
}

pub fn customer(
    channel: &ChannelId,
    channel_user_id: Option<String>,
    name: Option<String>,
    phone: Option<Phone>,
    address: Option<&Address>,
    channel_order_id: &str,
) -> Customer {
    let channel_user_id = channel_user_id
        .map(|u| u.trim().to_string())
        .filter(|u| !u.is_empty());
    let customer_key = customer_key(
        channel,
        phone.as_ref(),
        channel_user_id.as_deref(),
        address,
        channel_order_id,
    );
    let name = name.map(|n| n.trim().to_string()).filter(|n| !n.is_empty());
    Customer {
        channel_user_id,
        name,
        phone,
        customer_key,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn privacy_numbers_are_recognised() {
        let p = parse_phone("138xxxx1234_123456").unwrap();
        assert_eq!(p.number, "138xxxx1234");
        assert_eq!(p.extension.as_deref(), Some("123456"));
        assert!(p.is_privacy);
        let real = parse_phone("+86 138-1234-5678").unwrap();
        assert_eq!(real.number, "13812345678");
        assert!(!real.is_privacy);
        let virt = parse_phone("13800001111_8899").unwrap();
        assert!(
            virt.is_privacy,
            "a virtual number with an extension is not the customer's own"
        );
        assert!(parse_phone("  ").is_none());
    }

    #[test]
    fn key_prefers_real_phone_then_user_then_address() {
        let ch = ChannelId::new("meituan");
        let real = parse_phone("13812345678");
        let masked = parse_phone("138xxxx1234_1");
        assert_eq!(
            customer_key(&ch, real.as_ref(), Some("u1"), None, "o"),
            "phone:13812345678"
        );
        assert_eq!(
            customer_key(&ch, masked.as_ref(), Some("u1"), None, "o"),
            "meituan:user:u1"
        );
        let addr = super::super::address::from_free_text("上海市浦东新区世纪大道 1 号", None);
        assert_eq!(
            customer_key(&ch, masked.as_ref(), None, addr.as_ref(), "o"),
            "meituan:addr:上海市浦东新区世纪大道1号"
        );
        assert_eq!(
            customer_key(&ch, None, None, None, "o9"),
            "meituan:order:o9"
        );
    }
}
