//! Pushing each channel's sellable quantities to its platform (issue 15, item 1): the
//! decisions of the scheduled sender (`POST /jobs/stock/sync/{channel}`), whose shell
//! only sends the HTTP calls decided here.
//!
//! One run: [`start_sync`] (one runner per channel at a time, a backoff after failures
//! is waited out), then repeatedly the outbox ([`super::drain_outbox`]: newest version
//! per SKU, nothing older than what was pushed), cut into calls ([`plan_push`]), each
//! call signed as the platform signs ([`stock_call`]: Meituan's `sig`, Ele.me's signed
//! envelope, the same functions the ingest side verifies with), its answer judged
//! ([`classify`]); an accepted call records its SKUs' versions ([`SyncRun::pushed`]),
//! a failed or rate-limited one ends the run with a backoff ([`SyncRun::failed`]); a
//! fully pushed outbox batch moves the cursor ([`SyncRun::caught_up`]).
//!
//! **Never an older quantity after a newer one:** versions are journal slots; a SKU's
//! version is recorded only after the platform accepted it, and the outbox never offers
//! a version at or below the recorded one. Two runners could break that (one pushing
//! v5 after the other pushed v7), so a run holds a claim ([`start_sync`]) and stops
//! calling at its deadline, before the claim's lease lets anyone else in.
//!
//! Keys (prefix `stock:sync:{channel}:`; c = counter): `config` (admin), `state` (the
//! runner's, one writer), `rounds` (c, runs finished), `claim:{round}:{period}` (c, the
//! run's claim), `fail:n` (c, failures ever; consecutive = `fail:n` − `state.fail_base`),
//! `calls:{minute}` (c, calls made in a minute, against the platform's rate limit).

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::channel::signature::{eleme_md5, meituan_md5};
use crate::channel::{ElemeValueEncoding, SkuMap};
use crate::order::{ChannelId, SkuId};
use crate::store::{KeyValue, StoreError};

use super::counters::read;
use super::error::StockResult;
use super::journal::{self, ChannelStock, OutboxBatch};
use super::keys;

/// A run's claim lasts this long; a run stops calling after half of it (and never past
/// its claim period), so a dead runner's channel is free again within a lease.
pub const SYNC_LEASE_SECONDS: i64 = 60;

/// Whose stock API, hence whose request shape and signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Platform {
    Meituan,
    Eleme,
}

impl Platform {
    /// The Spin variable holding the app secret (the one its pushes are verified with).
    pub fn secret_variable(self) -> &'static str {
        match self {
            Platform::Meituan => "meituan_secret",
            Platform::Eleme => "eleme_secret",
        }
    }
}

/// A channel's stock sync, set by `PUT /admin/stock/sync/{channel}`. The app secret is
/// not here: it is the platform's Spin variable (`meituan_secret`, `eleme_secret`), the
/// same one its pushes are verified with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncConfig {
    pub platform: Platform,
    /// The platform's stock-update URL (its host must be in the `stock-jobs`
    /// component's `allowed_outbound_hosts`).
    pub endpoint: String,
    pub app_id: String,
    /// Meituan `app_poi_code` / Ele.me `shopId`.
    pub shop_id: String,
    /// The channel whose SKU table gives the platform's codes for our SKUs (default: the
    /// channel itself). A SKU without a code there is not sent.
    #[serde(default)]
    pub sku_table: Option<ChannelId>,
    /// Items per call, as the platform allows.
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// Calls per minute, as the platform allows.
    #[serde(default = "default_calls_per_minute")]
    pub calls_per_minute: u32,
    /// Backoff after the n-th consecutive failure: base × 2^(n−1) seconds, at most max,
    /// at least what a rate-limit answer's `Retry-After` asks.
    #[serde(default = "default_backoff_base")]
    pub backoff_base_seconds: u32,
    #[serde(default = "default_backoff_max")]
    pub backoff_max_seconds: u32,
    /// Platform error codes that mean "too many calls" (besides HTTP 429).
    #[serde(default)]
    pub rate_limit_codes: Vec<String>,
}

fn default_batch_size() -> usize {
    50
}
fn default_calls_per_minute() -> u32 {
    60
}
fn default_backoff_base() -> u32 {
    5
}
fn default_backoff_max() -> u32 {
    600
}

pub const MAX_BATCH_SIZE: usize = 1_000;

