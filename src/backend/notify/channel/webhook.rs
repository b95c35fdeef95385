//! A JSON POST: the documented body (README "Notifications": `version`, `machine`, `subject`,
//! `text`, `condition`, `events`, …), or a preset for Gotify (`{title, message, priority}`,
//! the token in `X-Gotify-Key`), Slack-compatible (`{text}`) or Discord (`{content}`). The URL
//! may come from a file (`urlFile`): Slack's and Discord's URLs are secrets.

use super::super::decide::{Condition, Event};
use super::super::notice::{when_full, Notice};
use crate::config::{webhook_url_problem, WebhookFormat};
use crate::http;
use crate::result::State;
use crate::retry::DeliveryError;
use crate::secrets::KeySource;
use serde_json::{json, Value};
use std::time::Duration;

/// Discord refuses longer content.
const DISCORD_MAX: usize = 2000;
/// Slack cuts messages past this.
const SLACK_MAX: usize = 3500;

pub struct Webhook {
    client: reqwest::Client,
    url: KeySource,
    format: WebhookFormat,
    token: Option<KeySource>,
}

impl Webhook {
    pub fn new(
        url: KeySource,
        format: WebhookFormat,
        token: Option<KeySource>,
        timeout: Duration,
    ) -> anyhow::Result<Webhook> {
        // The client only needs to know whether roots are wanted; a literal plain-http URL
        // (a test, a relay on this machine) skips loading them.
        let base = match &url {
            KeySource::Literal(u) => u.as_str(),
            KeySource::File { .. } => "https://",
        };
        let client = http::client(&http::ClientOptions {
            base_url: base,
            timeout,
            ..Default::default()
        })?;
        Ok(Webhook {
            client,
            url,
            format,
            token,
        })
    }

    pub async fn send(&self, notice: &Notice) -> Result<(), DeliveryError> {
        let transient = |e: anyhow::Error| DeliveryError::Transient(e);
        let url = self.url.read().map_err(|e| {
            transient(anyhow::anyhow!(
                "webhook: the URL in {} cannot be read: {e}",
                self.url.describe()
            ))
        })?;
        if let Some(why) = webhook_url_problem(&url) {
            return Err(transient(anyhow::anyhow!(
                "webhook: the URL in {}: {why}",
                self.url.describe()
            )));
        }
        let token = match &self.token {
            Some(t) => Some(t.read().map_err(|e| {
                transient(anyhow::anyhow!(
                    "webhook: the token in {} cannot be read: {e}",
                    t.describe()
                ))
            })?),
            None => None,
        };
        let mut request = self
            .client
            .post(&url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body(notice, self.format).to_string());
        request = match (token, self.format) {
            (Some(t), WebhookFormat::Gotify) => request.header("X-Gotify-Key", t),
            (Some(t), _) => request.bearer_auth(t),
            (None, _) => request,
        };
        // The URL is not named in errors: it may hold a token.
        http::send(request, "webhook")
            .await
            .map(drop)
            .map_err(|e| match e {
                DeliveryError::Transient(e) => DeliveryError::Transient(redact(e, &url)),
                DeliveryError::Rejected(e) => DeliveryError::Rejected(redact(e, &url)),
            })
    }
}

/// The error without the URL (Slack's and Discord's hold the token).
fn redact(e: anyhow::Error, url: &str) -> anyhow::Error {
    anyhow::anyhow!("{}", format!("{e:#}").replace(url, "<the webhook URL>"))
}

/// The body in `format`.
pub fn body(notice: &Notice, format: WebhookFormat) -> Value {
    match format {
        WebhookFormat::Json => json!({
            "version": 1,
            "machine": notice.machine,
            "test": notice.test,
            "subject": notice.subject,
            "text": notice.text,
            "condition": notice.condition.label(),
            "message_id": notice.message_id,
            "events": notice.events.iter().map(event).collect::<Vec<_>>(),
        }),
        WebhookFormat::Gotify => json!({
            "title": notice.subject,
            "message": notice.text,
            "priority": gotify_priority(notice.condition),
        }),
        WebhookFormat::Slack => {
            json!({ "text": cut(&format!("*{}*\n{}", notice.subject, notice.text), SLACK_MAX) })
        }
        WebhookFormat::Discord => {
            json!({ "content": cut(&format!("**{}**\n{}", notice.subject, notice.text), DISCORD_MAX) })
        }
    }
}

fn event(e: &Event) -> Value {
    json!({
        "target": e.target,
        "host": e.host,
        "name": e.name,
        "kind": e.kind,
        "condition": e.condition.label(),
        "previous": e.previous.label(),
        "at": when_full(e.at_ms),
        "since": when_full(e.since_ms),
        "in_a_row": e.in_a_row,
        "changes": e.changes,
        "output": e.result.as_ref().map(|r| &r.output),
        "perfdata": e.result.as_ref().map(|r| &r.perfdata),
        "duration_ms": e.result.as_ref().and_then(|r| r.duration_ms),
        "measured_at": e.result.as_ref().map(|r| when_full(r.measured_at_ms)),
    })
}

/// Gotify's priorities: 8 and above sound an alarm on phones.
fn gotify_priority(c: Condition) -> u8 {
    match c {
        Condition::Problem(State::Critical) => 8,
        Condition::Ok => 2,
        _ => 5,
    }
}

/// At most `max` characters.
fn cut(text: &str, max: usize) -> String {
    match text.chars().count() > max {
        true => text.chars().take(max - 8).collect::<String>() + "\n… (cut)",
        false => text.to_string(),
    }
}
