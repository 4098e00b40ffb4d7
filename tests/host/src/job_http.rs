//! Fires a job over HTTP at a running app, as the external scheduler of a
//! SpinKube deployment (a Kubernetes CronJob running curl) does:
//! `<method> <base-url><path>` with `Authorization: Bearer <job token>`.
//! Plain `http://` only; no timeout, since jobs such as a nightly
//! reconciliation may run for minutes.

use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::manifest::AppManifest;
use crate::schedule::Schedule;
use crate::scheduler::Fire;
use crate::variables::env_key;

/// The app to fire at and the token to fire with.
#[derive(Debug, Clone)]
pub struct JobTarget {
    host: String,
    port: u16,
    authority: String,
    prefix: String,
    token: Option<String>,
}

/// The job token as the app sees it: `SPIN_VARIABLE_JOB_TOKEN` (Spin's
/// environment provider), else the manifest's `job_token` default.
pub fn job_token(app: &AppManifest, env: impl Fn(&str) -> Option<String>) -> Option<String> {
    env(&env_key("job_token")).or_else(|| {
        app.variables
            .get("job_token")
            .and_then(|d| d.default.clone())
    })
}

impl JobTarget {
    /// `base_url` is `http://host[:port][/prefix]`.
    pub fn new(base_url: &str, token: Option<String>) -> Result<Self> {
        let uri: http::Uri = base_url
            .parse()
            .with_context(|| format!("--base-url: not a URL: {base_url}"))?;
        if uri.scheme_str() != Some("http") {
            bail!("--base-url: only http:// is supported: {base_url}");
        }
        let authority = uri
            .authority()
            .ok_or_else(|| anyhow!("--base-url: no host in {base_url}"))?;
        Ok(Self {
            host: authority.host().to_string(),
            port: authority.port_u16().unwrap_or(80),
            authority: authority.to_string(),
            prefix: uri.path().trim_end_matches('/').to_string(),
            token,
        })
    }

    pub fn url(&self, sched: &Schedule) -> String {
        format!("http://{}{}{}", self.authority, self.prefix, sched.path)
    }

    /// One request on a fresh connection; `(status, body)` of the answer.
    pub async fn fire(&self, sched: &Schedule) -> Result<(http::StatusCode, Bytes)> {
        let stream = TcpStream::connect((self.host.as_str(), self.port))
            .await
            .with_context(|| format!("cannot connect to {}", self.authority))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .context("HTTP handshake")?;
        let conn = tokio::spawn(conn);
        let mut req = http::Request::builder()
            .method(sched.method.clone())
            .uri(format!("{}{}", self.prefix, sched.path))
            .header(http::header::HOST, &self.authority)
            .header(http::header::CONTENT_LENGTH, "0")
            .header("x-orderhub-schedule", &sched.name);
        if let Some(token) = &self.token {
            req = req.header(http::header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let req = req
            .body(Empty::<Bytes>::new())
            .context("building job request")?;
        let resp = sender
            .send_request(req)
            .await
            .context("sending job request")?;
        let status = resp.status();
        let body = resp
            .into_body()
            .collect()
            .await
            .context("reading job answer")?
            .to_bytes();
        drop(sender);
        let _ = conn.await;
        Ok((status, body))
    }

    pub fn into_fire(self) -> Fire {
        let target = Arc::new(self);
        Arc::new(move |s: Schedule| {
            let target = target.clone();
            Box::pin(async move { target.fire(&s).await })
        })
    }
}
