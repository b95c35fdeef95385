//! The ways a notice leaves the machine, one file each, behind one small interface:
//! [`Sender::send`] takes a [`Notice`] and says delivered, try again later
//! ([`DeliveryError::Transient`]: the notice waits in its lane) or refused for good
//! ([`DeliveryError::Rejected`]: kept in `rejected/`).

mod mail;
mod ntfy;
mod sendmail;
mod smtp;
mod webhook;

use super::notice::Notice;
use crate::config::{Channel, ChannelKind};
use crate::retry::DeliveryError;
use std::time::Duration;

/// One configured channel, ready to send.
pub enum Sender {
    Sendmail(sendmail::Sendmail),
    /// Boxed: lettre's transport builder is large.
    Smtp(Box<smtp::Smtp>),
    Ntfy(ntfy::Ntfy),
    Webhook(webhook::Webhook),
}

impl Sender {
    /// Sets up `channel` (no connection yet). `timeout` bounds one attempt; `machine` is the
    /// default sender's domain.
    pub fn new(channel: &Channel, timeout: Duration, machine: &str) -> anyhow::Result<Sender> {
        Ok(match &channel.kind {
            ChannelKind::Sendmail { command, from, to } => Sender::Sendmail(
                sendmail::Sendmail::new(command, mail::envelope(from, to, machine)?, timeout),
            ),
            ChannelKind::Smtp {
                host,
                port,
                tls,
                user,
                password,
                ca_file,
                from,
                to,
            } => Sender::Smtp(Box::new(smtp::Smtp::new(
                smtp::Server {
                    host,
                    port: *port,
                    tls: *tls,
                    user: user.as_deref(),
                    password: password.clone(),
                    ca_file: ca_file.as_deref(),
                },
                mail::envelope(from, to, machine)?,
                timeout,
            )?)),
            ChannelKind::Ntfy { url, topic, token } => {
                Sender::Ntfy(ntfy::Ntfy::new(url, topic, token.clone(), timeout)?)
            }
            ChannelKind::Webhook { url, format, token } => Sender::Webhook(webhook::Webhook::new(
                url.clone(),
                *format,
                token.clone(),
                timeout,
            )?),
        })
    }

    /// Sends one notice.
    pub async fn send(&self, notice: &Notice) -> Result<(), DeliveryError> {
        match self {
            Sender::Sendmail(s) => s.send(notice).await,
            Sender::Smtp(s) => s.send(notice).await,
            Sender::Ntfy(s) => s.send(notice).await,
            Sender::Webhook(s) => s.send(notice).await,
        }
    }
}
