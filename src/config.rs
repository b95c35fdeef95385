//! The config file: parsed once, checked once, turned into a [`Config`] with [`Target`]s.
//!
//! Key names are the NixOS option names, so the module writes its evaluated options out as
//! they are and a hand-written file reads like the original's documentation. Every error names
//! the file and line, and the target where there is one.

use crate::checks::ActiveCheck;
use crate::secrets::KeySource;
use crate::targets::{self, Passive, Target, TargetKind};
use anyhow::{bail, Context};
use raw::{RawConfig, RawTargets};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

mod backends;
mod notify;
pub use backends::{BackendKind, HealthchecksSettings, Icinga2Settings, PrometheusSettings};
pub use notify::{
    webhook_url_problem, Channel, ChannelKind, NotifyPolicy, NotifySettings, Tls, WebhookFormat,
};
pub use page::{PageSettings, ShowOutput};

/// Where the config lives when neither `--config` nor the environment says otherwise.
pub const DEFAULT_PATH: &str = "/etc/nixcloud-monitoring/config.toml";
/// The environment variable that overrides [`DEFAULT_PATH`].
pub const PATH_ENV: &str = "NIXCLOUD_MONITORING_CONFIG";

/// Bounds of the on-disk queue of undelivered results (read as `raw::RawQueue`, checked by
/// `limits::queue`).
#[derive(Debug, Clone)]
pub struct QueueSettings {
    pub max_count: usize,
    pub max_bytes: u64,
}

impl Default for QueueSettings {
    fn default() -> Self {
        QueueSettings {
            max_count: 10_000,
            max_bytes: 64 * 1024 * 1024,
        }
    }
}

/// How hard one command tries to reach the server before leaving results queued (read as
/// `raw::RawDelivery`, checked by `limits::delivery`).
#[derive(Debug, Clone)]
pub struct DeliverySettings {
    /// Attempts per request on 5xx, timeouts and connection errors.
    pub attempts: u32,
    /// Seconds one request may take.
    pub timeout: u64,
    /// Requests in flight at once during `register`.
    pub concurrency: usize,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        DeliverySettings {
            attempts: 3,
            timeout: 30,
            concurrency: 16,
        }
    }
}

impl Config {
    /// The server `kind` talks to, for messages; none for `local` and `prometheus`.
    pub fn server_url(&self, kind: BackendKind) -> Option<&str> {
        match kind {
            BackendKind::Nixcloud => Some(&self.api_host),
            BackendKind::Icinga2 => self.icinga2.as_ref().map(|i| i.url.as_str()),
            BackendKind::Healthchecks => self.healthchecks.as_ref().map(|h| h.url.as_str()),
            BackendKind::Local
            | BackendKind::Prometheus
            | BackendKind::Notify
            | BackendKind::Page => None,
        }
    }
}

/// The checked configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from.
    pub path: PathBuf,
    /// Where every result goes, in the order written (`backend` or `backends`); never empty
    /// and without repeats.
    pub backends: Vec<BackendKind>,
    pub api_host: String,
    /// The top-level key, if any.
    pub key: Option<KeySource>,
    pub state_dir: PathBuf,
    pub queue: QueueSettings,
    pub delivery: DeliverySettings,
    pub icinga2: Option<Icinga2Settings>,
    pub prometheus: PrometheusSettings,
    pub healthchecks: Option<HealthchecksSettings>,
    /// `[notify]`, when the table is there.
    pub notify: Option<NotifySettings>,
    /// `[page]`: the status page's directory and whose outputs it shows.
    pub page: PageSettings,
    pub targets: Vec<Target>,
    /// Where the NixOS module took a target from (`origin` in the file: "auto: services.…"), by
    /// target id; targets written by hand have none. Shown by `check` and `status`, never sent.
    /// (Kept here rather than in [`Target`] so that building a `Target` needs nothing new.)
    pub origins: BTreeMap<String, String>,
    /// Things that work but should be changed (a literal key, …), for `check`.
    pub warnings: Vec<String>,
}

