//! Which backends the config names and the settings each one reads (`[icinga2]`,
//! `[prometheus]`, `[healthchecks]`).

use crate::secrets::KeySource;
use anyhow::bail;
use serde::Deserialize;
use std::path::PathBuf;

/// Which server the agent talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// The original's hosted API (or a compatible receiver) at `apiHost`.
    #[default]
    Nixcloud,
    /// Nothing leaves the machine: records go to the state directory.
    Local,
    /// An Icinga2 server's REST API.
    Icinga2,
    /// The node exporter's textfile collector: one `.prom` file that Prometheus scrapes.
    Prometheus,
    /// A Healthchecks server (hosted or self-hosted): Management API v3 and ping URLs.
    Healthchecks,
    /// Nothing is registered: changes are told to people (mail, ntfy, a webhook), one lane
    /// per channel of `[notify.channels]`.
    Notify,
    /// A static status page (HTML, JSON, SVG badges) in a directory a web server serves.
    Page,
}

impl BackendKind {
    /// The name as written in the config.
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Nixcloud => "nixcloud",
            BackendKind::Local => "local",
            BackendKind::Icinga2 => "icinga2",
            BackendKind::Prometheus => "prometheus",
            BackendKind::Healthchecks => "healthchecks",
            BackendKind::Notify => "notify",
            BackendKind::Page => "page",
        }
    }

    /// Whether something on the server side runs active targets: Healthchecks only waits for
    /// pings. (Prometheus runs them through the blackbox exporter, from the module's
    /// `prometheus.scrapeConfigs`; the agent itself registers nothing there.)
    pub fn runs_active_checks(self) -> bool {
        !matches!(self, BackendKind::Healthchecks | BackendKind::Notify)
    }
}

/// The backends in use: `backends` when given, else `backend` (default `nixcloud`). Giving
/// both, an empty list or a repeat is a config error.
pub(super) fn chosen(
    file: &str,
    backend: Option<BackendKind>,
    backends: Option<Vec<BackendKind>>,
) -> anyhow::Result<Vec<BackendKind>> {
    match (backend, backends) {
        (Some(_), Some(_)) => bail!(
            "{file}: both backend and backends are set; keep one (backends = [ ... ] for several)"
        ),
        (None, Some(list)) => {
            if list.is_empty() {
                bail!("{file}: backends is empty; name at least one backend");
            }
            for (i, kind) in list.iter().enumerate() {
                if list[..i].contains(kind) {
                    bail!("{file}: backends names {:?} twice", kind.name());
                }
            }
            Ok(list)
        }
        (backend, None) => Ok(vec![backend.unwrap_or_default()]),
    }
}

/// Fails when no chosen backend can run the active target `first_active` (its id and kind).
pub(super) fn require_active_support(
    file: &str,
    backends: &[BackendKind],
    first_active: Option<(&str, &str)>,
) -> anyhow::Result<()> {
    match first_active {
        Some((id, kind)) if !backends.iter().any(|b| b.runs_active_checks()) => bail!(
            "{file}: target {id} is an active check ({kind}), but none of the backends runs \
             it: Healthchecks only waits for pings and notify only tells people about results: \
             add a backend that runs it (backends = [ \"healthchecks\" \"icinga2\" ] or \
             \"prometheus\" with the blackbox exporter), or turn it into a passive target with \
             a script"
        ),
        _ => Ok(()),
    }
}

/// Fails when `notify` is chosen without a channel to tell through.
pub(super) fn require_channels(
    file: &str,
    backends: &[BackendKind],
    notify: Option<&super::NotifySettings>,
) -> anyhow::Result<()> {
    if backends.contains(&BackendKind::Notify) && notify.is_none_or(|n| n.channels.is_empty()) {
        bail!(
            "{file}: backend \"notify\" needs at least one channel in [notify.channels.<name>] \
             (type = \"sendmail\", \"smtp\", \"ntfy\" or \"webhook\")"
        );
    }
    Ok(())
}

/// Fails when a chosen backend lacks its table.
pub(super) fn require_settings(
    file: &str,
    backends: &[BackendKind],
    icinga2: bool,
    healthchecks: bool,
) -> anyhow::Result<()> {
    for kind in backends {
        let (present, table) = match kind {
            BackendKind::Icinga2 => (icinga2, "an [icinga2] table (url, user, passwordFile)"),
            BackendKind::Healthchecks => (healthchecks, "a [healthchecks] table (apiKeyFile)"),
            _ => continue,
        };
        if !present {
            bail!("{file}: backend {:?} needs {table}", kind.name());
        }
    }
    Ok(())
}

/// The Icinga2 API connection (read as `raw::RawIcinga2`).
#[derive(Debug, Clone)]
pub struct Icinga2Settings {
    /// API base, e.g. `https://icinga.example.org:5665`: the first of `urls`, for messages.
    pub url: String,
    /// Every endpoint, in the order to try them (`url` as a list: a zone's masters); never
    /// empty.
    pub urls: Vec<String>,
    /// The ApiUser's name.
    pub user: String,
    /// File holding the ApiUser's password (credential `icinga2-password`).
    pub password_file: PathBuf,
    /// CA certificate that signed the API certificate; system roots when absent.
    pub ca_file: Option<PathBuf>,
    /// Name on the API certificate when it is not the URL's host (Icinga's node name), one per
    /// entry of `urls` (a single `serverName` is repeated); empty when not set.
    pub server_names: Vec<String>,
    /// Marks the objects this agent owns (`vars.nixcloud_monitoring_owner`); only those are
    /// updated and pruned. Default: the machine's host name.
    pub owner: Option<String>,
}

impl Icinga2Settings {
    /// Where the ApiUser's password comes from.
    pub fn password(&self) -> KeySource {
        KeySource::File {
            path: self.password_file.clone(),
            credential: "icinga2-password".into(),
        }
    }
}

/// `[prometheus]`: where the node exporter's textfile collector finds our metrics (read as
/// `raw::RawPrometheus`).
#[derive(Debug, Clone, Default)]
pub struct PrometheusSettings {
    /// The `.prom` file, replaced atomically on every change. Default:
    /// `<stateDir>/prometheus/nixcloud-monitoring.prom`.
    pub textfile: Option<PathBuf>,
}

/// `[healthchecks]`: a Healthchecks server's Management API (read as `raw::RawHealthchecks`).
#[derive(Debug, Clone)]
pub struct HealthchecksSettings {
    /// The site, e.g. `https://healthchecks.io` (the API is at `<url>/api/v3/`).
    pub url: String,
    /// File holding the project's API key (credential `healthchecks-api-key`).
    pub api_key_file: PathBuf,
    /// Tags the checks this agent owns (`nixcloud-owner:<owner>`): only those are removed when
    /// no longer configured. Default: the machine's host name.
    pub owner: Option<String>,
}

impl HealthchecksSettings {
    /// Where the project's API key comes from.
    pub fn api_key(&self) -> KeySource {
        KeySource::File {
            path: self.api_key_file.clone(),
            credential: "healthchecks-api-key".into(),
        }
    }
}
