//! Addresses: cleaning, splitting into province/city/district, and the merge key.

use unicode_normalization::UnicodeNormalization;

use crate::order::{Address, GeoPoint};

/// Meituan appends reverse-geocoded text after `@#`; it is not what the customer typed.
pub fn strip_platform_suffix(raw: &str) -> &str {
    match raw.find("@#") {
        Some(i) => &raw[..i],
        None => raw,
    }
}

/// The normalized form used as a merge key: NFKC (full-width letters, digits and
/// punctuation become half-width), lower case, every whitespace and control character
/// removed, the platform suffix stripped. Two spellings of one address that differ only
/// in those ways get the same key.
pub fn merge_key(text: &str) -> String {
    strip_platform_suffix(text)
        .nfkc()
        .filter(|c| !c.is_whitespace() && !c.is_control())
        .flat_map(char::to_lowercase)
        .collect::<String>()
        // NFKC can itself produce the suffix marker from full-width `＠＃`.
        .split("@#")
        .next()
        .unwrap_or_default()
        .to_string()
}

const MUNICIPALITIES: [&str; 4] = ["北京市", "上海市", "天津市", "重庆市"];

/// Split a Chinese address written as one string ("浙江省杭州市西湖区文三路 90 号") into
/// province, city, district and the rest. Parts that cannot be recognised stay in the
/// detail: the split is a convenience, the merge key does not depend on it.
pub fn split_chinese(full: &str) -> (Option<String>, Option<String>, Option<String>, String) {
    let mut rest = full.trim();
    let take = |rest: &mut &str, ends: &[&str], max_chars: usize| -> Option<String> {
        let (end, marker) = ends
            .iter()
            .filter_map(|m| rest.find(m).map(|i| (i, *m)))
            .min_by_key(|(i, _)| *i)?;
        let part = &rest[..end + marker.len()];
        if part.chars().count() > max_chars || part.chars().count() <= marker.chars().count() {
            return None;
        }
        *rest = &rest[end + marker.len()..];
        Some(part.to_string())
    };
    let province = match MUNICIPALITIES.iter().find(|m| rest.starts_with(**m)) {
        Some(m) => {
            rest = &rest[m.len()..];
            Some(m.to_string())
        }
        None => take(&mut rest, &["省", "自治区", "特别行政区"], 12),
    };
    let city = if province
        .as_deref()
        .is_some_and(|p| MUNICIPALITIES.contains(&p))
    {
        province.clone()
    } else {
        take(&mut rest, &["市", "自治州", "地区", "盟"], 10)
    };
    let district = take(&mut rest, &["区", "县", "旗", "市"], 8);
    (province, city, district, rest.trim().to_string())
}

/// An address from a single free-text string (Meituan, Ele.me).
pub fn from_free_text(raw: &str, location: Option<GeoPoint>) -> Option<Address> {
    let cleaned = strip_platform_suffix(raw).trim();
    if cleaned.is_empty() {
        return None;
    }
    let (province, city, district, detail) = split_chinese(cleaned);
    Some(Address {
        merge_key: merge_key(cleaned),
        province,
        city,
        district,
        detail,
        location,
    })
}

