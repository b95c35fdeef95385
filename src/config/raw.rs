//! The config file as written: serde structs that mirror the TOML (and so the NixOS options)
//! one to one, before defaults from other places are applied and ids are checked.

use super::{
    BackendKind, DeliverySettings, HealthchecksSettings, Icinga2Settings, PrometheusSettings,
    QueueSettings,
};
use crate::checks;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use std::marker::PhantomData;
use std::path::PathBuf;
use toml::Spanned;

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawConfig {
    pub(super) backend: Option<BackendKind>,
    pub(super) backends: Option<Vec<BackendKind>>,
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
    pub(super) prometheus: Option<PrometheusSettings>,
    pub(super) healthchecks: Option<RawHealthchecks>,
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

/// `[healthchecks]`: as [`HealthchecksSettings`], with the URL's place in the file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawHealthchecks {
    #[serde(default = "default_healthchecks_url")]
    pub(super) url: Spanned<String>,
    api_key_file: PathBuf,
    owner: Option<String>,
}

fn default_healthchecks_url() -> Spanned<String> {
    Spanned::new(0..0, "https://healthchecks.io".to_string())
}

impl RawHealthchecks {
    pub(super) fn settings(self) -> HealthchecksSettings {
        HealthchecksSettings {
            url: self.url.into_inner().trim_end_matches('/').to_string(),
            api_key_file: self.api_key_file,
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
    pub(super) passive: Vec<Spanned<WithOrigin<RawPassive>>>,
}

#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawActive {
    pub(super) check_http: Vec<Spanned<WithOrigin<checks::CheckHttp>>>,
    pub(super) check_ssl_cert: Vec<Spanned<WithOrigin<checks::CheckSslCert>>>,
    pub(super) check_dns: Vec<Spanned<WithOrigin<checks::CheckDns>>>,
    pub(super) check_ping: Vec<Spanned<WithOrigin<checks::CheckPing>>>,
    pub(super) check_smtp: Vec<Spanned<WithOrigin<checks::CheckSmtp>>>,
    pub(super) check_ssh: Vec<Spanned<WithOrigin<checks::CheckSsh>>>,
    pub(super) check_hydra: Vec<Spanned<WithOrigin<checks::CheckHydra>>>,
}

/// A target table with its optional `origin`: where the NixOS module took the target from
/// (`"auto: services.nginx.virtualHosts.example.org"`; absent for targets written by hand).
/// `origin` is for people only: `check` and `status` show it, nothing sends it anywhere.
///
/// It is taken out of the table before the target's own struct sees the rest, so that struct
/// keeps `deny_unknown_fields` (a typo is still named with its line) and does not list `origin`
/// among the keys it expects (tests/it/schema.rs holds those against the module's options, and
/// `origin` is no option: the module sets it).
pub(super) struct WithOrigin<T> {
    pub(super) origin: Option<String>,
    pub(super) target: T,
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for WithOrigin<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(WithOriginVisitor(PhantomData))
    }
}

struct WithOriginVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for WithOriginVisitor<T> {
    type Value = WithOrigin<T>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a target table")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        let mut origin = None;
        let target = T::deserialize(de::value::MapAccessDeserializer::new(SkipOrigin {
            inner: map,
            origin: &mut origin,
        }))?;
        Ok(WithOrigin { origin, target })
    }
}

/// The target's table without its `origin` key, whose value goes to `origin`.
struct SkipOrigin<'a, A> {
    inner: A,
    origin: &'a mut Option<String>,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for SkipOrigin<'_, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Self::Error> {
        let mut seed = seed;
        loop {
            // The key goes to the target's own seed inside the inner map's next_key_seed, so an
            // unknown key is reported with its place in the file, as without the wrapper.
            match self.inner.next_key_seed(KeyOrOrigin(seed))? {
                None => return Ok(None),
                Some(Ok(key)) => return Ok(Some(key)),
                Some(Err(back)) => {
                    *self.origin = Some(self.inner.next_value()?);
                    seed = back;
                }
            }
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, Self::Error> {
        self.inner.next_value_seed(seed)
    }
}

/// Reads a key: `origin` hands the seed back (`Err`), any other key goes to the seed.
struct KeyOrOrigin<K>(K);

impl<'de, K: DeserializeSeed<'de>> DeserializeSeed<'de> for KeyOrOrigin<K> {
    type Value = Result<K::Value, K>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        let key = String::deserialize(deserializer)?;
        if key == "origin" {
            return Ok(Err(self.0));
        }
        self.0
            .deserialize(de::value::StringDeserializer::<D::Error>::new(key))
            .map(Ok)
    }
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
