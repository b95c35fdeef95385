//! `[notify]` and a passive target's `notify` table: when the `notify` destination tells
//! someone, and through which channels (`[notify.channels.<name>]`).
//!
//! The raw tables mirror the NixOS options one to one; [`settings`] checks them once (a channel
//! of an unknown type, a key that does not belong to its type, a malformed address, a
//! threshold out of range are errors naming the channel or target and the key) and the rest
//! of the agent only sees the checked [`NotifySettings`] and each target's [`NotifyPolicy`].

use crate::secrets::KeySource;
use anyhow::bail;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// The highest `failureThreshold` / `successThreshold`: beyond it a target would practically
/// never change (the module's type has the same bounds; tests/it/schema.rs holds both).
pub const MAX_THRESHOLD: u32 = 100;
/// The longest grouping window: a notice should never wait longer than this for company.
pub const MAX_WINDOW_SECONDS: u64 = 3600;
/// The longest pause between reminders (a year), so every sum of times stays far from overflow.
pub const MAX_REPEAT_MINUTES: u64 = 525_600;

/// `[notify]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawNotify {
    #[serde(default = "one")]
    success_threshold: u32,
    #[serde(default = "yes")]
    recovery: bool,
    #[serde(default)]
    repeat: u64,
    #[serde(default = "default_window")]
    window: u64,
    #[serde(default)]
    channels: BTreeMap<String, RawChannel>,
}

/// `[notify.channels.<name>]` as written: one table for every type, so that the module can
/// declare it as one submodule; [`channel`] says which keys each type takes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawChannel {
    r#type: ChannelType,
    #[serde(default)]
    to: Vec<String>,
    from: Option<String>,
    command: Option<PathBuf>,
    host: Option<String>,
    port: Option<u16>,
    tls: Option<Tls>,
    user: Option<String>,
    password_file: Option<PathBuf>,
    ca_file: Option<PathBuf>,
    url: Option<String>,
    url_file: Option<PathBuf>,
    topic: Option<String>,
    token_file: Option<PathBuf>,
    format: Option<WebhookFormat>,
}

/// A passive target's `notify` table as written; unset keys take `[notify]`'s values.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawTargetNotify {
    enable: Option<bool>,
    success_threshold: Option<u32>,
    recovery: Option<bool>,
    repeat: Option<u64>,
}

fn one() -> u32 {
    1
}
fn yes() -> bool {
    true
}
fn default_window() -> u64 {
    30
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum ChannelType {
    Sendmail,
    Smtp,
    Ntfy,
    Webhook,
}

impl ChannelType {
    fn name(self) -> &'static str {
        match self {
            ChannelType::Sendmail => "sendmail",
            ChannelType::Smtp => "smtp",
            ChannelType::Ntfy => "ntfy",
            ChannelType::Webhook => "webhook",
        }
    }
}

/// How an SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tls {
    /// Plain connection upgraded with STARTTLS, which must succeed (port 587).
    Starttls,
    /// TLS from the first byte (port 465), written `"tls"`.
    #[serde(rename = "tls")]
    Implicit,
    /// No TLS at all: only for a relay on the same machine (127.0.0.1:25).
    None,
}

/// What a webhook's body looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WebhookFormat {
    /// The documented JSON body (README, "Notifications").
    Json,
    /// Gotify's `POST /message`: `{title, message, priority}`, the token in `X-Gotify-Key`.
    Gotify,
    /// Slack's incoming webhooks (and Mattermost's, Discord's `/slack`): `{text}`.
    Slack,
    /// Discord's webhooks: `{content}`.
    Discord,
}

/// The checked `[notify]`.
#[derive(Debug, Clone)]
pub struct NotifySettings {
    /// How long further changes wait after a notice, to go out together.
    pub window: Duration,
    /// In name order; never empty when `notify` is a backend.
    pub channels: Vec<Channel>,
}

/// One way of telling someone.
#[derive(Debug, Clone)]
pub struct Channel {
    /// `[A-Za-z0-9_-]`, at most 64 characters: it names the channel's lane and state files.
    pub name: String,
    pub kind: ChannelKind,
}