/// An address from structured parts (our own channels, configured ones). The merge
/// key is over the parts joined, skipping parts the detail already starts with, so it
/// equals the key of the same address sent as one string.
pub fn from_parts(
    province: Option<String>,
    city: Option<String>,
    district: Option<String>,
    detail: &str,
    location: Option<GeoPoint>,
) -> Option<Address> {
    let detail = strip_platform_suffix(detail).trim().to_string();
    let clean = |p: Option<String>| p.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let (province, city, district) = (clean(province), clean(city), clean(district));
    if detail.is_empty() && district.is_none() {
        return None;
    }
    // The detail may already start with some of the parts ("上海市徐汇区漕溪北路…"):
    // those are consumed from it rather than repeated.
    let detail_key = merge_key(&detail);
    let mut rest = detail_key.as_str();
    let mut key = String::new();
    let mut last: Option<String> = None;
    for part in [&province, &city, &district].into_iter().flatten() {
        let part_key = merge_key(part);
        // A municipality is both province and city: count it once, as in free text.
        if last.as_deref() == Some(part_key.as_str()) {
            continue;
        }
        if let Some(r) = rest.strip_prefix(part_key.as_str()) {
            rest = r;
        }
        key.push_str(&part_key);
        last = Some(part_key);
    }
    key.push_str(rest);
    Some(Address {
        merge_key: key,
        province,
        city,
        district,
        detail,
        location,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn meituan_suffix_and_split() {
        let a = from_free_text(
            "浙江省杭州市西湖区文三路 90 号 3 幢@#浙江省杭州市西湖区文三路",
            None,
        )
        .unwrap();
        assert_eq!(a.province.as_deref(), Some("浙江省"));
        assert_eq!(a.city.as_deref(), Some("杭州市"));
        assert_eq!(a.district.as_deref(), Some("西湖区"));
        assert_eq!(a.detail, "文三路 90 号 3 幢");
        assert_eq!(a.merge_key, "浙江省杭州市西湖区文三路90号3幢");
        let bj = from_free_text("北京市朝阳区望京街道 1 号楼", None).unwrap();
        assert_eq!(
            (bj.province.as_deref(), bj.city.as_deref()),
            (Some("北京市"), Some("北京市"))
        );
        assert_eq!(bj.district.as_deref(), Some("朝阳区"));
    }

    #[test]
    fn parts_and_free_text_share_a_key() {
        let free = from_free_text("上海市浦东新区世纪大道 100 号", None).unwrap();
        let parts = from_parts(
            Some("上海市".into()),
            Some("上海市".into()),
            Some("浦东新区".into()),
            "世纪大道100号",
            None,
        )
        .unwrap();
        assert_eq!(free.merge_key, parts.merge_key);
        let repeated = |detail: &str| {
            from_parts(
                Some("上海市".into()),
                Some("上海市".into()),
                Some("浦东新区".into()),
                detail,
                None,
            )
            .unwrap()
            .merge_key
        };
        // Whichever leading parts the detail repeats, the key is the same.
        assert_eq!(repeated("上海市浦东新区世纪大道 100 号"), free.merge_key);
        assert_eq!(repeated("浦东新区世纪大道100号"), free.merge_key);
        assert!(from_parts(None, None, None, "  ", None).is_none());
    }

    #[test]
    fn full_width_folds() {
        assert_eq!(merge_key("ＡＢＣ　１２３号"), merge_key("abc 123号"));
        assert_eq!(merge_key("Room 5B@#reverse"), "room5b");
        assert_eq!(merge_key("Room 5B＠＃reverse"), "room5b");
    }

    fn full_width(c: char) -> char {
        match c {
            '!'..='~' => char::from_u32(c as u32 - 0x21 + 0xFF01).unwrap_or(c),
            ' ' => '\u{3000}',
            _ => c,
        }
    }

    proptest! {
        #[test]
        fn merge_key_is_stable_under_spacing_case_and_width(
            base in "[a-zA-Z0-9\u{4e00}-\u{4e50}#\\-]{1,30}",
            spaces in proptest::collection::vec(0usize..30, 0..5),
            widen in any::<bool>(),
            upper in any::<bool>(),
        ) {
            let key = merge_key(&base);
            let mut variant: Vec<char> = base.chars().collect();
            for s in spaces {
                let at = s.min(variant.len());
                variant.insert(at, if s % 2 == 0 { ' ' } else { '\u{3000}' });
            }
            let mut text: String = variant.into_iter().collect();
            if upper { text = text.to_uppercase(); }
            if widen { text = text.chars().map(full_width).collect(); }
            let suffixed = format!("{text}@#反查地址");
            prop_assert_eq!(merge_key(&text), key.clone());
            prop_assert_eq!(merge_key(&suffixed), key);
        }
    }
}
