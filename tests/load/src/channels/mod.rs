//! The six channels' pushes, each in its platform's own shape and signature, and the
//! acknowledgement each platform expects back.

mod eleme;
mod groupbuy;
mod meituan;
mod own;
mod pos;
pub mod sign;

use std::fmt;

use chrono::{DateTime, FixedOffset, SecondsFormat};
use serde::Serialize;

use crate::catalog::RunIds;
use crate::mix::{Customer, OrderSpec, Plan, PushKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Meituan,
    Eleme,
    App,
    MiniProgram,
    Pos,
    GroupBuy,
}

impl Channel {
    pub const ALL: [Channel; 6] = [
        Channel::Meituan,
        Channel::Eleme,
        Channel::App,
        Channel::MiniProgram,
        Channel::Pos,
        Channel::GroupBuy,
    ];

    /// The id in routes, order ids and the admin API.
    pub fn id(self) -> &'static str {
        match self {
            Channel::Meituan => "meituan",
            Channel::Eleme => "eleme",
            Channel::App => "app",
            Channel::MiniProgram => "miniprogram",
            Channel::Pos => "pos",
            Channel::GroupBuy => "groupbuy",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }

    /// Prefix of the channel's own product codes.
    pub fn sku_prefix(self) -> &'static str {
        match self {
            Channel::Meituan => "MT",
            Channel::Eleme => "EL",
            Channel::App => "APP",
            Channel::MiniProgram => "MP",
            Channel::Pos => "POS",
            Channel::GroupBuy => "GB",
        }
    }

    /// Cash on delivery or pay-later exists on the platforms and our own apps; a till
    /// sale and a group-buying order are paid when placed.
    pub fn takes_unpaid(self) -> bool {
        !matches!(self, Channel::Pos | Channel::GroupBuy)
    }

    /// The channel's secret as the app has it: `SPIN_VARIABLE_<ID>_SECRET` when set
    /// (what `scripts/dev-env.sh` exports), else the development value.
    pub fn secret(self) -> String {
        let name = format!("SPIN_VARIABLE_{}_SECRET", self.id().to_uppercase());
        std::env::var(name).unwrap_or_else(|_| format!("dev-{}-secret", self.id()))
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// What a push looks like on the wire, before the send-time signature of our own
/// channels.
#[derive(Debug, Clone, PartialEq)]
pub struct Webhook {
    pub path: String,
    pub content_type: &'static str,
    pub body: Vec<u8>,
    /// Our own channels sign every attempt afresh (the replay window refuses a re-sent
    /// signature): the secret to sign with at send time.
    pub sign_at_send: Option<String>,
    pub expect: Expect,
}

impl Webhook {
    /// The request headers for a send at `now` (epoch seconds).
    pub fn headers(&self, now: i64) -> Vec<(&'static str, String)> {
        let mut headers = vec![("content-type", self.content_type.to_string())];
        if let Some(secret) = &self.sign_at_send {
            let ts = now.to_string();
            headers.push(("x-orderhub-signature", sign::own(secret, &ts, &self.body)));
            headers.push(("x-orderhub-timestamp", ts));
        }
        headers
    }
}

/// The acknowledgement the platform waits for.
#[derive(Debug, Clone, PartialEq)]
pub enum Expect {
    /// Byte-exact (Meituan, Ele.me); a duplicate gets the same body.
    Exact(&'static str),
    /// `{"status":"ok","result":"accepted"|"duplicate","orders":[…]}` naming these
    /// orders when accepted.
    Own { orders: Vec<String> },
}

/// How a 2xx answer compares with the expected acknowledgement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Accepted,
    /// Said to be a duplicate (only our own channels say so).
    Duplicate,
    /// A 2xx that is not the platform's acknowledgement: the platform would retry.
    Wrong(String),
}

impl Expect {
    pub fn check(&self, body: &[u8]) -> Verdict {
        match self {
            Expect::Exact(want) if body == want.as_bytes() => Verdict::Accepted,
            Expect::Exact(_) => Verdict::Wrong(String::from_utf8_lossy(body).into_owned()),
            Expect::Own { orders } => {
                let wrong = || Verdict::Wrong(String::from_utf8_lossy(body).into_owned());
                let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
                    return wrong();
                };
                if v["status"] != "ok" {
                    return wrong();
                }
                match v["result"].as_str() {
                    Some("duplicate") => Verdict::Duplicate,
                    Some("accepted") => {
                        let mut got: Vec<&str> = v["orders"]
                            .as_array()
                            .map(|a| a.iter().filter_map(|o| o.as_str()).collect())
                            .unwrap_or_default();
                        let mut want: Vec<&str> = orders.iter().map(String::as_str).collect();
                        got.sort_unstable();
                        want.sort_unstable();
                        if got == want {
                            Verdict::Accepted
                        } else {
                            wrong()
                        }
                    }
                    _ => wrong(),
                }
            }
        }
    }
}