/// A channel's own settings.
#[derive(Debug, Clone)]
pub enum ChannelKind {
    /// Mail through the local `sendmail` (msmtp's, postfix's).
    Sendmail {
        command: PathBuf,
        from: Option<String>,
        to: Vec<String>,
    },
    /// Mail over SMTP.
    Smtp {
        host: String,
        port: u16,
        tls: Tls,
        user: Option<String>,
        password: Option<KeySource>,
        ca_file: Option<PathBuf>,
        from: Option<String>,
        to: Vec<String>,
    },
    /// A push message to an ntfy topic.
    Ntfy {
        url: String,
        topic: String,
        token: Option<KeySource>,
    },
    /// A JSON POST.
    Webhook {
        url: KeySource,
        format: WebhookFormat,
        token: Option<KeySource>,
    },
}

impl Channel {
    /// `sendmail`, `smtp`, `ntfy` or `webhook`.
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            ChannelKind::Sendmail { .. } => "sendmail",
            ChannelKind::Smtp { .. } => "smtp",
            ChannelKind::Ntfy { .. } => "ntfy",
            ChannelKind::Webhook { .. } => "webhook",
        }
    }

    /// The secrets this channel reads (for `check` and for reading them before dropping root).
    pub fn secrets(&self) -> Vec<(&'static str, KeySource)> {
        let opt = |key: &'static str, s: &Option<KeySource>| s.clone().map(|s| (key, s));
        match &self.kind {
            ChannelKind::Sendmail { .. } => Vec::new(),
            ChannelKind::Smtp { password, .. } => {
                opt("passwordFile", password).into_iter().collect()
            }
            ChannelKind::Ntfy { token, .. } => opt("tokenFile", token).into_iter().collect(),
            ChannelKind::Webhook { url, token, .. } => {
                let url = matches!(url, KeySource::File { .. }).then(|| ("urlFile", url.clone()));
                url.into_iter().chain(opt("tokenFile", token)).collect()
            }
        }
    }
}

/// When one target's results make a notice, everything defaulted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotifyPolicy {
    /// Whether the target's changes are told at all (`notify.enable`).
    pub enabled: bool,
    /// OK results in a row before a recovery is told.
    pub success_threshold: u32,
    /// Whether recoveries are told.
    pub recovery: bool,
    /// Minutes between reminders while a problem lasts; 0: none.
    pub repeat_minutes: u64,
}

impl Default for NotifyPolicy {
    fn default() -> Self {
        NotifyPolicy {
            enabled: true,
            success_threshold: 1,
            recovery: true,
            repeat_minutes: 0,
        }
    }
}

/// The defaults `[notify]` gives every target (built-in ones without the table).
#[derive(Debug, Clone, Copy)]
pub(super) struct Defaults {
    success_threshold: u32,
    recovery: bool,
    repeat: u64,
}

impl Default for Defaults {
    fn default() -> Self {
        Defaults {
            success_threshold: 1,
            recovery: true,
            repeat: 0,
        }
    }
}

/// Checks `[notify]`: its defaults for the targets, and the channels. `file` is for messages.
pub(super) fn settings(
    file: &str,
    raw: RawNotify,
    warnings: &mut Vec<String>,
) -> anyhow::Result<(NotifySettings, Defaults)> {
    threshold(file, "notify.successThreshold", raw.success_threshold)?;
    if raw.repeat > MAX_REPEAT_MINUTES {
        bail!(
            "{file}: notify.repeat is {} minutes; at most {MAX_REPEAT_MINUTES} (a year), or 0 for no reminders",
            raw.repeat
        );
    }
    if raw.window > MAX_WINDOW_SECONDS {
        bail!(
            "{file}: notify.window is {} seconds; at most {MAX_WINDOW_SECONDS} (an hour)",
            raw.window
        );
    }
    let channels = raw
        .channels
        .into_iter()
        .map(|(name, c)| channel(file, name, c, warnings))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let defaults = Defaults {
        success_threshold: raw.success_threshold,
        recovery: raw.recovery,
        repeat: raw.repeat,
    };
    Ok((
        NotifySettings {
            window: Duration::from_secs(raw.window),
            channels,
        },
        defaults,
    ))
}

