//! The HTTP client every backend shares, and the one place that turns answers into outcomes.
//!
//! TLS is rustls with certificate checks always on. The system's roots are only loaded for
//! `https` URLs: a plain-HTTP receiver (a test, a loopback relay) then costs no start-up time.

use crate::retry::{classify, Class, DeliveryError};
use anyhow::Context;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

/// How to reach a server.
#[derive(Debug, Default)]
pub struct ClientOptions<'a> {
    /// The base URL; decides whether TLS roots are needed.
    pub base_url: &'a str,
    /// Seconds one request may take, connect included.
    pub timeout: Duration,
    /// A CA certificate (PEM) to trust instead of the system's roots.
    pub ca_file: Option<&'a Path>,
    /// Connect to this address when the certificate's name is not resolvable (Icinga's node
    /// name on a private CA): `(name, address)`.
    pub resolve: Option<(&'a str, SocketAddr)>,
}

/// Builds the client: one per run, so every request reuses its connections.
pub fn client(opts: &ClientOptions<'_>) -> anyhow::Result<reqwest::Client> {
    let https = opts.base_url.starts_with("https://");
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(opts.timeout)
        .connect_timeout(opts.timeout.min(Duration::from_secs(10)))
        .user_agent(concat!("nixcloud-monitoring/", env!("CARGO_PKG_VERSION")))
        .tls_built_in_root_certs(https && opts.ca_file.is_none());
    if let Some(ca) = opts.ca_file {
        let pem = std::fs::read(ca)
            .with_context(|| format!("could not read CA certificate {}", ca.display()))?;
        let cert = reqwest::Certificate::from_pem(&pem)
            .with_context(|| format!("{} is not a PEM certificate", ca.display()))?;
        builder = builder.add_root_certificate(cert);
    }
    if let Some((name, addr)) = opts.resolve {
        builder = builder.resolve(name, addr);
    }
    builder.build().context("could not set up the HTTP client")
}

/// Sends a request and classifies the answer. `what` says what was being done and for which
/// target; it starts every error message, followed by the method, the URL (which never holds a
/// secret: keys travel in headers), the status and the server's own words.
pub async fn send(request: reqwest::RequestBuilder, what: &str) -> Result<String, DeliveryError> {
    let answer = send_raw(request, what).await?;
    match classify(answer.status) {
        Class::Success => Ok(answer.body),
        Class::Transient => Err(DeliveryError::Transient(answer.error(what))),
        Class::Rejected => Err(DeliveryError::Rejected(answer.error(what))),
    }
}

/// A server's answer, whatever its status.
#[derive(Debug)]
pub struct Answer {
    /// `POST https://…/path`, for messages.
    pub place: String,
    pub status: u16,
    pub body: String,
    /// The response's headers (what a server announces, such as `Ping-Body-Limit`).
    pub headers: reqwest::header::HeaderMap,
}

impl Answer {
    /// "`what`: POST url: HTTP status: the server's words".
    pub fn error(&self, what: &str) -> anyhow::Error {
        let shown: String = self.body.trim().chars().take(500).collect();
        let status = reqwest::StatusCode::from_u16(self.status)
            .map(|s| s.to_string())
            .unwrap_or_default();
        anyhow::anyhow!("{what}: {}: HTTP {status}: {shown}", self.place)
    }
}

/// Sends a request; only a failure to get any answer is an error (transient).
pub async fn send_raw(
    request: reqwest::RequestBuilder,
    what: &str,
) -> Result<Answer, DeliveryError> {
    let (client, request) = request.build_split();
    let request = request
        .map_err(|e| DeliveryError::Rejected(anyhow::anyhow!("{what}: invalid request: {e}")))?;
    let place = format!("{} {}", request.method(), request.url());
    let response = match client.execute(request).await {
        Ok(r) => r,
        Err(e) => {
            let why = if e.is_timeout() {
                "no answer in time"
            } else if e.is_connect() {
                "could not connect"
            } else {
                "request failed"
            };
            return Err(DeliveryError::Transient(anyhow::anyhow!(
                "{what}: {place}: {why}: {}",
                source_chain(&e)
            )));
        }
    };
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.text().await.unwrap_or_default();
    Ok(Answer {
        place,
        status,
        body,
        headers,
    })
}

/// reqwest's error with its causes ("connection refused", "certificate expired", …).
fn source_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = Vec::new();
    let mut cur = e.source();
    while let Some(err) = cur {
        let text = err.to_string();
        if !parts.contains(&text) {
            parts.push(text);
        }
        cur = err.source();
    }
    if parts.is_empty() {
        e.to_string()
    } else {
        parts.join(": ")
    }
}
