//! The inbox's key layout (the `ingest` store), in one place. `c` marks a counter (read
//! with `increment(k, 0)`), `v` a plain value.
//!
//! | key | kind | what |
//! |---|---|---|
//! | `in:ack/{dedupe}` | v | the push was acknowledged: `{tick}/{slot}` of its first copy |
//! | `in:replay/{channel}/{signature}` | v | this exact signed request was acknowledged |
//! | `in:t/{tick}/n` | c | slots allocated in the tick |
//! | `in:t/{tick}/{slot}` | v | an [`InboxItem`](super::InboxItem), deleted once drained |
//! | `in:t/{tick}/open` | v | the tick holds items (written with every item) |
//! | `in:t/{tick}/claim/{generation}/{period}` | c | drain claims: one per drain generation and lease period |
//! | `in:t/{tick}/done` | v | [`DrainMark`](super::DrainMark): how far the tick was drained |
//! | `in:cursor` | v | the sweep's first tick not known to be fully drained |
//! | `in:drained` | c | items drained, all time (status) |

pub const CURSOR: &str = "in:cursor";
pub const DRAINED: &str = "in:drained";

pub fn acknowledged(dedupe_key: &str) -> String {
    format!("in:ack/{dedupe_key}")
}
pub fn replay(channel: &str, signature: &str) -> String {
    format!("in:replay/{channel}/{signature}")
}
pub fn tick_len(tick: i64) -> String {
    format!("in:t/{tick}/n")
}
pub fn item(tick: i64, slot: i64) -> String {
    format!("in:t/{tick}/{slot}")
}
pub fn open(tick: i64) -> String {
    format!("in:t/{tick}/open")
}
pub fn claim(tick: i64, generation: u32, period: i64) -> String {
    format!("in:t/{tick}/claim/{generation}/{period}")
}
pub fn done(tick: i64) -> String {
    format!("in:t/{tick}/done")
}
