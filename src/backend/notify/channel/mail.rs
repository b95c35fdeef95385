//! A notice as a mail (RFC 5322, built by lettre): UTF-8 subject and body, `Date`,
//! `Message-ID`, `Auto-Submitted: auto-generated` (RFC 3834, so autoresponders stay quiet),
//! and `In-Reply-To`/`References` on a recovery, so it threads under its problem's mail.

use super::super::notice::Notice;
use anyhow::Context;
use lettre::message::header::{ContentType, Header, HeaderName, HeaderValue};
use lettre::message::Mailbox;

/// Who a mail is from and to.
#[derive(Debug, Clone)]
pub struct Envelope {
    pub from: Mailbox,
    pub to: Vec<Mailbox>,
}

/// The envelope of a mail channel; the sender defaults to `nixcloud-monitoring@<machine>`.
pub fn envelope(from: &Option<String>, to: &[String], machine: &str) -> anyhow::Result<Envelope> {
    let from = match from {
        Some(f) => f
            .parse()
            .with_context(|| format!("{f:?} is not a mail address"))?,
        None => default_from(machine),
    };
    let to = to
        .iter()
        .map(|t| {
            t.parse()
                .with_context(|| format!("{t:?} is not a mail address"))
        })
        .collect::<anyhow::Result<_>>()?;
    Ok(Envelope { from, to })
}

fn default_from(machine: &str) -> Mailbox {
    format!("nixcloud-monitoring <nixcloud-monitoring@{machine}>")
        .parse()
        .unwrap_or_else(|_| {
            "nixcloud-monitoring <nixcloud-monitoring@localhost>"
                .parse()
                .expect("a valid address")
        })
}

/// `Auto-Submitted: auto-generated`.
#[derive(Debug, Clone)]
struct AutoSubmitted;

impl Header for AutoSubmitted {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Auto-Submitted")
    }

    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(AutoSubmitted)
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "auto-generated".to_string())
    }
}

/// The mail for `notice`.
pub fn message(notice: &Notice, envelope: &Envelope) -> anyhow::Result<lettre::Message> {
    let mut builder = lettre::Message::builder()
        .from(envelope.from.clone())
        .subject(notice.subject.clone())
        .message_id(Some(notice.message_id.clone()))
        .header(AutoSubmitted)
        .user_agent(concat!("nixcloud-monitoring/", env!("CARGO_PKG_VERSION")).to_string());
    for to in &envelope.to {
        builder = builder.to(to.clone());
    }
    if let Some(first) = notice.replies_to.first() {
        builder = builder
            .in_reply_to(first.clone())
            .references(notice.replies_to.join(" "));
    }
    builder
        .header(ContentType::TEXT_PLAIN)
        .body(notice.text.clone())
        .context("could not build the mail")
}