impl SyncConfig {
    /// What is wrong with it, if anything.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let endpoint = self.endpoint.trim();
        if !(endpoint.starts_with("http://") || endpoint.starts_with("https://"))
            || endpoint.len() < 10
        {
            out.push("`endpoint` must be an http(s) URL".to_string());
        }
        if self.app_id.trim().is_empty() {
            out.push("`app_id` is empty".into());
        }
        if self.shop_id.trim().is_empty() {
            out.push("`shop_id` is empty".into());
        }
        if self.batch_size == 0 || self.batch_size > MAX_BATCH_SIZE {
            out.push(format!("`batch_size` must be 1 to {MAX_BATCH_SIZE}"));
        }
        if self.calls_per_minute == 0 {
            out.push("`calls_per_minute` must be at least 1".into());
        }
        if self.backoff_base_seconds == 0 || self.backoff_max_seconds < self.backoff_base_seconds {
            out.push("backoff: 1 <= `backoff_base_seconds` <= `backoff_max_seconds`".into());
        }
        out
    }

    pub fn sku_table<'a>(&'a self, channel: &'a ChannelId) -> &'a ChannelId {
        self.sku_table.as_ref().unwrap_or(channel)
    }
}

fn key(channel: &ChannelId, what: &str) -> String {
    format!("stock:sync:{}:{what}", channel.0)
}

pub fn load_sync_config<S: KeyValue>(
    store: &S,
    channel: &ChannelId,
) -> StockResult<Option<SyncConfig>> {
    Ok(store.get_json(&key(channel, "config"))?)
}

pub fn put_sync_config<S: KeyValue>(
    store: &S,
    channel: &ChannelId,
    config: &SyncConfig,
) -> StockResult<()> {
    Ok(store.set_json(&key(channel, "config"), config)?)
}

/// What the runner keeps between runs (one writer: the run holding the claim).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncState {
    /// `fail:n` as of the last accepted call.
    pub fail_base: i64,
    pub not_before: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub last_failure_at: Option<DateTime<Utc>>,
    pub last_success_at: Option<DateTime<Utc>>,
}

fn load_state<S: KeyValue>(store: &S, channel: &ChannelId) -> StockResult<SyncState> {
    Ok(store.get_json(&key(channel, "state"))?.unwrap_or_default())
}

/// Seconds to wait after the `failures`-th consecutive failure (1-based).
pub fn backoff_seconds(config: &SyncConfig, failures: i64, retry_after: Option<u32>) -> i64 {
    let base = i64::from(config.backoff_base_seconds);
    let max = i64::from(config.backoff_max_seconds);
    let exp = u32::try_from((failures - 1).clamp(0, 30)).unwrap_or(30);
    let wait = base.saturating_mul(1i64 << exp).min(max);
    wait.max(retry_after.map_or(0, i64::from))
}

