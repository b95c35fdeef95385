//! A push message to an ntfy topic: `POST <url>/<topic>` with the notice as the body, its
//! subject as `Title` (RFC 2047 when it is not ASCII, which ntfy decodes), `Priority` by
//! state and a tag; the token, if any, as `Authorization: Bearer`. ntfy's answers: 200 with
//! the message as JSON, 4xx for a bad token or topic (refused), 429 when rate-limited (later).

use super::super::decide::Condition;
use super::super::notice::Notice;
use crate::http;
use crate::result::State;
use crate::retry::DeliveryError;
use crate::secrets::KeySource;
use std::time::Duration;

/// ntfy turns longer messages into attachments; notices stay messages.
const MAX_BODY: usize = 4000;

pub struct Ntfy {
    client: reqwest::Client,
    url: String,
    token: Option<KeySource>,
}

impl Ntfy {
    pub fn new(
        server: &str,
        topic: &str,
        token: Option<KeySource>,
        timeout: Duration,
    ) -> anyhow::Result<Ntfy> {
        let client = http::client(&http::ClientOptions {
            base_url: server,
            timeout,
            ..Default::default()
        })?;
        Ok(Ntfy {
            client,
            url: format!("{server}/{topic}"),
            token,
        })
    }

    pub async fn send(&self, notice: &Notice) -> Result<(), DeliveryError> {
        let (priority, tag) = priority(notice);
        let mut request = self
            .client
            .post(&self.url)
            .header("Title", header_text(&notice.subject))
            .header("Priority", priority.to_string())
            .header("Tags", tag)
            .body(cut(&notice.text, MAX_BODY));
        if let Some(token) = &self.token {
            let token = token.read().map_err(|e| {
                DeliveryError::Transient(anyhow::anyhow!(
                    "ntfy {}: the token in {} cannot be read: {e}",
                    self.url,
                    token.describe()
                ))
            })?;
            request = request.bearer_auth(token);
        }
        http::send(request, "ntfy").await.map(drop)
    }
}

/// ntfy's priority (1 min … 5 max) and tag (an emoji name) for the notice's worst state.
fn priority(notice: &Notice) -> (u8, &'static str) {
    match notice.condition {
        _ if notice.test => (3, "test_tube"),
        Condition::Ok => (3, "white_check_mark"),
        Condition::Problem(State::Critical) => (5, "rotating_light"),
        Condition::NoResult => (4, "hourglass"),
        Condition::Problem(_) => (4, "warning"),
    }
}

/// A header value: ASCII as it is, anything else as an RFC 2047 encoded word.
fn header_text(text: &str) -> String {
    match text.is_ascii() {
        true => text.to_string(),
        false => format!("=?UTF-8?B?{}?=", base64(text.as_bytes())),
    }
}

/// At most `max` bytes of `text`, cut at a character boundary, saying so.
fn cut(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max - 20;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}\n… (cut)", &text[..end])
}

fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.len();
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let v = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            match i <= n {
                true => out.push(ABC[(v >> (18 - 6 * i) & 63) as usize] as char),
                false => out.push('='),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_that_are_not_ascii_are_encoded_words() {
        assert_eq!(header_text("[h] OK x"), "[h] OK x");
        assert_eq!(header_text("快乐"), "=?UTF-8?B?5b+r5LmQ?=");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b""), "");
    }

    #[test]
    fn long_bodies_are_cut_at_a_character() {
        let text = "é".repeat(3000);
        let out = cut(&text, MAX_BODY);
        assert!(
            out.len() <= MAX_BODY && out.ends_with("… (cut)"),
            "{}",
            out.len()
        );
        assert_eq!(cut("short", MAX_BODY), "short");
    }
}