/// Which file to read: `--config`, else `$NIXCLOUD_MONITORING_CONFIG`, else the default.
pub fn resolve_path(flag: Option<&Path>) -> PathBuf {
    if let Some(path) = flag {
        return path.to_path_buf();
    }
    match std::env::var_os(PATH_ENV) {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(DEFAULT_PATH),
    }
}

impl Config {
    /// Every secret the config refers to (top level, per target).
    pub fn secrets(&self) -> Vec<KeySource> {
        let icinga = self.icinga2.as_ref().map(Icinga2Settings::password);
        let healthchecks = self
            .healthchecks
            .as_ref()
            .map(HealthchecksSettings::api_key);
        let keys = self
            .key
            .iter()
            .chain(self.targets.iter().filter_map(|t| t.key.as_ref()));
        keys.cloned().chain(icinga).chain(healthchecks).collect()
    }

    /// Reads and checks the config file.
    pub fn load(path: &Path) -> anyhow::Result<Config> {
        Config::parse(path, &read_source(path)?.text)
    }

    /// For a command about the one target `id` (raw or escaped): when the file is unchanged
    /// since a full load indexed it, a config with that target alone, read from the index
    /// (`true`); else the whole file, checked as [`Config::load`] does (`false`), and indexed
    /// for the next call. A target that is not in the index gets the full load, so a wrong id
    /// is reported as before.
    pub fn load_target(path: &Path, id: &str) -> anyhow::Result<(Config, bool)> {
        let source = read_source(path)?;
        if let Some(config) = cache::lookup(path, &source, id) {
            return Ok((config, true));
        }
        let config = Config::parse(path, &source.text)?;
        if config.targets.len() > 1 {
            cache::store(&config, &source);
        }
        Ok((config, false))
    }

    /// Checks config text; `path` is only used in messages and as [`Config::path`].
    pub fn parse(path: &Path, text: &str) -> anyhow::Result<Config> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| line_of(text, s.start));
            let place = line.map(|l| format!(":{l}")).unwrap_or_default();
            let table = line
                .and_then(|l| enclosing_table(text, l))
                .map(|t| format!(" (in {t})"))
                .unwrap_or_default();
            anyhow::anyhow!("{}{place}{table}: {}", path.display(), e.message())
        })?;
        let file = path.display().to_string();
        let mut warnings = Vec::new();
        let key = key_source(
            raw.api_key,
            raw.api_key_file,
            "api-key".to_string(),
            &mut warnings,
            "the top level",
        );
        let api_host = checked_url(&file, text, "apiHost", &raw.api_host, "apiKeyFile")?;
        let icinga2 = match raw.icinga2 {
            Some(s) => {
                let credentials = "icinga2.user and icinga2.passwordFile";
                if let Some(why) = s.mismatch() {
                    let line = line_of(text, s.url.span().start);
                    bail!("{file}:{line}: {why}");
                }
                for url in s.urls() {
                    checked_url(&file, text, "icinga2.url", &url, credentials)?;
                }
                limits::ca_file(&file, text, s.ca_file.as_ref())?;
                Some(s.settings())
            }
            None => None,
        };
        notify::threshold(
            &format!("{file}: the top level"),
            "failureThreshold",
            raw.failure_threshold,
        )?;
        let (notify, defaults) = match raw.notify {
            Some(n) => {
                let (settings, defaults) = notify::settings(&file, n, &mut warnings)?;
                (Some(settings), defaults)
            }
            None => (None, notify::Defaults::default()),
        };
        let mut origins = BTreeMap::new();
        let state_dir = resolve_state_dir(limits::state_dir(&file, text, raw.state_dir)?);
        let targets = build_targets(
            &file,
            text,
            &raw.targets,
            Common {
                public: raw.public,
                failure_threshold: raw.failure_threshold,
                notify: defaults,
            },
            &state_dir,
            &mut warnings,
            &mut origins,
        )?;
        check_unique(&file, &targets)?;
        let healthchecks = match raw.healthchecks {
            Some(s) => {
                checked_url(
                    &file,
                    text,
                    "healthchecks.url",
                    &s.url,
                    "healthchecks.apiKeyFile",
                )?;
                Some(s.settings())
            }
            None => None,
        };
        let backends = backends::chosen(&file, raw.backend, raw.backends)?;
        backends::require_settings(&file, &backends, icinga2.is_some(), healthchecks.is_some())?;
        backends::require_channels(&file, &backends, notify.as_ref())?;
        if backends.contains(&BackendKind::Healthchecks) {
            check_healthchecks_names(&file, &targets)?;
        }
        if targets.is_empty() {
            warnings.push(format!(
                "{file} has no targets: nothing is registered or monitored"
            ));
        }
        let first_active = targets
            .iter()
            .find(|t| t.passive().is_none())
            .map(|t| (t.id.as_str(), t.kind_name()));
        backends::require_active_support(&file, &backends, first_active)?;
        let page = raw.page.unwrap_or_default();
        warnings.extend(page.unknown_ids(&targets));
        Ok(Config {
            path: path.to_path_buf(),
            backends,
            api_host: api_host.trim_end_matches('/').to_string(),
            key,
            state_dir,
            queue: limits::queue(&file, text, raw.queue)?,
            delivery: limits::delivery(&file, text, raw.delivery)?,
            icinga2,
            prometheus: limits::prometheus(&file, text, raw.prometheus)?,
            healthchecks,
            notify,
            page,
            targets,
            origins,
            warnings,
        })
    }
}

