//! The config file as written: serde structs that mirror the TOML (and so the NixOS options)
//! one to one, before defaults from other places are applied and ids are checked.

use super::{BackendKind, DeliverySettings, Icinga2Settings, QueueSettings};
use crate::checks;
use serde::Deserialize;
use std::path::PathBuf;
use toml::Spanned;

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawConfig {
    #[serde(default)]
    pub(super) backend: BackendKind,
    #[serde(default = "default_api_host")]
    pub(super) api_host: Spanned<String>,
    pub(super) api_key: Option<String>,
    pub(super) api_key_file: Option<PathBuf>,
    #[serde(default = "default_true")]
    pub(super) public: bool,
    pub(super) state_dir: Option<PathBuf>,
    #[serde(default)]
    pub(super) queue: QueueSettings,
    #[serde(default)]
    pub(super) delivery: DeliverySettings,
    pub(super) icinga2: Option<RawIcinga2>,
    #[serde(default)]
    pub(super) targets: RawTargets,
}

fn default_api_host() -> Spanned<String> {
    Spanned::new(0..0, "https://status.nixcloud.io".to_string())
}

/// `[icinga2]`: as [`Icinga2Settings`], with the URL's place in the file for messages.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawIcinga2 {
    pub(super) url: Spanned<String>,
    user: String,
    password_file: PathBuf,
    ca_file: Option<PathBuf>,
    server_name: Option<String>,
    owner: Option<String>,
}

impl RawIcinga2 {
    pub(super) fn settings(self) -> Icinga2Settings {
        Icinga2Settings {
            url: self.url.into_inner(),
            user: self.user,
            password_file: self.password_file,
            ca_file: self.ca_file,
            server_name: self.server_name,
            owner: self.owner,
        }
    }
}

fn default_true() -> bool {
    true
}

#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawTargets {
    pub(super) active: RawActive,
    pub(super) passive: Vec<Spanned<RawPassive>>,
}

#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawActive {
    pub(super) check_http: Vec<Spanned<checks::CheckHttp>>,
    pub(super) check_ssl_cert: Vec<Spanned<checks::CheckSslCert>>,
    pub(super) check_dns: Vec<Spanned<checks::CheckDns>>,
    pub(super) check_ping: Vec<Spanned<checks::CheckPing>>,
    pub(super) check_smtp: Vec<Spanned<checks::CheckSmtp>>,
    pub(super) check_ssh: Vec<Spanned<checks::CheckSsh>>,
    pub(super) check_hydra: Vec<Spanned<checks::CheckHydra>>,
}

#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawPassive {
    pub(super) host: String,
    pub(super) name: Option<String>,
    pub(super) tags: Vec<String>,
    pub(super) public: Option<bool>,
    pub(super) api_key: Option<String>,
    pub(super) api_key_file: Option<PathBuf>,
    pub(super) script: String,
    pub(super) timers: RawTimers,
    pub(super) script_timeout: Option<u64>,
}

#[derive(Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawTimers {
    pub(super) check: u64,
    pub(super) timeout: u64,
}

impl Default for RawTimers {
    fn default() -> Self {
        RawTimers {
            check: 60,
            timeout: 180,
        }
    }
}
