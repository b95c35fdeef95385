//! Mail over SMTP (lettre): STARTTLS (required, not hoped for), TLS from the first byte, or
//! a plain connection for a relay on the same machine; the password from a file or systemd
//! credential. 5xx answers are refusals for good; 4xx, timeouts and connection errors mean
//! the notice waits in its lane.

use super::super::notice::Notice;
use super::mail::{message, Envelope};
use crate::config::Tls;
use crate::retry::DeliveryError;
use crate::secrets::KeySource;
use anyhow::Context;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls as Mode, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use std::path::Path;
use std::time::Duration;

/// Where and how to connect.
pub struct Server<'a> {
    pub host: &'a str,
    pub port: u16,
    pub tls: Tls,
    pub user: Option<&'a str>,
    pub password: Option<KeySource>,
    pub ca_file: Option<&'a Path>,
}

pub struct Smtp {
    /// Built without credentials; they are read per send (a file may change, or be
    /// unreadable only for now).
    transport: lettre::transport::smtp::AsyncSmtpTransportBuilder,
    user: Option<String>,
    password: Option<KeySource>,
    place: String,
    envelope: Envelope,
    timeout: Duration,
}

impl Smtp {
    pub fn new(server: Server<'_>, envelope: Envelope, timeout: Duration) -> anyhow::Result<Smtp> {
        let mut params = TlsParameters::builder(server.host.to_string());
        if let Some(ca) = server.ca_file {
            let pem = std::fs::read(ca)
                .with_context(|| format!("could not read CA certificate {}", ca.display()))?;
            let cert = Certificate::from_pem(&pem)
                .with_context(|| format!("{} is not a PEM certificate", ca.display()))?;
            params = params.add_root_certificate(cert);
        }
        let params = || {
            params
                .clone()
                .build_rustls()
                .context("could not set up TLS for SMTP")
        };
        let mode = match server.tls {
            Tls::Starttls => Mode::Required(params()?),
            Tls::Implicit => Mode::Wrapper(params()?),
            Tls::None => Mode::None,
        };
        let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(server.host)
            .port(server.port)
            .tls(mode)
            .timeout(Some(timeout));
        let scheme = match server.tls {
            Tls::Starttls => "smtp+starttls",
            Tls::Implicit => "smtps",
            Tls::None => "smtp",
        };
        Ok(Smtp {
            transport,
            user: server.user.map(str::to_string),
            password: server.password,
            place: format!("{scheme}://{}:{}", server.host, server.port),
            envelope,
            timeout,
        })
    }

    pub async fn send(&self, notice: &Notice) -> Result<(), DeliveryError> {
        let what = format!("SMTP {}", self.place);
        let mail = message(notice, &self.envelope).map_err(DeliveryError::Rejected)?;
        let mut transport = self.transport.clone();
        if let Some(user) = &self.user {
            let password = match &self.password {
                Some(source) => source.read().map_err(|e| {
                    DeliveryError::Transient(anyhow::anyhow!(
                        "{what}: the password in {} cannot be read: {e}",
                        source.describe()
                    ))
                })?,
                None => String::new(),
            };
            transport = transport.credentials(Credentials::new(user.clone(), password));
        }
        let transport = transport.build::<Tokio1Executor>();
        // lettre's timeout covers each read and write; this one the whole conversation.
        let sent = tokio::time::timeout(self.timeout * 2, transport.send(mail)).await;
        match sent {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) if e.is_permanent() => Err(DeliveryError::Rejected(anyhow::anyhow!(
                "{what}: refused: {}",
                chain(&e)
            ))),
            Ok(Err(e)) => Err(DeliveryError::Transient(anyhow::anyhow!(
                "{what}: {}",
                chain(&e)
            ))),
            Err(_) => Err(DeliveryError::Transient(anyhow::anyhow!(
                "{what}: no answer within {} s",
                (self.timeout * 2).as_secs()
            ))),
        }
    }
}

/// lettre's error with its causes ("Connection refused", "permanent error (550): …").
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(err) = cur {
        let text = err.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        cur = err.source();
    }
    parts.join(": ")
}