/// How a run begins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncStart {
    Run(SyncRun),
    /// Another run holds the channel.
    Busy,
    /// Backing off after `failures` consecutive failures.
    Waiting {
        until: DateTime<Utc>,
        failures: i64,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncRun {
    pub channel: ChannelId,
    round: i64,
    deadline: DateTime<Utc>,
    state: SyncState,
    failures: i64,
}

/// Claims the channel's run: one runner per round and lease period (`increment` of
/// `claim:{round}:{period}`; the round moves when a run finishes, the period when a
/// runner died holding it).
pub fn start_sync<S: KeyValue>(
    store: &S,
    channel: &ChannelId,
    now: DateTime<Utc>,
) -> StockResult<SyncStart> {
    let state = load_state(store, channel)?;
    let failures = read(store, &key(channel, "fail:n"))? - state.fail_base;
    if let Some(until) = state.not_before.filter(|t| failures > 0 && now < *t) {
        return Ok(SyncStart::Waiting { until, failures });
    }
    let round = read(store, &key(channel, "rounds"))?;
    let period = now.timestamp().div_euclid(SYNC_LEASE_SECONDS);
    let claim = store.increment(&key(channel, &format!("claim:{round}:{period}")), 1)?;
    if claim != 1 {
        return Ok(SyncStart::Busy);
    }
    let period_end =
        DateTime::<Utc>::from_timestamp((period + 1) * SYNC_LEASE_SECONDS, 0).unwrap_or(now);
    let deadline = (now + Duration::seconds(SYNC_LEASE_SECONDS / 2)).min(period_end);
    Ok(SyncStart::Run(SyncRun {
        channel: channel.clone(),
        round,
        deadline,
        state,
        failures,
    }))
}

/// Whether the run may make one more call now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "verdict")]
pub enum CallVerdict {
    Go,
    /// The minute's calls are used up (`calls_per_minute`): the next run goes on.
    RateLimited,
    /// Past the run's deadline: the next run goes on.
    OutOfTime,
}

impl SyncRun {
    /// Takes one call of the minute's allowance (an `increment`, so concurrent runs on
    /// other replicas count together) unless the run is out of time.
    pub fn may_call<S: KeyValue>(
        &self,
        store: &S,
        config: &SyncConfig,
        now: DateTime<Utc>,
    ) -> StockResult<CallVerdict> {
        if now >= self.deadline {
            return Ok(CallVerdict::OutOfTime);
        }
        let minute = now.timestamp().div_euclid(60);
        let calls = store.increment(&key(&self.channel, &format!("calls:{minute}")), 1)?;
        if calls > i64::from(config.calls_per_minute) {
            return Ok(CallVerdict::RateLimited);
        }
        Ok(CallVerdict::Go)
    }

    /// The platform accepted `call`: its SKUs' versions are pushed (never offered again),
    /// and the consecutive failures end.
    pub fn pushed<S: KeyValue>(
        &mut self,
        store: &S,
        call: &[PushLine],
        now: DateTime<Utc>,
    ) -> StockResult<()> {
        let mut entries: Vec<(String, Vec<u8>)> = Vec::new();
        for line in call {
            entries.push((
                keys::outbox_pushed(&self.channel, &line.sku),
                line.version.to_string().into_bytes(),
            ));
        }
        if self.failures > 0 || self.state.last_success_at.is_none() {
            self.state.fail_base = read(store, &key(&self.channel, "fail:n"))?;
            self.failures = 0;
            self.state.not_before = None;
        }
        self.state.last_success_at = Some(now);
        entries.push((key(&self.channel, "state"), to_json(&self.state)?));
        Ok(store.set_many(&entries)?)
    }

    /// The call failed or was refused as too many: count the failure and back off. The
    /// run stops here; nothing of the call is recorded as pushed.
    pub fn failed<S: KeyValue>(
        &mut self,
        store: &S,
        config: &SyncConfig,
        answer: &PushAnswer,
        now: DateTime<Utc>,
    ) -> StockResult<DateTime<Utc>> {
        let total = store.increment(&key(&self.channel, "fail:n"), 1)?;
        self.failures = total - self.state.fail_base;
        let retry_after = match answer {
            PushAnswer::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        };
        let until = now + Duration::seconds(backoff_seconds(config, self.failures, retry_after));
        self.state.not_before = Some(until);
        self.state.last_failure_at = Some(now);
        self.state.last_error = Some(answer.describe());
        store.set_json(&key(&self.channel, "state"), &self.state)?;
        Ok(until)
    }

    /// Every update of `batch` was pushed (or has no code on the platform): move the
    /// channel's cursor past it.
    pub fn caught_up<S: KeyValue>(&self, store: &S, batch: &OutboxBatch) -> StockResult<()> {
        journal::ack_outbox(store, batch)
    }

    /// Ends the run: the next run claims a new round at once.
    pub fn finish<S: KeyValue>(self, store: &S) -> StockResult<()> {
        let rounds = key(&self.channel, "rounds");
        // Only the first finisher of a round moves it (a runner that outlived its lease
        // must not skip the round its successor is in).
        if read(store, &rounds)? == self.round {
            store.increment(&rounds, 1)?;
        }
        Ok(())
    }

    pub fn consecutive_failures(&self) -> i64 {
        self.failures
    }
}

fn to_json<T: Serialize>(value: &T) -> StockResult<Vec<u8>> {
    serde_json::to_vec(value).map_err(|e| StoreError::Backend(e.to_string()).into())
}

/// One item of a call: the platform's code for our SKU, the quantity to show, and the
/// journal version it is as of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushLine {
    pub code: String,
    pub sku: SkuId,
    pub stock: u64,
    pub version: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushPlan {
    /// The calls to make, in order; a SKU's codes are never split over two calls.
    pub calls: Vec<Vec<PushLine>>,
    /// Updates of SKUs the platform has no code for (not sent).
    pub unmapped: Vec<SkuId>,
}

/// Our SKU → the platform's codes for it, from the channel's SKU table (several codes
/// may name one SKU: each is sent).
pub fn codes_by_sku(map: &SkuMap) -> BTreeMap<SkuId, Vec<String>> {
    let mut out: BTreeMap<SkuId, Vec<String>> = BTreeMap::new();
    for (code, entry) in &map.entries {
        out.entry(entry.sku.clone()).or_default().push(code.clone());
    }
    out
}

/// Cuts an outbox batch into calls of at most `batch_size` items (a SKU with more
/// codes than that is one call of its own), in SKU order.
pub fn plan_push(
    updates: &[ChannelStock],
    codes: &BTreeMap<SkuId, Vec<String>>,
    batch_size: usize,
) -> PushPlan {
    let batch_size = batch_size.max(1);
    let mut plan = PushPlan::default();
    let mut current: Vec<PushLine> = Vec::new();
    let mut sorted: Vec<&ChannelStock> = updates.iter().collect();
    sorted.sort_by(|a, b| a.sku.cmp(&b.sku));
    for update in sorted {
        let Some(list) = codes.get(&update.sku).filter(|l| !l.is_empty()) else {
            plan.unmapped.push(update.sku.clone());
            continue;
        };
        if !current.is_empty() && current.len() + list.len() > batch_size {
            plan.calls.push(std::mem::take(&mut current));
        }
        current.extend(list.iter().map(|code| PushLine {
            code: code.clone(),
            sku: update.sku.clone(),
            stock: update.sellable,
            version: update.version,
        }));
    }
    if !current.is_empty() {
        plan.calls.push(current);
    }
    plan
}

/// An HTTP call for the shell to send as is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlatformCall {
    pub url: String,
    pub content_type: String,
    pub body: Vec<u8>,
}