/// Everything rendering needs besides the push itself.
pub struct Ctx<'a> {
    pub run: &'a RunIds,
    /// Base URL as the app sees it (Meituan signs the full URL).
    pub base_url: &'a str,
    /// Wall clock of the run's start, epoch milliseconds.
    pub t0_ms: i64,
    pub plan: &'a Plan,
}

impl Ctx<'_> {
    pub fn customer(&self, o: &OrderSpec) -> &Customer {
        &self.plan.customers[o.customer]
    }

    fn at_ms(&self, push: usize) -> i64 {
        self.t0_ms + self.plan.pushes[push].at.as_millis() as i64
    }
}

/// Push `index` of the plan as it goes on the wire. A duplicate is its original again:
/// byte for byte on the platforms (they re-send the identical request), the same body
/// signed anew on our own channels.
pub fn render(ctx: &Ctx, index: usize) -> Webhook {
    let push = &ctx.plan.pushes[index];
    match &push.kind {
        PushKind::Orders(orders) => {
            let at = ctx.at_ms(index);
            match push.channel {
                Channel::Meituan => meituan::order(ctx, &orders[0], at),
                Channel::Eleme => eleme::order(ctx, index, &orders[0], at),
                Channel::App | Channel::MiniProgram => {
                    own::order(ctx, push.channel, &orders[0], at)
                }
                Channel::Pos => pos::batch(ctx, index, orders, at),
                Channel::GroupBuy => groupbuy::batch(ctx, index, orders, at),
            }
        }
        PushKind::Duplicate { of } => render(ctx, *of),
        PushKind::Cancel { of, order } => {
            let at = ctx.at_ms(index);
            let o = ctx.plan.cancelled_order(*of, *order);
            match push.channel {
                Channel::Meituan => meituan::cancel(ctx, o, at),
                Channel::Eleme => eleme::cancel(ctx, index, o, at),
                Channel::App | Channel::MiniProgram => own::cancel(ctx, push.channel, o, at),
                Channel::Pos => pos::void(ctx, index, o, ctx.at_ms(*of)),
                Channel::GroupBuy => groupbuy::cancel(ctx, index, *of, o),
            }
        }
    }
}

/// The channel's own id for order `seq` of this run.
pub fn channel_order_id(run: &RunIds, channel: Channel, seq: u64) -> String {
    let t = &run.token;
    match channel {
        // The platforms' ids are numeric.
        Channel::Meituan => format!("{t}{seq:07}"),
        Channel::Eleme => format!("3{t}{seq:07}"),
        Channel::App => format!("A{t}-{seq}"),
        Channel::MiniProgram => format!("M{t}-{seq}"),
        Channel::Pos => format!("{}:R{seq}", run.store()),
        Channel::GroupBuy => format!("GB{t}-{seq}"),
    }
}

/// orderhub's id of an order (`OrderId::for_channel_order`, spelled out): `{channel}-`
/// then the channel's id with every byte but ASCII alphanumerics, `_` and `.` as `%XX`.
pub fn orderhub_id(run: &RunIds, channel: Channel, seq: u64) -> String {
    let mut out = format!("{}-", channel.id());
    for b in channel_order_id(run, channel, seq).bytes() {
        if b.is_ascii_alphanumeric() || b == b'_' || b == b'.' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn shanghai() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| unreachable!("+08:00 is a valid offset"))
}

fn datetime(ms: i64) -> DateTime<FixedOffset> {
    DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .with_timezone(&shanghai())
}

/// `2026-11-25T12:00:10+08:00`, as our own channels send times.
pub fn rfc3339(ms: i64) -> String {
    datetime(ms).to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// `2026-11-25T12:00:10`, Shanghai wall clock, as Ele.me sends times.
pub fn local_text(ms: i64) -> String {
    datetime(ms).format("%Y-%m-%dT%H:%M:%S").to_string()
}

#[cfg(test)]
mod tests;