fn read_source(path: &Path) -> anyhow::Result<cache::Source> {
    cache::Source::read(path)
        .with_context(|| format!("could not read config file {}", path.display()))
}

fn key_source(
    literal: Option<String>,
    file: Option<PathBuf>,
    credential: String,
    warnings: &mut Vec<String>,
    whose: &str,
) -> Option<KeySource> {
    match (literal, file) {
        (Some(_), Some(path)) => {
            warnings.push(format!(
                "{whose} sets both apiKey and apiKeyFile: apiKeyFile is used"
            ));
            Some(KeySource::File { path, credential })
        }
        (None, Some(path)) => Some(KeySource::File { path, credential }),
        (Some(key), None) => {
            warnings.push(format!(
                "apiKey at {whose} is a literal key: it is readable by every user (on NixOS it is \
                 copied into the world-readable /nix/store); use apiKeyFile instead"
            ));
            Some(KeySource::Literal(key))
        }
        (None, None) => None,
    }
}

/// What every target takes from the top level unless it says otherwise.
struct Common {
    public: bool,
    failure_threshold: u32,
    notify: notify::Defaults,
}

#[allow(clippy::too_many_arguments)]
fn build_targets(
    file: &str,
    text: &str,
    raw: &RawTargets,
    common: Common,
    state_dir: &Path,
    warnings: &mut Vec<String>,
    origins: &mut BTreeMap<String, String>,
) -> anyhow::Result<Vec<Target>> {
    let mut calendars = Vec::new();
    let a = &raw.active;
    let lines = LineIndex::new(text);
    let mut active: Vec<(usize, ActiveCheck, Option<String>)> = Vec::new();
    macro_rules! collect {
        ($($field:ident => $variant:ident),*) => {
            $( for item in &a.$field {
                let raw = item.get_ref();
                active.push((lines.line(item.span().start), ActiveCheck::$variant(raw.target.clone()), raw.origin.clone()));
            } )*
        };
    }
    collect!(check_http => Http, check_ssl_cert => SslCert, check_dns => Dns, check_ping => Ping,
             check_smtp => Smtp, check_ssh => Ssh, check_hydra => Hydra);

    let mut out = Vec::new();
    for (line, check, origin) in active {
        let c = check.common();
        let name = check.name();
        let id = format!("{}-{}", c.host, name);
        for (what, value) in [("host", c.host), ("name", name.as_str())] {
            if let Some(why) = bad_text(what, value) {
                bail!(
                    "{file}:{line}: target {} ({}): {why}",
                    shown(&id),
                    check.kind()
                );
            }
        }
        if !c.ipv4 && !c.ipv6 {
            bail!("{file}:{line}: target {id} ({}): ipv4 and ipv6 are both false; enable at least one", check.kind());
        }
        if let Some(t) = check
            .timeout()
            .filter(|t| !limits::CHECK_TIMEOUT.contains(&u64::from(*t)))
        {
            let why = limits::out_of_range("timeout", t.into(), &limits::CHECK_TIMEOUT, "seconds");
            bail!("{file}:{line}: target {id} ({}): {why}", check.kind());
        }
        check_id_length(file, line, &id)?;
        let failure_threshold = c.failure_threshold.unwrap_or(common.failure_threshold);
        notify::threshold(
            &format!("{file}:{line}: target {id}"),
            "failureThreshold",
            failure_threshold,
        )?;
        let key = key_source(
            c.api_key.map(str::to_string),
            c.api_key_file.map(Path::to_path_buf),
            format!("api-key-{}", targets::escape(&id)),
            warnings,
            &format!("target {id}"),
        );
        if let Some(origin) = origin {
            origins.insert(id.clone(), origin);
        }
        out.push(Target {
            host: c.host.to_string(),
            name,
            tags: c.tags.to_vec(),
            public: c.public.unwrap_or(common.public),
            key,
            line,
            id,
            failure_threshold,
            kind: TargetKind::Active(check),
        });
    }
    for item in &raw.passive {
        let p = &item.get_ref().target;
        let line = lines.line(item.span().start);
        let Some(name) = p.name.clone() else {
            bail!(
                "{file}:{line}: passive target for host {:?} has no name (name is required)",
                p.host
            );
        };
        if name.is_empty() {
            bail!(
                "{file}:{line}: passive target for host {:?} has an empty name (name is required)",
                p.host
            );
        }
        let id = format!("{}-{name}", p.host);
        // An empty host is refused as the module refuses it: the id would be `-<name>`.
        for (what, value) in [("host", p.host.as_str()), ("name", name.as_str())] {
            if let Some(why) = bad_text(what, value) {
                bail!("{file}:{line}: target {} (passive): {why}", shown(&id));
            }
        }
        check_id_length(file, line, &id)?;
        let n = limits::Number {
            file,
            text,
            whose: &format!("target {id}: "),
        };
        let whose = format!("{file}:{line}: target {id}");
        let timing = timing(&whose, &n, &p.timers)?;
        let script_timeout_set = match &p.script_timeout {
            Some(s) => Some(n.within("scriptTimeout", s, &limits::SCRIPT_TIMEOUT, "seconds")?),
            None => None,
        };
        let script_timeout = Duration::from_secs(
            script_timeout_set.unwrap_or(timing.check_minutes.saturating_mul(60)),
        );
        if let Some(origin) = &item.get_ref().origin {
            origins.insert(id.clone(), origin.clone());
        }
        let failure_threshold = p.failure_threshold.unwrap_or(common.failure_threshold);
        notify::threshold(&whose, "failureThreshold", failure_threshold)?;
        let notify = notify::policy(&whose, &p.notify, common.notify)?;
        let credential = format!("api-key-{}", targets::escape(&id));
        let key = key_source(
            p.api_key.clone(),
            p.api_key_file.clone(),
            credential,
            warnings,
            &format!("target {id}"),
        );
        out.push(Target {
            host: p.host.clone(),
            name,
            tags: p.tags.clone(),
            public: p.public.unwrap_or(common.public),
            key,
            line,
            id,
            failure_threshold,
            kind: TargetKind::Passive(Passive {
                script: p.script.clone(),
                check_minutes: timing.check_minutes,
                timeout_minutes: timing.timeout_minutes,
                calendar: None,
                script_timeout,
                notify,
            }),
        });
        if let Some(grace) = timing.calendar_grace {
            calendars.push(PendingCalendar {
                index: out.len() - 1,
                whose,
                exprs: p
                    .timers
                    .calendar
                    .as_ref()
                    .map(|c| c.values().to_vec())
                    .unwrap_or_default(),
                grace,
                script_timeout: script_timeout_set,
            });
        }
    }
    resolve_calendars(state_dir, &mut out, calendars, warnings)?;
    Ok(out)
}

