//! A small HTTP/1.1 client over hyper with a connection pool: plain `http://` only
//! (the generator targets local apps), every request bounded by a timeout.

use std::time::Duration;

use anyhow::{bail, Context};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Bytes,
    pub retry_after: Option<u64>,
}

impl Reply {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// The machine code of an error answer, whichever format it is in: the shells'
    /// `{"error":{"code"}}`, Meituan's `{"data":"ng","error":{"code"}}`, our own
    /// channels' `{"error":"<code>"}`, Ele.me's `{"message":"error","code"}`; `-` when
    /// the body is not one of them (a runtime's plain-text 404 or trap).
    pub fn error_code(&self) -> String {
        let Some(v) = self.json() else {
            return "-".into();
        };
        let code = match &v["error"] {
            serde_json::Value::Object(e) => e.get("code").and_then(|c| c.as_str()),
            serde_json::Value::String(s) => Some(s.as_str()),
            _ => v["code"].as_str(),
        };
        code.unwrap_or("-").to_string()
    }
}

/// Why no answer came.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Failure {
    Timeout,
    Connect,
    Other(String),
}

impl Failure {
    pub fn label(&self) -> String {
        match self {
            Failure::Timeout => "timeout".into(),
            Failure::Connect => "connect".into(),
            Failure::Other(e) => e.clone(),
        }
    }
}

#[derive(Clone)]
pub struct Http {
    client: Client<HttpConnector, Full<Bytes>>,
    base: String,
    timeout: Duration,
}

impl Http {
    pub fn new(base: &str, pool: usize, timeout: Duration) -> anyhow::Result<Http> {
        let base = base.trim_end_matches('/').to_string();
        let uri: hyper::Uri = base.parse().with_context(|| format!("URL `{base}`"))?;
        if uri.scheme_str() != Some("http") || uri.host().is_none() {
            bail!("URL `{base}`: expected http://host:port (plain HTTP)");
        }
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(pool)
            .build(connector);
        Ok(Http {
            client,
            base,
            timeout,
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Result<Reply, Failure> {
        let mut req = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        let req = req
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| Failure::Other(format!("request: {e}")))?;
        let exchange = async {
            let resp = self.client.request(req).await.map_err(|e| {
                if e.is_connect() {
                    Failure::Connect
                } else {
                    Failure::Other("transport".into())
                }
            })?;
            let status = resp.status().as_u16();
            let retry_after = resp
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse().ok());
            let body = resp
                .into_body()
                .collect()
                .await
                .map_err(|_| Failure::Other("body".into()))?
                .to_bytes();
            Ok(Reply {
                status,
                body,
                retry_after,
            })
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .unwrap_or(Err(Failure::Timeout))
    }

    /// An admin call (`Authorization: Bearer <token>`), JSON in and out.
    pub async fn admin(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Reply, Failure> {
        let headers = [
            ("authorization", format!("Bearer {token}")),
            ("content-type", "application/json".to_string()),
        ];
        let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        self.send(method, path, &headers, bytes).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16, body: &str) -> Reply {
        Reply {
            status,
            body: Bytes::from(body.to_string()),
            retry_after: None,
        }
    }

    #[test]
    fn error_codes_of_every_format() {
        let code = |b: &str| reply(400, b).error_code();
        assert_eq!(
            code(r#"{"error":{"code":"bad_token","message":"x"}}"#),
            "bad_token"
        );
        assert_eq!(
            code(r#"{"data":"ng","error":{"code":"bad_signature","msg":"x"}}"#),
            "bad_signature"
        );
        assert_eq!(
            code(r#"{"error":"rate_limited","message":"x"}"#),
            "rate_limited"
        );
        assert_eq!(
            code(r#"{"message":"error","code":"replayed","detail":"x"}"#),
            "replayed"
        );
        assert_eq!(code("Not Found"), "-");
        assert!(reply(204, "").is_success() && !reply(409, "").is_success());
    }

    #[test]
    fn only_plain_http_urls() {
        let t = Duration::from_secs(1);
        assert!(Http::new("https://127.0.0.1:3000", 1, t).is_err());
        assert!(Http::new("127.0.0.1:3000", 1, t).is_err());
        assert_eq!(
            Http::new("http://127.0.0.1:3000/", 1, t).unwrap().base(),
            "http://127.0.0.1:3000"
        );
    }
}
