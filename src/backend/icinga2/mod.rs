//! The Icinga2 backend: the REST API (`/v1`, basic auth, TLS verified against the configured
//! CA and the certificate's name).
//!
//! `register` creates or updates one host object per target host and one service object per
//! target and family (see `objects`); with the whole config it also removes the services (and
//! then empty hosts) that carry this agent's owner mark but are no longer configured. Results
//! go to `POST /v1/actions/process-check-result` with the real execution time.

mod api;
mod objects;
mod perfdata;

use api::{outcome, Conn};

use super::{bounded, Api, Registered};
use crate::config::{Config, Icinga2Settings};
use crate::http::{self, ClientOptions};
use crate::result::CheckResult;
use crate::retry::DeliveryError;
use crate::secrets::{KeySource, SecretError};
use crate::targets::Target;
use anyhow::Context;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

/// A connection to an Icinga2 API.
pub struct Icinga2 {
    conn: Conn,
    password: KeySource,
    owner: String,
    concurrency: usize,
}

impl Icinga2 {
    pub fn new(config: &Config) -> anyhow::Result<Icinga2> {
        let s = config
            .icinga2
            .as_ref()
            .context("backend = \"icinga2\" needs an [icinga2] table")?;
        let (base, resolve) = endpoint(s)?;
        let client = http::client(&ClientOptions {
            base_url: &base,
            timeout: Duration::from_secs(config.delivery.timeout),
            ca_file: s.ca_file.as_deref(),
            resolve: resolve.as_ref().map(|(name, addr)| (name.as_str(), *addr)),
        })?;
        Ok(Icinga2 {
            conn: Conn {
                client,
                base,
                user: s.user.clone(),
            },
            password: s.password(),
            owner: s.owner.clone().unwrap_or_else(machine_name),
            concurrency: config.delivery.concurrency,
        })
    }

    fn password(&self) -> Result<String, DeliveryError> {
        // Fixed here, not by the server: keep results queued until it is readable.
        self.password
            .read()
            .map_err(|e| DeliveryError::Transient(anyhow::anyhow!("Icinga2 API password: {e}")))
    }

    /// Creates or updates hosts and services for `targets`; outcomes per service.
    async fn ensure_all(
        &self,
        targets: &[Target],
        password: &str,
    ) -> (Vec<Registered>, BTreeSet<String>, BTreeSet<String>) {
        let hosts: BTreeSet<String> = targets.iter().map(|t| t.host.clone()).collect();
        let host_jobs: Vec<(String, Map<String, Value>)> = hosts
            .iter()
            .map(|h| (h.clone(), objects::host_attrs(h, &self.owner)))
            .collect();
        let (conn, pw) = (self.conn.clone(), password.to_string());
        let host_outcomes = bounded(host_jobs, self.concurrency, move |(name, attrs)| {
            let (conn, pw) = (conn.clone(), pw.clone());
            async move {
                let outcome = conn
                    .ensure(
                        &pw,
                        "hosts",
                        &name,
                        attrs,
                        &format!("registering host {name}"),
                    )
                    .await
                    .map(drop);
                (name, outcome.map_err(|e| (e.is_transient(), e.to_string())))
            }
        })
        .await;
        let failed_hosts: BTreeMap<String, (bool, String)> = host_outcomes
            .into_iter()
            .filter_map(|(h, o)| o.err().map(|e| (h, e)))
            .collect();

        let services: Vec<(String, objects::Service)> = targets
            .iter()
            .flat_map(|t| {
                objects::services(t, &self.owner)
                    .into_iter()
                    .map(|s| (t.id.clone(), s))
            })
            .collect();
        let wanted: BTreeSet<String> = services.iter().map(|(_, s)| s.full_name()).collect();
        let (conn, pw, failed) = (
            self.conn.clone(),
            password.to_string(),
            failed_hosts.clone(),
        );
        let outcomes = bounded(services, self.concurrency, move |(target, service)| {
            let (conn, pw, failed) = (conn.clone(), pw.clone(), failed.clone());
            async move {
                let what = service.name.clone();
                let outcome = match failed.get(&service.host) {
                    // The host's failure, with its class: a 401 stays a refusal.
                    Some((true, e)) => Err(DeliveryError::Transient(anyhow::anyhow!("{e}"))),
                    Some((false, e)) => Err(DeliveryError::Rejected(anyhow::anyhow!("{e}"))),
                    None => {
                        let doing = format!("registering {target} ({what}) in Icinga2");
                        let silence = service.allowed_silence();
                        let created = conn
                            .ensure(&pw, "services", &service.full_name(), service.attrs, &doing)
                            .await;
                        match (created, silence) {
                            (Ok(true), Some(seconds)) => {
                                conn.postpone(&pw, &service.host, &service.name, seconds)
                                    .await
                            }
                            (created, _) => created.map(drop),
                        }
                    }
                };
                Registered {
                    target,
                    what,
                    outcome,
                }
            }
        })
        .await;
        (outcomes, wanted, hosts)
    }