/// A passive target's schedule as far as the file says it, before any calendar is resolved.
struct Timing {
    check_minutes: u64,
    timeout_minutes: u64,
    /// With `timers.calendar`: `timers.grace` (minutes) if set.
    calendar_grace: Option<Option<u64>>,
}

/// `timers`: an interval (`check` < `timeout`) or a calendar, not both.
fn timing(whose: &str, n: &limits::Number<'_>, t: &raw::RawTimers) -> anyhow::Result<Timing> {
    if let Some(calendar) = &t.calendar {
        let interval: Vec<&str> = [("timers.check", &t.check), ("timers.timeout", &t.timeout)]
            .into_iter()
            .filter_map(|(k, v)| v.as_ref().map(|_| k))
            .collect();
        if !interval.is_empty() {
            bail!(
                "{whose}: timers.calendar and {} are both set: a calendar target waits for its \
                 calendar's longest gap between two runs (plus timers.grace); remove {}",
                interval.join(" and "),
                interval.join(" and ")
            );
        }
        if calendar.values().is_empty() {
            bail!("{whose}: timers.calendar is an empty list; give at least one OnCalendar expression");
        }
        if let Some(e) = calendar.values().iter().find(|e| e.trim().is_empty()) {
            bail!("{whose}: timers.calendar {e:?} is empty; give an OnCalendar expression");
        }
        let grace = match &t.grace {
            Some(g) => Some(n.within("timers.grace", g, &limits::TIMERS_GRACE, "minutes")?),
            None => None,
        };
        return Ok(Timing {
            check_minutes: 1,
            timeout_minutes: 2,
            calendar_grace: Some(grace),
        });
    }
    if t.grace.is_some() {
        bail!(
            "{whose}: timers.grace belongs to timers.calendar; with timers.check, the silence \
             allowed is timers.timeout"
        );
    }
    let bounded = |key: &str, v: &Option<toml::Spanned<u64>>, range, default| match v {
        Some(v) => n.within(key, v, range, "minutes"),
        None => Ok(default),
    };
    let check = bounded(
        "timers.check",
        &t.check,
        &limits::TIMERS_CHECK,
        raw::RawTimers::CHECK,
    )?;
    let timeout = bounded(
        "timers.timeout",
        &t.timeout,
        &limits::TIMERS_TIMEOUT,
        raw::RawTimers::TIMEOUT,
    )?;
    if check >= timeout {
        bail!(
            "{whose}: timers.check ({check}) must be less than timers.timeout ({timeout}), \
             or every pause between two results raises an alarm"
        );
    }
    Ok(Timing {
        check_minutes: check,
        timeout_minutes: timeout,
        calendar_grace: None,
    })
}

