//! `ingest` component: one instance per channel (`ingest-meituan`, `ingest-eleme`, …),
//! each with its own route, `channel` id and `channel_secret`.
//!
//! verify (core, pure) → rate limit, replay, idempotency claim (core, over the `ingest`
//! store) → normalize (private component, over `*.spin.internal`) → complete the claim →
//! acknowledge in the platform's format (core). The claim is completed only after
//! normalize has stored everything, so a failure anywhere leaves the push to be
//! processed again on redelivery: never lost, never doubled.

use chrono::Utc;
use orderhub_core::channel::{
    acknowledgement, catalog, verify, Ack, Admission, ChannelConfig, ChannelKind, InboundRequest,
    IngestGate, NormalizeError, Outcome,
};
use orderhub_core::order::book::Applied;
use orderhub_shell::kv::Bucket;
use orderhub_shell::{finish, health, ApiError};
use spin_sdk::http::{IncomingRequest, Method, Request, Response};
use spin_sdk::http_component;

#[http_component]
async fn handle(incoming: IncomingRequest) -> Response {
    orderhub_shell::serve(incoming, orderhub_core::limits::WEBHOOK_BODY_MAX, route).await
}

async fn route(req: Request) -> Response {
    if *req.method() == Method::Get && req.path().ends_with("/health") {
        return health("ingest");
    }
    finish(ingest(req).await)
}

async fn ingest(req: Request) -> Result<Response, ApiError> {
    let (channel, secret) = channel_and_secret(&req)?;
    let catalog_store = Bucket::open("catalog")?;
    let cfg = catalog::load_config(&catalog_store, &channel).map_err(|e| match e {
        catalog::CatalogError::UnknownChannel(_) => {
            ApiError::not_found("unknown_channel", e.to_string())
        }
        _ => ApiError::new(500, "channel_not_configured", e.to_string()),
    })?;

    let headers: Vec<(String, String)> = req
        .headers()
        .map(|(k, v)| {
            (
                k.to_ascii_lowercase(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let full_url = req
        .header("spin-full-url")
        .and_then(|v| v.as_str())
        .map(str::to_string)
        .unwrap_or_else(|| req.uri().to_string());
    let method = req.method().to_string();
    let inbound = InboundRequest {
        method: &method,
        full_url: &full_url,
        path: req.path(),
        query: req.query(),
        headers: &headers,
        content_type: req.header("content-type").and_then(|v| v.as_str()),
        body: req.body(),
        received_at: Utc::now(),
    };

    let push = match verify(&cfg, &secret, &inbound) {
        Ok(push) => push,
        Err(e) => return Ok(answer(&cfg, &Outcome::Refused(e))),
    };
    let store = Bucket::open("ingest")?;
    let gate = IngestGate::new(&store, &cfg);
    let claim = match gate.admit(&push, inbound.received_at) {
        Ok(Admission::Proceed(claim)) => claim,
        Ok(Admission::AlreadyDone) => return Ok(answer(&cfg, &Outcome::Duplicate)),
        Err(e) => return Ok(answer(&cfg, &Outcome::Refused(e))),
    };

    let outcome = match forward_to_normalize(push.to_json()).await {
        Ok(applied) => match gate.complete(claim) {
            Ok(()) => Outcome::Accepted {
                orders: applied.orders,
            },
            // Stored but not marked done: a redelivery re-applies idempotently.
            Err(e) => Outcome::Refused(e),
        },
        Err(failure) => {
            // Let the very next redelivery try again instead of waiting out the lease.
            let _ = gate.abandon(claim);
            failure
        }
    };
    Ok(answer(&cfg, &outcome))
}

async fn forward_to_normalize(push_json: Vec<u8>) -> Result<Applied, Outcome> {
    let req = Request::builder()
        .method(Method::Post)
        .uri("http://normalize.spin.internal/push")
        .header("content-type", "application/json")
        .body(push_json)
        .build();
    let unavailable = |message: String| Outcome::Unavailable { message };
    let resp: Response = spin_sdk::http::send(req)
        .await
        .map_err(|e| unavailable(format!("normalize unreachable: {e}")))?;
    let status = *resp.status();
    if status == 200 {
        return serde_json::from_slice(resp.body())
            .map_err(|e| unavailable(format!("normalize answered: {e}")));
    }
    if (400..500).contains(&status) {
        if let Ok(e) = serde_json::from_slice::<NormalizeError>(resp.body()) {
            return Err(Outcome::Invalid(e));
        }
    }
    Err(unavailable(format!(
        "normalize answered {status}: {}",
        String::from_utf8_lossy(resp.body())
    )))
}

fn answer(cfg: &ChannelConfig, outcome: &Outcome) -> Response {
    let Ack {
        status,
        content_type,
        body,
        retry_after_seconds,
    } = acknowledgement(cfg, outcome);
    let mut builder = Response::builder();
    builder.status(status).header("content-type", content_type);
    if let Some(seconds) = retry_after_seconds {
        builder.header("retry-after", seconds.to_string());
    }
    builder.body(body).build()
}

/// Which channel this request is for, and its secret. A built-in channel's instance names
/// its channel in the `channel` variable; the `ingest-ext` instance (`channel =
/// "from-path"`) serves every channel added by configuration at
/// `/webhooks/ext/{channel}/...`, with secrets from the `channel_secrets` JSON map
/// (a secret variable, so adding a channel is configuration, not code).
fn channel_and_secret(req: &Request) -> Result<(String, String), ApiError> {
    let channel = variable("channel")?;
    if channel != "from-path" {
        return Ok((channel, variable("channel_secret")?));
    }
    let id = req
        .path()
        .strip_prefix("/webhooks/ext/")
        .and_then(|rest| rest.split('/').next())
        .filter(|id| !id.is_empty())
        .ok_or_else(|| {
            ApiError::not_found("unknown_channel", "expected /webhooks/ext/{channel}/...")
        })?;
    if ChannelKind::from_builtin_id(id).is_some() {
        return Err(ApiError::not_found(
            "unknown_channel",
            format!("`{id}` is built in: use /webhooks/{id}/..."),
        ));
    }
    let secrets: std::collections::HashMap<String, String> =
        serde_json::from_str(&variable("channel_secrets")?).map_err(|e| {
            ApiError::new(
                500,
                "channel_not_configured",
                format!("`channel_secrets` is not a JSON map: {e}"),
            )
        })?;
    let secret = secrets.get(id).cloned().ok_or_else(|| {
        ApiError::not_found("unknown_channel", format!("no secret for channel `{id}`"))
    })?;
    Ok((id.to_string(), secret))
}

fn variable(name: &str) -> Result<String, ApiError> {
    spin_sdk::variables::get(name)
        .map_err(|e| ApiError::new(500, "variable_missing", format!("`{name}`: {e}")))
}