    /// Removes this agent's services (then hosts) that are not wanted any more.
    async fn prune(
        &self,
        password: &str,
        wanted: &BTreeSet<String>,
        hosts: &BTreeSet<String>,
    ) -> Vec<Registered> {
        let mut out = Vec::new();
        for (kind, keep) in [("services", wanted), ("hosts", hosts)] {
            let owned = match self.conn.owned(password, kind, &self.owner).await {
                Ok(names) => names,
                Err(e) => {
                    out.push(Registered {
                        target: format!("(stale {kind})"),
                        what: "listing".into(),
                        outcome: Err(e),
                    });
                    continue;
                }
            };
            for name in owned.into_iter().filter(|n| !keep.contains(n)) {
                // Services go with everything attached (their history); a host is only removed
                // when no service is left on it, so another agent's services survive.
                let cascade = kind == "services";
                match self.conn.delete(password, kind, &name, cascade).await {
                    Ok(()) => {
                        tracing::info!("removed {kind} {name} from Icinga2: no longer configured")
                    }
                    Err(e) if kind == "hosts" => tracing::debug!("kept host {name}: {e}"),
                    Err(e) => out.push(Registered {
                        target: name.clone(),
                        what: "removing".into(),
                        outcome: Err(e),
                    }),
                }
            }
        }
        out
    }
}

impl Api for Icinga2 {
    async fn register(&self, targets: &[Target], complete: bool) -> Vec<Registered> {
        let password = match self.password() {
            Ok(p) => p,
            Err(e) => {
                let text = e.to_string();
                return targets
                    .iter()
                    .map(|t| Registered {
                        target: t.id.clone(),
                        what: t.name.clone(),
                        outcome: Err(DeliveryError::Transient(anyhow::anyhow!("{text}"))),
                    })
                    .collect();
            }
        };
        let (mut outcomes, wanted, hosts) = self.ensure_all(targets, &password).await;
        if complete && outcomes.iter().all(|o| o.outcome.is_ok()) {
            outcomes.extend(self.prune(&password, &wanted, &hosts).await);
        }
        outcomes
    }

    async fn deliver(
        &self,
        result: &CheckResult,
        target: Option<&Target>,
    ) -> Result<(), DeliveryError> {
        let password = self.password()?;
        let answer = self
            .conn
            .process_check_result(&password, result, &self.owner)
            .await?;
        if answer.status != 404 {
            return outcome(
                answer,
                &format!("delivering the result for {} to Icinga2", result.target),
            );
        }
        // 404: the service does not exist (yet). A configured target is registered now, and
        // the result sent once more; a result for a target no longer configured is refused.
        let Some(target) = target else {
            return Err(DeliveryError::Rejected(answer.error(&format!(
                "delivering the result for {}: no such service in Icinga2, and the target is no longer configured",
                result.target
            ))));
        };
        let (registered, _, _) = self
            .ensure_all(std::slice::from_ref(target), &password)
            .await;
        if let Some(Err(e)) = registered
            .into_iter()
            .map(|r| r.outcome)
            .find(Result::is_err)
        {
            return Err(e);
        }
        let answer = self
            .conn
            .process_check_result(&password, result, &self.owner)
            .await?;
        outcome(
            answer,
            &format!("delivering the result for {} to Icinga2", result.target),
        )
    }

    fn check_access(&self, _target: Option<&Target>) -> Result<(), SecretError> {
        self.password.read().map(drop)
    }
}

/// The base URL to send to, and where to connect when the certificate's name (`serverName`)
/// differs from the URL's host: the requests name the certificate's host, which is resolved to
/// the URL's address, so verification checks the right name and never gets weaker.
fn endpoint(s: &Icinga2Settings) -> anyhow::Result<(String, Option<(String, SocketAddr)>)> {
    let url = s.url.trim_end_matches('/');
    let (scheme, rest) = url
        .split_once("://")
        .with_context(|| format!("icinga2.url {url:?} has no scheme"))?;
    let authority = rest.split('/').next().unwrap_or(rest);
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(':') && p.parse::<u16>().is_ok() => (h, p.parse::<u16>()?),
        _ => (authority, 5665),
    };
    let Some(name) = &s.server_name else {
        return Ok((format!("{scheme}://{authority}"), None));
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let addr = (host, port)
        .to_socket_addrs()
        .with_context(|| format!("could not resolve {host} from icinga2.url"))?
        .next()
        .with_context(|| format!("{host} from icinga2.url has no address"))?;
    Ok((
        format!("{scheme}://{name}:{port}"),
        Some((name.clone(), addr)),
    ))
}

/// This machine's name, the default owner mark.
fn machine_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "nixcloud-monitoring".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(url: &str, server_name: Option<&str>) -> Icinga2Settings {
        Icinga2Settings {
            url: url.into(),
            user: "u".into(),
            password_file: "/p".into(),
            ca_file: None,
            server_name: server_name.map(str::to_string),
            owner: None,
        }
    }

    #[test]
    fn server_name_is_what_the_requests_name_and_verify() {
        let (base, resolve) = endpoint(&settings("https://127.0.0.1:5665/", Some("vm"))).unwrap();
        assert_eq!(base, "https://vm:5665");
        assert_eq!(
            resolve,
            Some(("vm".to_string(), "127.0.0.1:5665".parse().unwrap()))
        );
    }

    #[test]
    fn without_server_name_the_url_is_used_as_is() {
        let (base, resolve) = endpoint(&settings("https://icinga.example.org:5665", None)).unwrap();
        assert_eq!(
            (base.as_str(), resolve),
            ("https://icinga.example.org:5665", None)
        );
    }
}