/// A target's policy: its own `notify` table over the defaults.
pub(super) fn policy(
    whose: &str,
    raw: &RawTargetNotify,
    defaults: Defaults,
) -> anyhow::Result<NotifyPolicy> {
    let success_threshold = raw.success_threshold.unwrap_or(defaults.success_threshold);
    threshold(whose, "notify.successThreshold", success_threshold)?;
    let repeat_minutes = raw.repeat.unwrap_or(defaults.repeat);
    if repeat_minutes > MAX_REPEAT_MINUTES {
        bail!("{whose}: notify.repeat is {repeat_minutes} minutes; at most {MAX_REPEAT_MINUTES} (a year), or 0 for no reminders");
    }
    Ok(NotifyPolicy {
        enabled: raw.enable.unwrap_or(true),
        success_threshold,
        recovery: raw.recovery.unwrap_or(defaults.recovery),
        repeat_minutes,
    })
}

pub(super) fn threshold(whose: &str, key: &str, n: u32) -> anyhow::Result<()> {
    if n == 0 || n > MAX_THRESHOLD {
        bail!("{whose}: {key} is {n}; it counts results in a row: 1 to {MAX_THRESHOLD}");
    }
    Ok(())
}

/// Checks one channel table: the keys its type needs are there and mail addresses parse. Keys
/// of other types are ignored with a warning (the module's one channel submodule has them
/// all, as null or empty).
fn channel(
    file: &str,
    name: String,
    c: RawChannel,
    warnings: &mut Vec<String>,
) -> anyhow::Result<Channel> {
    let place = format!("{file}: notify.channels.{name}");
    if name.is_empty()
        || name.len() > 64
        || !name
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '-')
    {
        bail!("{place}: a channel's name may only hold A-Z a-z 0-9 _ - (at most 64): it names its queue and state files");
    }
    let ty = c.r#type;
    let given: [(&str, bool); 14] = [
        ("to", !c.to.is_empty()),
        ("from", c.from.is_some()),
        ("command", c.command.is_some()),
        ("host", c.host.is_some()),
        ("port", c.port.is_some()),
        ("tls", c.tls.is_some()),
        ("user", c.user.is_some()),
        ("passwordFile", c.password_file.is_some()),
        ("caFile", c.ca_file.is_some()),
        ("url", c.url.is_some()),
        ("urlFile", c.url_file.is_some()),
        ("topic", c.topic.is_some()),
        ("tokenFile", c.token_file.is_some()),
        ("format", c.format.is_some()),
    ];
    let allowed: &[&str] = match ty {
        ChannelType::Sendmail => &["to", "from", "command"],
        ChannelType::Smtp => &[
            "to",
            "from",
            "host",
            "port",
            "tls",
            "user",
            "passwordFile",
            "caFile",
        ],
        ChannelType::Ntfy => &["url", "topic", "tokenFile"],
        ChannelType::Webhook => &["url", "urlFile", "format", "tokenFile"],
    };
    let stray: Vec<&str> = given
        .iter()
        .filter(|(key, set)| *set && !allowed.contains(key))
        .map(|(key, _)| *key)
        .collect();
    if !stray.is_empty() {
        warnings.push(format!(
            "{place}: {} does not apply to a channel of type {:?} and is ignored (its keys: {})",
            stray.join(", "),
            ty.name(),
            allowed.join(", ")
        ));
    }
    let credential = |what: &str| format!("notify-{name}-{what}");
    let secret = |path: Option<PathBuf>, what: &str| {
        path.map(|path| KeySource::File {
            path,
            credential: credential(what),
        })
    };
    let kind = match ty {
        ChannelType::Sendmail | ChannelType::Smtp => {
            if c.to.is_empty() {
                bail!("{place}: `to` is empty; give at least one address to mail");
            }
            for address in c.to.iter().chain(&c.from) {
                if let Err(e) = address.parse::<lettre::message::Mailbox>() {
                    bail!("{place}: {address:?} is not a mail address ({e})");
                }
            }
            if ty == ChannelType::Sendmail {
                ChannelKind::Sendmail {
                    command: c.command.unwrap_or_else(|| PathBuf::from("sendmail")),
                    from: c.from,
                    to: c.to,
                }
            } else {
                let Some(host) = c.host.filter(|h| !h.is_empty()) else {
                    bail!("{place}: `host` is required: the SMTP server to send through");
                };
                let tls = c.tls.unwrap_or(Tls::Starttls);
                if c.password_file.is_some() && c.user.is_none() {
                    bail!("{place}: passwordFile is set but user is not: give both, or neither");
                }
                ChannelKind::Smtp {
                    port: c.port.unwrap_or(match tls {
                        Tls::Starttls => 587,
                        Tls::Implicit => 465,
                        Tls::None => 25,
                    }),
                    host,
                    tls,
                    user: c.user,
                    password: secret(c.password_file, "password"),
                    ca_file: c.ca_file,
                    from: c.from,
                    to: c.to,
                }
            }
        }
        ChannelType::Ntfy => {
            let Some(topic) = c.topic.filter(|t| !t.is_empty()) else {
                bail!("{place}: `topic` is required: the ntfy topic to publish to");
            };
            if topic.contains(['/', '?', '#']) || topic.chars().any(char::is_whitespace) {
                bail!("{place}: topic {topic:?} may not hold /, ?, # or white space");
            }
            let url = c.url.unwrap_or_else(|| "https://ntfy.sh".into());
            if let Some(why) = super::url_problem(&url, "tokenFile") {
                bail!("{place}: url {url:?}: {why}");
            }
            ChannelKind::Ntfy {
                url: url.trim_end_matches('/').to_string(),
                topic,
                token: secret(c.token_file, "token"),
            }
        }
        ChannelType::Webhook => {
            if c.url.is_some() && c.url_file.is_some() {
                warnings.push(format!(
                    "{place}: both url and urlFile are set: urlFile is used"
                ));
            }
            let url = match (c.url, c.url_file) {
                (None, None) => bail!(
                    "{place}: `url` or `urlFile` is required (urlFile when the URL holds a token, as Slack's and Discord's do)"
                ),
                (Some(url), None) => {
                    if let Some(why) = webhook_url_problem(&url) {
                        bail!("{place}: url: {why}");
                    }
                    KeySource::Literal(url)
                }
                (_, Some(path)) => KeySource::File {
                    path,
                    credential: credential("url"),
                },
            };
            ChannelKind::Webhook {
                url,
                format: c.format.unwrap_or(WebhookFormat::Json),
                token: secret(c.token_file, "token"),
            }
        }
    };
    Ok(Channel { name, kind })
}