/// A calendar target waiting for its calendar to be checked.
struct PendingCalendar {
    index: usize,
    whose: String,
    exprs: Vec<String>,
    grace: Option<u64>,
    script_timeout: Option<u64>,
}

/// The default `timers.grace`: a tenth of the longest gap, at least five minutes.
pub fn default_grace_seconds(gap_seconds: u64) -> u64 {
    (gap_seconds / 10).max(300)
}

/// Checks every calendar at once (one call to systemd-analyze for those the state
/// directory's cache does not hold) and gives each target its expected silence: the longest
/// gap between two runs plus the grace. `check_minutes` becomes that gap, `timeout_minutes`
/// gap plus grace, both rounded up to whole minutes, so every backend and `notify` follow the
/// calendar without knowing of it.
fn resolve_calendars(
    state_dir: &Path,
    targets: &mut [Target],
    pending: Vec<PendingCalendar>,
    warnings: &mut Vec<String>,
) -> anyhow::Result<()> {
    if pending.is_empty() {
        return Ok(());
    }
    let lists: Vec<Vec<String>> = pending.iter().map(|p| p.exprs.clone()).collect();
    let (answers, found) = crate::calendar::resolve(state_dir, &lists);
    warnings.extend(found);
    for (p, answer) in pending.into_iter().zip(answers) {
        let calendar = answer.map_err(|problem| {
            anyhow::anyhow!(
                "{}: timers.calendar {}: {problem}",
                p.whose,
                shown_list(&p.exprs)
            )
        })?;
        let grace = p
            .grace
            .map_or(default_grace_seconds(calendar.gap_seconds), |m| {
                m.saturating_mul(60)
            });
        let TargetKind::Passive(passive) = &mut targets[p.index].kind else {
            continue;
        };
        passive.check_minutes = calendar.gap_seconds.div_ceil(60).max(1);
        passive.timeout_minutes = (calendar.gap_seconds + grace)
            .div_ceil(60)
            .max(passive.check_minutes + 1);
        passive.script_timeout = Duration::from_secs(
            p.script_timeout
                .unwrap_or(passive.check_minutes.saturating_mul(60)),
        );
        passive.calendar = Some(calendar);
    }
    Ok(())
}