/// The stock-update call for `lines`, signed with `secret` as the platform signs.
///
/// - Meituan: `POST {endpoint}`, form `app_id`, `timestamp` (epoch s), `app_poi_code`,
///   `food_data` (JSON `[{"app_food_code", "skus":[{"sku_id","stock"}]}]`, stock as
///   text), `sig` = md5_lower(endpoint + "?" + sorted k=v&… + secret).
/// - Ele.me: `POST {endpoint}`, JSON envelope `requestId`, `type`
///   (`"stock.batch_update"`), `appId`, `message` (JSON text `{"shopId", "items":
///   [{"extendCode","stock"}]}`), `shopId`, `timestamp` (epoch ms), `userId` (= app id),
///   `signature` = md5_upper(sorted key=value of the other seven + secret).
pub fn stock_call(
    config: &SyncConfig,
    secret: &str,
    lines: &[PushLine],
    now: DateTime<Utc>,
    request_id: &str,
) -> PlatformCall {
    let endpoint = config.endpoint.trim().to_string();
    match config.platform {
        Platform::Meituan => {
            let food: Vec<serde_json::Value> = lines
                .iter()
                .map(|l| {
                    serde_json::json!({
                        "app_food_code": l.code,
                        "skus": [{ "sku_id": l.code, "stock": l.stock.to_string() }],
                    })
                })
                .collect();
            let mut params: BTreeMap<String, String> = BTreeMap::new();
            params.insert("app_id".into(), config.app_id.clone());
            params.insert("timestamp".into(), now.timestamp().to_string());
            params.insert("app_poi_code".into(), config.shop_id.clone());
            params.insert(
                "food_data".into(),
                serde_json::Value::Array(food).to_string(),
            );
            let sig = meituan_md5(&endpoint, &params, "sig", secret);
            params.insert("sig".into(), sig);
            let body = params
                .iter()
                .map(|(k, v)| format!("{}={}", form_escape(k), form_escape(v)))
                .collect::<Vec<_>>()
                .join("&");
            PlatformCall {
                url: endpoint,
                content_type: "application/x-www-form-urlencoded".into(),
                body: body.into_bytes(),
            }
        }
        Platform::Eleme => {
            let items: Vec<serde_json::Value> = lines
                .iter()
                .map(|l| serde_json::json!({ "extendCode": l.code, "stock": l.stock }))
                .collect();
            let message = serde_json::json!({ "shopId": config.shop_id, "items": items });
            let mut envelope = serde_json::Map::new();
            envelope.insert("requestId".into(), request_id.into());
            envelope.insert("type".into(), "stock.batch_update".into());
            envelope.insert("appId".into(), config.app_id.clone().into());
            envelope.insert("message".into(), message.to_string().into());
            envelope.insert("shopId".into(), config.shop_id.clone().into());
            envelope.insert("timestamp".into(), now.timestamp_millis().into());
            envelope.insert("userId".into(), config.app_id.clone().into());
            let signature = eleme_md5(&envelope, "signature", ElemeValueEncoding::Raw, secret);
            envelope.insert("signature".into(), signature.into());
            PlatformCall {
                url: endpoint,
                content_type: "application/json".into(),
                body: serde_json::Value::Object(envelope).to_string().into_bytes(),
            }
        }
    }
}

