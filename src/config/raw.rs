//! The config file as written: serde structs that mirror the TOML (and so the NixOS options)
//! one to one, before defaults from other places are applied and ids are checked.

use super::{BackendKind, HealthchecksSettings, Icinga2Settings};
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
    pub(super) state_dir: Option<Spanned<PathBuf>>,
    #[serde(default)]
    pub(super) queue: RawQueue,
    #[serde(default)]
    pub(super) delivery: RawDelivery,
    pub(super) icinga2: Option<RawIcinga2>,
    pub(super) prometheus: Option<RawPrometheus>,
    pub(super) healthchecks: Option<RawHealthchecks>,
    /// Every target's `failureThreshold` unless it sets its own.
    #[serde(default = "one")]
    pub(super) failure_threshold: u32,
    pub(super) notify: Option<super::notify::RawNotify>,
    pub(super) page: Option<super::PageSettings>,
    #[serde(default)]
    pub(super) targets: RawTargets,
}

fn one() -> u32 {
    1
}

/// `[prometheus]`: as [`PrometheusSettings`], with the textfile's place in the file.
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawPrometheus {
    pub(super) textfile: Option<Spanned<PathBuf>>,
}

/// `[queue]`, each value with its place in the file (checked in limits.rs).
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawQueue {
    pub(super) max_count: Option<Spanned<u64>>,
    pub(super) max_bytes: Option<Spanned<u64>>,
}

/// `[delivery]`, each value with its place in the file (checked in limits.rs).
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawDelivery {
    pub(super) attempts: Option<Spanned<u64>>,
    pub(super) timeout: Option<Spanned<u64>>,
    pub(super) concurrency: Option<Spanned<u64>>,
}

fn default_api_host() -> Spanned<String> {
    Spanned::new(0..0, "https://status.nixcloud.io".to_string())
}

/// `[icinga2]`: as [`Icinga2Settings`], with the URL's place in the file for messages.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawIcinga2 {
    pub(super) url: Spanned<OneOrMany>,
    user: String,
    password_file: PathBuf,
    pub(super) ca_file: Option<Spanned<PathBuf>>,
    pub(super) server_name: Option<OneOrMany>,
    owner: Option<String>,
}

impl RawIcinga2 {
    /// Each URL with the place of `url` in the file.
    pub(super) fn urls(&self) -> Vec<Spanned<String>> {
        let span = self.url.span();
        let urls = &self.url.get_ref().0;
        urls.iter()
            .map(|u| Spanned::new(span.clone(), u.clone()))
            .collect()
    }

    /// Why `url` and `serverName` do not go together, if they do not: an empty list, or a
    /// list of names that is not one per URL.
    pub(super) fn mismatch(&self) -> Option<String> {
        let urls = self.url.get_ref().0.len();
        let names = self.server_name.as_ref().map_or(0, |n| n.0.len());
        if urls == 0 {
            return Some("icinga2.url is an empty list; give at least one URL".into());
        }
        match &self.server_name {
            Some(OneOrMany(_, false)) if names != urls => Some(format!(
                "icinga2.serverName lists {names} names for {urls} URLs in icinga2.url; give one \
                 name per URL, in the same order, or a single name for all"
            )),
            _ => None,
        }
    }

    pub(super) fn settings(self) -> Icinga2Settings {
        let urls = self.url.into_inner().0;
        let server_names = match self.server_name {
            None => Vec::new(),
            Some(OneOrMany(names, false)) => names,
            Some(OneOrMany(name, true)) => vec![name[0].clone(); urls.len()],
        };
        Icinga2Settings {
            url: urls[0].clone(),
            urls,
            user: self.user,
            password_file: self.password_file,
            ca_file: self.ca_file.map(Spanned::into_inner),
            server_names,
            owner: self.owner,
        }
    }
}

/// A string, or a list of strings (`icinga2.url`, `icinga2.serverName`): the values, and
/// whether it was a single string.
pub(super) struct OneOrMany(pub(super) Vec<String>, bool);

impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = OneOrMany;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string or a list of strings")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<OneOrMany, E> {
                Ok(OneOrMany(vec![s.to_string()], true))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<OneOrMany, A::Error> {
                let mut out = Vec::new();
                while let Some(s) = seq.next_element::<String>()? {
                    out.push(s);
                }
                Ok(OneOrMany(out, false))
            }
        }
        d.deserialize_any(V)
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
    pub(super) script_timeout: Option<Spanned<u64>>,
    pub(super) failure_threshold: Option<u32>,
    pub(super) notify: super::notify::RawTargetNotify,
}

/// `timers`: an interval (`check`, `timeout`) or a calendar (`calendar`, `grace`); which of
/// them is set, and the bounds of each value (with its place in the file), are checked in
/// `build_targets`, where the target can be named.
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawTimers {
    pub(super) check: Option<Spanned<u64>>,
    pub(super) timeout: Option<Spanned<u64>>,
    /// One systemd `OnCalendar=` expression, or a list of them.
    pub(super) calendar: Option<OneOrMany>,
    /// Minutes added to a calendar's longest gap before the target counts as silent.
    pub(super) grace: Option<Spanned<u64>>,
}

impl RawTimers {
    /// `timers.check` unless the file says otherwise.
    pub(super) const CHECK: u64 = 60;
    /// `timers.timeout` likewise.
    pub(super) const TIMEOUT: u64 = 180;
}

impl OneOrMany {
    pub(super) fn values(&self) -> &[String] {
        &self.0
    }
}
