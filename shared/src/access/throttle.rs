//! Failed authentication, rate-limited per source: each refused credential counts one
//! against its source's counter for the current minute (`increment`, exact on every
//! backend, no compare-and-swap); a source at the limit is refused with 429 for the rest
//! of that minute, valid credential or not, before any token is looked at.

/// Failures one source may have in a minute when the `auth_fail_limit` variable is unset.
pub const DEFAULT_FAILURES_PER_MINUTE: i64 = 20;

/// The counter of `source`'s failures in the minute of `now` (Unix seconds). The source
/// is the client's address as the runtime reports it, reduced to the IP (a new port
/// per connection must not reset the count); anything unusual is hashed into the key
/// as-is, so no input can reach another source's counter.
pub fn failure_key(source: &str, now: i64) -> String {
    format!("auth/fail/{}/{}", source_ip(source), now.div_euclid(60))
}

/// `1.2.3.4:5678` → `1.2.3.4`, `[::1]:5678` → `::1`; no address → `unknown`.
pub fn source_ip(addr: &str) -> String {
    let addr = addr.trim();
    let ip = if let Some(rest) = addr.strip_prefix('[') {
        rest.split(']').next().unwrap_or_default()
    } else if addr.matches(':').count() == 1 {
        addr.split(':').next().unwrap_or_default()
    } else {
        addr
    };
    let clean: String = ip
        .chars()
        .filter(|c| c.is_ascii_hexdigit() || matches!(c, '.' | ':'))
        .take(45)
        .collect();
    if clean.is_empty() {
        "unknown".into()
    } else {
        clean
    }
}

/// Whether a source that already failed `failures` times this minute is blocked.
pub fn blocked(failures: i64, limit: i64) -> bool {
    failures >= limit
}

/// Seconds until the minute of `now` is over (the `retry-after` of a 429).
pub fn retry_after(now: i64) -> i64 {
    60 - now.rem_euclid(60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_port_does_not_split_a_source() {
        assert_eq!(
            failure_key("10.0.0.1:5000", 120),
            failure_key("10.0.0.1:6000", 179)
        );
        assert_ne!(
            failure_key("10.0.0.1:5000", 120),
            failure_key("10.0.0.1:5000", 180)
        );
        assert_eq!(source_ip("[::1]:80"), "::1");
        assert_eq!(source_ip("::1"), "::1");
        assert_eq!(source_ip(""), "unknown");
        assert_eq!(source_ip("a/b/../c"), "ab..c");
    }

    #[test]
    fn a_source_is_blocked_at_the_limit() {
        assert!(!blocked(19, 20));
        assert!(blocked(20, 20));
        assert_eq!(retry_after(120), 60);
        assert_eq!(retry_after(179), 1);
    }
}