/// One expression as itself, several as a list.
fn shown_list(exprs: &[String]) -> String {
    match exprs {
        [one] => format!("{one:?}"),
        many => format!("{many:?}"),
    }
}

/// A URL the agent sends requests to, with its place in the file when it is refused.
fn checked_url<'a>(
    file: &str,
    text: &str,
    key: &str,
    value: &'a toml::Spanned<String>,
    credentials: &str,
) -> anyhow::Result<&'a str> {
    let url = value.get_ref();
    match url_problem(url, credentials) {
        None => Ok(url),
        Some(why) => {
            let line = line_of(text, value.span().start);
            bail!("{file}:{line}: {key} {:?}: {why}", without_userinfo(url))
        }
    }
}

/// The URL with any `user:password@` replaced, so a message never repeats a password.
fn without_userinfo(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..end].rfind('@') {
        Some(at) => format!("{scheme}://<redacted>{}", &rest[at..]),
        None => url.to_string(),
    }
}

/// What keeps `url` from being an API base: it must be `http(s)://host[:port][/path]`, with no
/// user or password (they would end up in logs; `credentials` says where they go instead), no
/// query or fragment (paths are appended to it) and no white space or control characters (the
/// URL parser would silently drop some of them).
fn url_problem(url: &str, credentials: &str) -> Option<String> {
    if let Some(c) = url.chars().find(|c| c.is_whitespace() || c.is_control()) {
        return Some(format!(
            "contains white space or a control character (U+{:04X})",
            c as u32
        ));
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        return Some("is not a URL: it must start with https:// (or http://)".into());
    };
    if !scheme.eq_ignore_ascii_case("https") && !scheme.eq_ignore_ascii_case("http") {
        return Some(format!("the scheme must be https or http, not {scheme:?}"));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.contains('@') {
        return Some(format!(
            "has a user or password part (user@ or user:password@); credentials go in {credentials}"
        ));
    }
    if authority.is_empty() {
        return Some("has no host".into());
    }
    let parsed = match reqwest::Url::parse(url) {
        Ok(parsed) => parsed,
        Err(e) => return Some(format!("is not a URL: {e}")),
    };
    if parsed.host_str().is_none_or(str::is_empty) {
        return Some("has no host".into());
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Some(
            "has a query or fragment (?… or #…); only scheme, host, port and a path are allowed"
                .into(),
        );
    }
    None
}

/// Why a `host` or `name` cannot go into an id: ids name units, files and journal lines, so
/// they must not be empty nor hold control characters, bidirectional controls or line
/// separators ([`limits::forbidden`], the same set the NixOS module's assertion refuses in
/// `nix/escape.nix`, so a config it writes is never refused here).
fn bad_text(what: &str, value: &str) -> Option<String> {
    if value.is_empty() {
        return Some(format!("{what} is empty"));
    }
    let (c, kind) = value
        .chars()
        .find_map(|c| Some((c, limits::forbidden(c)?)))?;
    Some(format!("{what} contains {kind} (U+{:04X})", c as u32))
}

/// An id for a message: forbidden characters escaped (`\n`, `\u{202e}`), so it stays one
/// line and reads as what it is.
fn shown(id: &str) -> String {
    id.chars()
        .map(|c| match limits::forbidden(c) {
            Some(_) => c.escape_default().to_string(),
            None => c.to_string(),
        })
        .collect()
}

/// An id must fit into a unit name once escaped, as the module requires.
fn check_id_length(file: &str, line: usize, id: &str) -> anyhow::Result<()> {
    let len = targets::escape(id).chars().count();
    if len > limits::MAX_ESCAPED_ID {
        bail!(
            "{file}:{line}: target {}…: the id is {len} characters long (escaped), more than the \
             {} a unit name can take; shorten its host or name",
            id.chars().take(40).collect::<String>(),
            limits::MAX_ESCAPED_ID
        );
    }
    Ok(())
}

/// Healthchecks names each check by target id, and takes at most 100 characters.
fn check_healthchecks_names(file: &str, targets: &[Target]) -> anyhow::Result<()> {
    let long: Vec<String> = targets
        .iter()
        .filter(|t| t.passive().is_some() && t.id.chars().count() > limits::HEALTHCHECKS_NAME)
        .map(|t| {
            format!(
                "{} (line {}, {} characters)",
                t.id,
                t.line,
                t.id.chars().count()
            )
        })
        .collect();
    if long.is_empty() {
        return Ok(());
    }
    bail!(
        "{file}: backend \"healthchecks\" names each check by target id, and takes at most {} \
         characters; these ids are longer: {}",
        limits::HEALTHCHECKS_NAME,
        long.join(", ")
    )
}

/// Ids must be unique, and so must their escaped forms (they name units and files).
fn check_unique(file: &str, targets: &[Target]) -> anyhow::Result<()> {
    let mut by_id: BTreeMap<String, Vec<&Target>> = BTreeMap::new();
    for t in targets {
        by_id.entry(t.escaped_id()).or_default().push(t);
    }
    let dups: Vec<String> = by_id
        .values()
        .filter(|ts| ts.len() > 1)
        .map(|ts| {
            let places: Vec<String> = ts
                .iter()
                .map(|t| format!("{} ({}, line {})", t.id, t.kind_name(), t.line))
                .collect();
            format!("  {}", places.join(", "))
        })
        .collect();
    if dups.is_empty() {
        return Ok(());
    }
    bail!(
        "{file}: duplicate target ids (\"<host>-<name>\" must be unique over all active and passive \
         targets, also after escaping to unit names):\n{}",
        dups.join("\n")
    )
}

/// `$STATE_DIRECTORY` (systemd's own choice wins, the sandbox only lets us write there), then
/// `stateDir` from the config, then the platform's per-user state directory.
fn resolve_state_dir(configured: Option<PathBuf>) -> PathBuf {
    if let Some(dirs) = std::env::var_os("STATE_DIRECTORY") {
        // systemd passes a colon-separated list when several StateDirectory= are set.
        if let Some(first) = dirs
            .to_string_lossy()
            .split(':')
            .next()
            .filter(|s| !s.is_empty())
        {
            return PathBuf::from(first);
        }
    }
    if let Some(dir) = configured {
        return dir;
    }
    directories::ProjectDirs::from("", "", "nixcloud-monitoring")
        .map(|d| d.state_dir().unwrap_or(d.data_local_dir()).to_path_buf())
        .unwrap_or_else(|| PathBuf::from("/var/lib/nixcloud-monitoring"))
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// Line numbers for many offsets: counting newlines from the start for each of 10,000
/// targets made loading the config quadratic (seconds for a big machine's config).
struct LineIndex {
    /// Offsets of the newlines, in order.
    newlines: Vec<usize>,
}

impl LineIndex {
    fn new(text: &str) -> LineIndex {
        LineIndex {
            newlines: text.match_indices('\n').map(|(i, _)| i).collect(),
        }
    }

    /// The 1-based line of a byte offset, as [`line_of`] counts it.
    fn line(&self, offset: usize) -> usize {
        self.newlines.partition_point(|&nl| nl < offset) + 1
    }
}

/// The `[[…]]`/`[…]` header above a line, to say which target a TOML error is in.
fn enclosing_table(text: &str, line: usize) -> Option<String> {
    let lines: Vec<&str> = text.lines().take(line).collect();
    let (idx, header) = lines
        .iter()
        .enumerate()
        .rev()
        .find(|(_, l)| l.trim_start().starts_with('['))?;
    let header = header.trim();
    let nth = lines[..=idx].iter().filter(|l| l.trim() == header).count();
    Some(if header.starts_with("[[") {
        format!("{header} #{nth}, line {}", idx + 1)
    } else {
        header.to_string()
    })
}

mod cache;
mod limits;
mod page;
mod raw;

#[cfg(test)]
mod tests;