/// Why a webhook URL (from the file or from `urlFile`) cannot be posted to; never repeats it,
/// since it may hold a token.
pub fn webhook_url_problem(url: &str) -> Option<String> {
    let parsed = match reqwest::Url::parse(url) {
        Ok(u) => u,
        Err(e) => return Some(format!("not a URL ({e})")),
    };
    if !matches!(parsed.scheme(), "http" | "https") {
        return Some(format!(
            "the scheme must be https or http, not {:?}",
            parsed.scheme()
        ));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Some("it has no host".into());
    }
    None
}

#[cfg(test)]
mod tests {
    use crate::config::Config;
    use std::path::Path;

    fn parse(text: &str) -> anyhow::Result<Config> {
        Config::parse(Path::new("/etc/test.toml"), text)
    }

    fn err(text: &str) -> String {
        format!("{:#}", parse(text).unwrap_err())
    }

    const PASSIVE: &str = "[[targets.passive]]\nhost = \"h\"\nname = \"n\"\n";

    #[test]
    fn channels_of_every_type_are_read_with_their_defaults() {
        let cfg = parse(concat!(
            "backends = [\"local\", \"notify\"]\n",
            "[notify.channels.mail]\ntype = \"sendmail\"\nto = [\"root@example.org\"]\n",
            "[notify.channels.relay]\ntype = \"smtp\"\nhost = \"127.0.0.1\"\ntls = \"none\"\nto = [\"a@b.c\"]\n",
            "[notify.channels.phone]\ntype = \"ntfy\"\ntopic = \"alerts\"\n",
            "[notify.channels.hook]\ntype = \"webhook\"\nurl = \"https://example.org/hook\"\nformat = \"gotify\"\n",
        ))
        .unwrap();
        let n = cfg.notify.unwrap();
        let names: Vec<(&str, &str)> = n
            .channels
            .iter()
            .map(|c| (c.name.as_str(), c.type_name()))
            .collect();
        assert_eq!(
            names,
            [
                ("hook", "webhook"),
                ("mail", "sendmail"),
                ("phone", "ntfy"),
                ("relay", "smtp")
            ]
        );
        assert_eq!(n.window.as_secs(), 30);
        match &n.channels[3].kind {
            super::ChannelKind::Smtp { port, .. } => assert_eq!(*port, 25),
            other => panic!("{other:?}"),
        }
        match &n.channels[1].kind {
            super::ChannelKind::Sendmail { command, .. } => {
                assert_eq!(command, Path::new("sendmail"))
            }
            other => panic!("{other:?}"),
        }
        match &n.channels[2].kind {
            super::ChannelKind::Ntfy { url, .. } => assert_eq!(url, "https://ntfy.sh"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn smtp_ports_follow_the_tls_mode() {
        for (tls, port) in [("starttls", 587), ("tls", 465), ("none", 25)] {
            let cfg = parse(&format!(
                "backends = [\"notify\"]\n[notify.channels.m]\ntype = \"smtp\"\nhost = \"h\"\ntls = \"{tls}\"\nto = [\"a@b.c\"]\n"
            ))
            .unwrap();
            match &cfg.notify.unwrap().channels[0].kind {
                super::ChannelKind::Smtp { port: p, .. } => assert_eq!(*p, port, "{tls}"),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn bad_channels_are_errors_naming_the_channel_and_key() {
        let cases = [
            (
                "[notify.channels.x]\ntype = \"pigeon\"\n",
                "unknown variant `pigeon`, expected one of `sendmail`, `smtp`, `ntfy`, `webhook`",
            ),
            (
                "[notify.channels.m]\ntype = \"sendmail\"\nto = [\"not an address\"]\n",
                "notify.channels.m: \"not an address\" is not a mail address",
            ),
            (
                "[notify.channels.m]\ntype = \"sendmail\"\nto = []\n",
                "notify.channels.m: `to` is empty",
            ),
            (
                "[notify.channels.m]\ntype = \"smtp\"\nto = [\"a@b.c\"]\n",
                "notify.channels.m: `host` is required",
            ),
            (
                "[notify.channels.m]\ntype = \"smtp\"\nhost = \"h\"\nto = [\"a@b.c\"]\npasswordFile = \"/p\"\n",
                "passwordFile is set but user is not",
            ),
            (
                "[notify.channels.p]\ntype = \"ntfy\"\n",
                "notify.channels.p: `topic` is required",
            ),
            (
                "[notify.channels.p]\ntype = \"ntfy\"\ntopic = \"a/b\"\n",
                "topic \"a/b\" may not hold",
            ),
            (
                "[notify.channels.p]\ntype = \"ntfy\"\ntopic = \"t\"\nurl = \"ftp://x\"\n",
                "notify.channels.p: url \"ftp://x\": the scheme must be https or http",
            ),
            (
                "[notify.channels.w]\ntype = \"webhook\"\n",
                "notify.channels.w: `url` or `urlFile` is required",
            ),
            (
                "[notify.channels.\"a b\"]\ntype = \"ntfy\"\ntopic = \"t\"\n",
                "a channel's name may only hold",
            ),
            ("[notify]\nwindow = 3601\n", "notify.window is 3601 seconds"),
            ("[notify]\nrepeat = 525601\n", "notify.repeat is 525601 minutes"),
            (
                "[notify]\nsuccessThreshold = 0\n",
                "notify.successThreshold is 0; it counts results in a row: 1 to 100",
            ),
        ];
        for (text, want) in cases {
            let e = err(&format!("backends = [\"local\", \"notify\"]\n{text}"));
            assert!(e.contains(want), "{text}\n  wanted: {want}\n  got: {e}");
            assert!(e.contains("/etc/test.toml"), "{e}");
        }
    }

    #[test]
    fn keys_of_other_types_are_ignored_with_a_warning_and_a_url_file_wins() {
        let cfg = parse(concat!(
            "[[targets.passive]]\nhost = \"h\"\nname = \"n\"\n",
            "[notify.channels.m]\ntype = \"sendmail\"\nto = [\"a@b.c\"]\ntopic = \"t\"\nport = 25\n",
            "[notify.channels.w]\ntype = \"webhook\"\nurl = \"https://x/\"\nurlFile = \"/f\"\n",
        ))
        .unwrap();
        assert_eq!(
            cfg.warnings,
            [
                "/etc/test.toml: notify.channels.m: port, topic does not apply to a channel of \
                 type \"sendmail\" and is ignored (its keys: to, from, command)",
                "/etc/test.toml: notify.channels.w: both url and urlFile are set: urlFile is used",
            ]
        );
        match &cfg.notify.unwrap().channels[1].kind {
            super::ChannelKind::Webhook { url, .. } => {
                assert!(matches!(url, crate::secrets::KeySource::File { .. }))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn notify_without_channels_is_an_error() {
        let e = err("backends = [\"local\", \"notify\"]\n");
        assert!(
            e.contains("backend \"notify\" needs at least one channel"),
            "{e}"
        );
        let e = err("backends = [\"local\", \"notify\"]\n[notify]\nwindow = 5\n");
        assert!(e.contains("needs at least one channel"), "{e}");
    }

    #[test]
    fn a_target_takes_the_defaults_and_overrides_them() {
        let cfg = parse(&format!(
            "failureThreshold = 2\n[notify]\nsuccessThreshold = 3\nrepeat = 60\nrecovery = false\n{PASSIVE}\
             [[targets.passive]]\nhost = \"h\"\nname = \"own\"\nfailureThreshold = 5\n\
             notify = {{ successThreshold = 1, recovery = true, repeat = 0, enable = false }}\n"
        ))
        .unwrap();
        let p = |i: usize| cfg.targets[i].passive().unwrap().notify;
        let threshold = |i: usize| cfg.targets[i].failure_threshold;
        assert_eq!((threshold(0), threshold(1)), (2, 5));
        assert_eq!(
            p(0),
            super::NotifyPolicy {
                enabled: true,
                success_threshold: 3,
                recovery: false,
                repeat_minutes: 60,
            }
        );
        assert_eq!(
            p(1),
            super::NotifyPolicy {
                enabled: false,
                success_threshold: 1,
                recovery: true,
                repeat_minutes: 0,
            }
        );
        // Without [notify] the built-in defaults hold.
        let plain = parse(PASSIVE).unwrap();
        assert_eq!(
            plain.targets[0].passive().unwrap().notify,
            super::NotifyPolicy::default()
        );
    }

    #[test]
    fn thresholds_out_of_range_name_the_target() {
        for (text, want) in [
            (
                "failureThreshold = 0\n",
                "target h-n: failureThreshold is 0; it counts results in a row: 1 to 100",
            ),
            ("failureThreshold = 101\n", "failureThreshold is 101"),
            (
                "notify = { successThreshold = 200 }\n",
                "target h-n: notify.successThreshold is 200",
            ),
            (
                "notify = { repeat = 9999999 }\n",
                "notify.repeat is 9999999 minutes",
            ),
        ] {
            let e = err(&format!("{PASSIVE}{text}"));
            assert!(e.contains(want), "{text}: {e}");
        }
        let e = err(&format!("failureThreshold = 0\n{PASSIVE}"));
        assert!(
            e.contains("/etc/test.toml: the top level: failureThreshold is 0"),
            "{e}"
        );
    }
}