/// `application/x-www-form-urlencoded` escaping: unreserved bytes as they are, space as
/// `+`, everything else `%XX`.
pub fn form_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// What the platform's answer means.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "answer")]
pub enum PushAnswer {
    Accepted,
    /// HTTP 429, or an error code in `rate_limit_codes`.
    RateLimited {
        retry_after: Option<u32>,
        detail: String,
    },
    /// Anything else (HTTP error, unreadable or refusing body, no answer).
    Failed {
        detail: String,
    },
}

impl PushAnswer {
    pub fn describe(&self) -> String {
        match self {
            PushAnswer::Accepted => "accepted".into(),
            PushAnswer::RateLimited { detail, .. } => format!("rate limited: {detail}"),
            PushAnswer::Failed { detail } => detail.clone(),
        }
    }
}

/// Judges a platform answer. Success is HTTP 200 with Meituan's `{"data":"ok"}` or
/// Ele.me's `{"message":"ok"}`; an error body is `{"data":"ng"|…, "error":{"code",
/// "msg"}}` (Meituan) or `{"message":…, "error":{"code","msg"}}` (Ele.me).
pub fn classify(
    config: &SyncConfig,
    status: u16,
    retry_after: Option<&str>,
    body: &[u8],
) -> PushAnswer {
    let retry_after = retry_after.and_then(|v| v.trim().parse::<u32>().ok());
    let parsed: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let ok_field = match config.platform {
        Platform::Meituan => "data",
        Platform::Eleme => "message",
    };
    let error_code = parsed
        .as_ref()
        .and_then(|v| v.get("error"))
        .and_then(|e| e.get("code"))
        .map(|c| match c {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        });
    let text = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
    if status == 429
        || error_code
            .as_ref()
            .is_some_and(|c| config.rate_limit_codes.contains(c))
    {
        return PushAnswer::RateLimited {
            retry_after,
            detail: format!("HTTP {status}: {text}"),
        };
    }
    let accepted = status == 200
        && parsed
            .as_ref()
            .and_then(|v| v.get(ok_field))
            .and_then(|v| v.as_str())
            == Some("ok");
    if accepted {
        PushAnswer::Accepted
    } else {
        PushAnswer::Failed {
            detail: format!("HTTP {status}: {text}"),
        }
    }
}

/// The channel's outbox position: journal entries up to it are pushed (or were not the
/// channel's to push).
pub fn outbox_cursor<S: KeyValue>(store: &S, channel: &ChannelId) -> StockResult<i64> {
    Ok(store.get_json(&keys::outbox_cursor(channel))?.unwrap_or(0))
}

/// A channel's sync lag, for `GET /jobs/stock/sync/{channel}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncStatus {
    pub channel: ChannelId,
    pub configured: bool,
    /// Journal entries written / the channel's cursor in it.
    pub journal_len: i64,
    pub cursor: i64,
    /// Journal entries after the cursor (not all need touch this channel).
    pub behind: i64,
    /// When the oldest entry not yet pushed was written, and how long ago.
    pub oldest_unpushed_at: Option<DateTime<Utc>>,
    pub lag_seconds: i64,
    pub consecutive_failures: i64,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub last_success_at: Option<DateTime<Utc>>,
}

pub fn sync_status<S: KeyValue>(
    store: &S,
    channel: &ChannelId,
    now: DateTime<Utc>,
) -> StockResult<SyncStatus> {
    let configured = load_sync_config(store, channel)?.is_some();
    let state = load_state(store, channel)?;
    let failures = read(store, &key(channel, "fail:n"))? - state.fail_base;
    let cursor: i64 = store.get_json(&keys::outbox_cursor(channel))?.unwrap_or(0);
    let journal_len = read(store, keys::LOG_LEN)?;
    let oldest = if journal_len > cursor {
        journal::audit_log(store, cursor + 1, 1)?
            .first()
            .map(|e| e.at)
    } else {
        None
    };
    Ok(SyncStatus {
        channel: channel.clone(),
        configured,
        journal_len,
        cursor,
        behind: (journal_len - cursor).max(0),
        oldest_unpushed_at: oldest,
        lag_seconds: oldest.map_or(0, |at| (now - at).num_seconds().max(0)),
        consecutive_failures: failures.max(0),
        next_attempt_at: state.not_before.filter(|_| failures > 0),
        last_error: state.last_error,
        last_success_at: state.last_success_at,
    })
}

#[cfg(test)]
#[path = "sync_tests.rs"]
mod tests;
