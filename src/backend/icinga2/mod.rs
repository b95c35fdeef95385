//! The Icinga2 backend: the REST API (`/v1`, basic auth, TLS verified against the configured
//! CA and the certificate's name).
//!
//! `register` creates or updates one host object per target host and one service object per
//! target and family (see `objects`); with the whole config it also removes the services (and
//! then empty hosts) that carry this agent's owner mark but are no longer configured. It first
//! reads this owner's objects (two GETs) and writes only what is missing, differs or is gone
//! (see `diff`): an unchanged config makes no write at all. Results
//! go to `POST /v1/actions/process-check-result` with the real execution time.

mod api;
mod diff;
mod objects;
mod perfdata;

use api::{outcome, Conn, Ensured, Pool};
use diff::{Action, Current};

use super::{bounded, Api, Registered};
use crate::config::Config;
use crate::result::CheckResult;
use crate::retry::DeliveryError;
use crate::secrets::{KeySource, SecretError};
use crate::targets::Target;
use anyhow::Context;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// A connection to an Icinga2 API.
pub struct Icinga2 {
    /// The endpoints of `icinga2.url` and which one is in use, shared by every request.
    conn: Conn,
    password: KeySource,
    owner: String,
    concurrency: usize,
}

/// What [`Icinga2::ensure_all`] did: outcomes per service, the wanted service names (full
/// `host!service`) and host names.
type Registration = (Vec<Registered>, BTreeSet<String>, BTreeSet<String>);

/// A wanted host: its name and attributes.
type HostJob = (String, Map<String, Value>);
/// A wanted service: the target's id and the service.
type ServiceJob = (String, objects::Service);

impl Icinga2 {
    pub fn new(config: &Config) -> anyhow::Result<Icinga2> {
        let s = config
            .icinga2
            .as_ref()
            .context("backend = \"icinga2\" needs an [icinga2] table")?;
        let endpoints = s
            .urls
            .iter()
            .enumerate()
            .map(|(i, url)| Endpoint::parse(url, s.server_names.get(i).map(String::as_str)))
            .collect::<anyhow::Result<Vec<_>>>()?;
        // A bad CA file is a config error: say so now, not at the first request.
        if let Some(ca) = &s.ca_file {
            let pem = std::fs::read(ca)
                .with_context(|| format!("could not read icinga2.caFile {}", ca.display()))?;
            reqwest::Certificate::from_pem(&pem).with_context(|| {
                format!("icinga2.caFile {} is not a PEM certificate", ca.display())
            })?;
        }
        let timeout = Duration::from_secs(config.delivery.timeout);
        Ok(Icinga2 {
            conn: Conn {
                pool: Arc::new(Pool::new(
                    endpoints,
                    s.ca_file.clone(),
                    timeout,
                    Some(config.state_dir.join("icinga2-endpoint")),
                )),
                user: s.user.clone(),
            },
            password: s.password(),
            owner: s.owner.clone().unwrap_or_else(machine_name),
            concurrency: config.delivery.concurrency,
        })
    }

    /// The connection and the password, or why there is none (transient: fixed on this
    /// machine or by time, not by the server, so results stay queued). A client that cannot
    /// be built (the URL's host does not resolve) fails its requests the same way.
    async fn session(&self) -> Result<(Conn, String), DeliveryError> {
        let password = self
            .password
            .read()
            .map_err(|e| DeliveryError::Transient(anyhow::anyhow!("Icinga2 API password: {e}")))?;
        Ok((self.conn.clone(), password))
    }

    /// This owner's hosts and services as Icinga2 has them, with the attributes the agent
    /// sets (two GETs, side by side), plus the wanted hosts that exist under another mark or
    /// none (the admin's own host, used as it is). `hosts` and `services` are the wanted ones.
    async fn read(
        &self,
        conn: &Conn,
        password: &str,
        hosts: &[HostJob],
        services: &[ServiceJob],
    ) -> Result<Current, DeliveryError> {
        let host_attrs = diff::attr_names(hosts.iter().map(|(_, a)| a));
        let service_attrs = diff::attr_names(services.iter().map(|(_, s)| &s.attrs));
        let names: Map<String, Value> = hosts
            .iter()
            .map(|(h, _)| (h.clone(), Value::Bool(true)))
            .collect();
        let (found_hosts, found_services) = tokio::join!(
            conn.query(
                password,
                "hosts",
                "host.vars.nixcloud_monitoring_owner == owner || names.contains(host.name)",
                serde_json::json!({ "owner": self.owner, "names": names }),
                &host_attrs,
            ),
            conn.query(
                password,
                "services",
                "service.vars.nixcloud_monitoring_owner == owner",
                serde_json::json!({ "owner": self.owner }),
                &service_attrs,
            ),
        );
        // The filters are checked here too: an API behind a proxy that drops a GET's body
        // would answer with every object, and those must not be taken for this owner's.
        let owner = self.owner.as_str();
        Ok(Current {
            hosts: found_hosts?
                .into_iter()
                .filter(|(n, a)| diff::owner(a) == Some(owner) || names.contains_key(n))
                .collect(),
            services: found_services?
                .into_iter()
                .filter(|(_, a)| diff::owner(a) == Some(owner))
                .collect(),
        })
    }

    /// The wanted hosts and services of `targets`: `(name, attributes)` per host, `(target
    /// id, service)` per service.
    fn wanted(&self, targets: &[Target]) -> (Vec<HostJob>, Vec<ServiceJob>) {
        let hosts: BTreeSet<&String> = targets.iter().map(|t| &t.host).collect();
        let hosts = hosts
            .into_iter()
            .map(|h| (h.clone(), objects::host_attrs(h, &self.owner)))
            .collect();
        let services = targets
            .iter()
            .flat_map(|t| {
                objects::services(t, &self.owner)
                    .into_iter()
                    .map(|s| (t.id.clone(), s))
            })
            .collect();
        (hosts, services)
    }

    /// Creates or updates hosts and services for `targets`; outcomes per service. With
    /// `current` (what Icinga2 has), only what is missing or differs is written; without it,
    /// every object (PUT, then the filtered POST when it exists).
    async fn ensure_all(
        &self,
        conn: &Conn,
        targets: &[Target],
        password: &str,
        current: Option<&Current>,
    ) -> Registration {
        let (hosts, services) = self.wanted(targets);
        self.ensure_wanted(conn, password, hosts, services, current)
            .await
    }

    async fn ensure_wanted(
        &self,
        conn: &Conn,
        password: &str,
        hosts: Vec<HostJob>,
        services: Vec<ServiceJob>,
        current: Option<&Current>,
    ) -> Registration {
        let host_names: BTreeSet<String> = hosts.iter().map(|(h, _)| h.clone()).collect();
        let host_jobs: Vec<(String, Map<String, Value>, Action)> = hosts
            .into_iter()
            .map(|(h, attrs)| {
                let action = current.map_or(Action::Ensure, |c| c.host(&h, &attrs));
                (h, attrs, action)
            })
            .collect();
        let mut counts = Counts::default();
        counts.add(host_jobs.iter().map(|j| j.2));
        let (c, pw) = (conn.clone(), password.to_string());
        let host_outcomes = bounded(host_jobs, self.concurrency, move |(name, attrs, action)| {
            let (conn, pw) = (c.clone(), pw.clone());
            async move {
                let doing = format!("registering host {name} in Icinga2");
                // A host without an owner mark (the admin's own) is used as it is: the
                // services go onto it, the host stays theirs (never changed nor pruned).
                let outcome = write(&conn, &pw, "hosts", &name, attrs, action, &doing).await;
                (
                    name,
                    outcome
                        .map(drop)
                        .map_err(|e| (e.is_transient(), e.to_string())),
                )
            }
        })
        .await;
        let failed_hosts: BTreeMap<String, (bool, String)> = host_outcomes
            .into_iter()
            .filter_map(|(h, o)| o.err().map(|e| (h, e)))
            .collect();

        let wanted: BTreeSet<String> = services.iter().map(|(_, s)| s.full_name()).collect();
        let service_jobs: Vec<(String, objects::Service, Action)> = services
            .into_iter()
            .map(|(target, s)| {
                let action =
                    current.map_or(Action::Ensure, |c| c.service(&s.full_name(), &s.attrs));
                (target, s, action)
            })
            .collect();
        counts.add(service_jobs.iter().map(|j| j.2));
        let (c, pw) = (conn.clone(), password.to_string());
        let outcomes = bounded(
            service_jobs,
            self.concurrency,
            move |(target, service, action)| {
                let (conn, pw, failed) = (c.clone(), pw.clone(), failed_hosts.clone());
                async move {
                    let what = service.name.clone();
                    let outcome = match failed.get(&service.host) {
                        // The host's failure, with its class: a 401 stays a refusal.
                        Some((true, e)) => Err(DeliveryError::Transient(anyhow::anyhow!("{e}"))),
                        Some((false, e)) => Err(DeliveryError::Rejected(anyhow::anyhow!("{e}"))),
                        None => {
                            let doing = format!("registering {target} ({what}) in Icinga2");
                            let silence = service.allowed_silence();
                            let full_name = service.full_name();
                            let done = write(
                                &conn,
                                &pw,
                                "services",
                                &full_name,
                                service.attrs,
                                action,
                                &doing,
                            )
                            .await;
                            match (done, silence) {
                                (Ok(Some(Ensured::Created)), Some(seconds)) => {
                                    conn.postpone(&pw, &service.host, &service.name, seconds)
                                        .await
                                }
                                (Ok(Some(Ensured::Foreign)), _) => {
                                    Err(DeliveryError::Rejected(foreign(&full_name)))
                                }
                                (done, _) => done.map(drop),
                            }
                        }
                    };
                    Registered {
                        target,
                        what,
                        outcome,
                    }
                }
            },
        )
        .await;
        if current.is_some() {
            tracing::info!(
                "Icinga2: {} objects as wanted, {} differed (updated), {} not found (created)",
                counts.keep,
                counts.update,
                counts.ensure
            );
        }
        (outcomes, wanted, host_names)
    }

    /// Removes this agent's services (then hosts) that are not wanted any more.
    /// `current` is what the read before the writes found (listed anew without it).
    async fn prune(
        &self,
        conn: &Conn,
        password: &str,
        wanted: &BTreeSet<String>,
        hosts: &BTreeSet<String>,
        current: Option<&Current>,
    ) -> Vec<Registered> {
        let mut out = Vec::new();
        for (kind, keep) in [("services", wanted), ("hosts", hosts)] {
            let listed = match current {
                Some(c) => {
                    let objects = if kind == "services" {
                        &c.services
                    } else {
                        &c.hosts
                    };
                    Ok(Current::owned(objects, &self.owner).cloned().collect())
                }
                None => conn.owned(password, kind, &self.owner).await,
            };
            let owned = match listed {
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
            for name in stale(owned, keep) {
                // Services go with everything attached (their history); a host is only removed
                // when no service is left on it, so another agent's services survive.
                let cascade = kind == "services";
                match conn.delete(password, kind, &name, cascade).await {
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

/// Writes one object as `action` says; `None` when nothing was written.
async fn write(
    conn: &Conn,
    pw: &str,
    kind: &str,
    name: &str,
    attrs: Map<String, Value>,
    action: Action,
    doing: &str,
) -> Result<Option<Ensured>, DeliveryError> {
    match action {
        Action::Keep => return Ok(None),
        Action::Update => {
            if conn.update(pw, kind, name, attrs.clone(), doing).await? {
                return Ok(Some(Ensured::Updated));
            }
            // Gone, or its mark removed, since the read: as if it had not been there.
        }
        Action::Ensure => {}
    }
    conn.ensure(pw, kind, name, attrs, doing).await.map(Some)
}

/// How many objects took each action (for the log).
#[derive(Default)]
struct Counts {
    keep: usize,
    update: usize,
    ensure: usize,
}

impl Counts {
    fn add(&mut self, actions: impl Iterator<Item = Action>) {
        for a in actions {
            *match a {
                Action::Keep => &mut self.keep,
                Action::Update => &mut self.update,
                Action::Ensure => &mut self.ensure,
            } += 1;
        }
    }
}

/// Why a target's service cannot be registered: its name is taken by an object this agent
/// must not change.
fn foreign(full_name: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "registering {full_name} in Icinga2: a service of that name exists without \
         vars.nixcloud_monitoring_owner (made by hand or by Icinga2's own config) and is left \
         alone; rename the target or remove that service"
    )
}

/// The owned objects to remove: those not wanted any more.
fn stale(owned: Vec<String>, keep: &BTreeSet<String>) -> Vec<String> {
    owned.into_iter().filter(|n| !keep.contains(n)).collect()
}

impl Api for Icinga2 {
    async fn register(&self, targets: &[Target], complete: bool) -> Vec<Registered> {
        let (conn, password) = match self.session().await {
            Ok(s) => s,
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
        let (hosts, services) = self.wanted(targets);
        // What is there already, read once: only what is missing or differs is written. When
        // the read fails, every object is written as before the read existed: that is correct,
        // only slower, and a failure that also stops the writes (a wrong password, the server
        // down) is then reported per object with its own class, as before.
        let current = match self.read(&conn, &password, &hosts, &services).await {
            Ok(current) => Some(current),
            Err(e) => {
                tracing::warn!("{e}; writing every object instead");
                None
            }
        };
        let (mut outcomes, wanted, hosts) = self
            .ensure_wanted(&conn, &password, hosts, services, current.as_ref())
            .await;
        // Only with the whole config, and only when every target is in place: a partial
        // failure must not be read as "these are gone".
        if complete && outcomes.iter().all(|o| o.outcome.is_ok()) {
            outcomes.extend(
                self.prune(&conn, &password, &wanted, &hosts, current.as_ref())
                    .await,
            );
        }
        outcomes
    }

    async fn deliver(
        &self,
        result: &CheckResult,
        target: Option<&Target>,
    ) -> Result<(), DeliveryError> {
        let (conn, password) = self.session().await?;
        let doing = format!("delivering the result for {} to Icinga2", result.target);
        let answer = conn
            .process_check_result(&password, result, &self.owner)
            .await?;
        if answer.status != 404 {
            return outcome(answer, &doing);
        }
        // 404: the service does not exist (yet: a result pushed before the first `register`,
        // or the service was deleted in Icinga2). A configured target is registered now and
        // the result sent once more, so it is not lost; a result for a target that is no
        // longer configured is refused (moved aside), since registering it would bring back
        // an object the config removed.
        let Some(target) = target else {
            return Err(DeliveryError::Rejected(answer.error(&format!(
                "{doing}: no such service in Icinga2, and the target is no longer configured"
            ))));
        };
        let (registered, _, _) = self
            .ensure_all(&conn, std::slice::from_ref(target), &password, None)
            .await;
        if let Some(Err(e)) = registered
            .into_iter()
            .map(|r| r.outcome)
            .find(Result::is_err)
        {
            return Err(e);
        }
        let answer = conn
            .process_check_result(&password, result, &self.owner)
            .await?;
        outcome(answer, &doing)
    }

    fn check_access(&self, _target: Option<&Target>) -> Result<(), SecretError> {
        self.password.read().map(drop)
    }
}

/// Where the requests go.
#[derive(Debug, PartialEq)]
struct Endpoint {
    /// What the requests name: `scheme://host:port[/prefix]`, without `/v1`. With
    /// `serverName`, its host is that name, so TLS verifies the certificate's name.
    base: String,
    /// `serverName`, resolved to the URL's host instead of through DNS.
    server_name: Option<String>,
    /// The URL's host (brackets removed) and port: where to connect.
    host: String,
    port: u16,
}

impl Endpoint {
    fn parse(text: &str, server_name: Option<&str>) -> anyhow::Result<Endpoint> {
        let mut url = reqwest::Url::parse(text)
            .with_context(|| format!("icinga2.url {text:?} is not a URL"))?;
        anyhow::ensure!(
            matches!(url.scheme(), "https" | "http"),
            "icinga2.url {text:?} must start with https:// (or http:// behind a TLS proxy)"
        );
        anyhow::ensure!(
            url.query().is_none() && url.fragment().is_none() && url.username().is_empty(),
            "icinga2.url {text:?}: only scheme, host, port and a path prefix are allowed"
        );
        let host = url
            .host_str()
            .with_context(|| format!("icinga2.url {text:?} has no host"))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = url
            .port_or_known_default()
            .with_context(|| format!("icinga2.url {text:?} has no port"))?;
        // `https://icinga:5665/v1/` and `https://icinga:5665` mean the same API.
        let prefix = url.path().trim_end_matches('/').trim_end_matches("/v1");
        let prefix = prefix.trim_end_matches('/').to_string();
        url.set_path(&prefix);
        if let Some(name) = server_name {
            url.set_host(Some(name))
                .with_context(|| format!("icinga2.serverName {name:?} is not a host name"))?;
            url.set_port(Some(port))
                .map_err(|()| anyhow::anyhow!("icinga2.url {text:?} cannot take a port"))?;
        }
        Ok(Endpoint {
            base: url.as_str().trim_end_matches('/').to_string(),
            server_name: server_name.map(str::to_string),
            host,
            port,
        })
    }

    /// The address to connect to when the requests name `serverName`.
    async fn address(&self) -> anyhow::Result<SocketAddr> {
        if let Ok(ip) = self.host.parse::<IpAddr>() {
            return Ok(SocketAddr::new(ip, self.port));
        }
        tokio::net::lookup_host((self.host.as_str(), self.port))
            .await
            .with_context(|| format!("could not resolve {} from icinga2.url", self.host))?
            .next()
            .with_context(|| format!("{} from icinga2.url has no address", self.host))
    }
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

    fn parse(url: &str, name: Option<&str>) -> Endpoint {
        Endpoint::parse(url, name).unwrap()
    }

    #[test]
    fn server_name_is_what_the_requests_name_and_verify() {
        let e = parse("https://127.0.0.1:5665/", Some("vm"));
        assert_eq!(e.base, "https://vm:5665");
        assert_eq!((e.host.as_str(), e.port), ("127.0.0.1", 5665));
        assert_eq!(e.server_name.as_deref(), Some("vm"));
    }

    #[test]
    fn without_server_name_the_url_is_used_as_is() {
        let e = parse("https://icinga.example.org:5665", None);
        assert_eq!(e.base, "https://icinga.example.org:5665");
        assert_eq!(e.server_name, None);
    }

    #[test]
    fn the_port_defaults_by_scheme_and_a_path_prefix_stays() {
        // Behind a reverse proxy on 443 under /icinga; a trailing /v1 is the API itself.
        let e = parse("https://proxy.example.org/icinga/v1/", Some("master"));
        assert_eq!(e.base, "https://master/icinga");
        assert_eq!((e.host.as_str(), e.port), ("proxy.example.org", 443));
        assert_eq!(parse("https://i:5665/v1", None).base, "https://i:5665");
    }

    #[test]
    fn ipv6_urls_connect_to_the_bare_address() {
        let e = parse("https://[::1]:5665", Some("vm"));
        assert_eq!(
            (e.host.as_str(), e.base.as_str()),
            ("::1", "https://vm:5665")
        );
    }

    #[test]
    fn urls_that_cannot_be_an_api_base_are_refused() {
        for bad in [
            "127.0.0.1:5665",
            "ftp://x",
            "https://x:5665/?a=1",
            "https://u:p@x:5665",
        ] {
            assert!(Endpoint::parse(bad, None).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn an_ip_address_needs_no_lookup() {
        let e = parse("https://127.0.0.1:5665", Some("vm"));
        assert_eq!(
            e.address().await.unwrap(),
            "127.0.0.1:5665".parse().unwrap()
        );
    }

    #[test]
    fn prune_removes_only_owned_objects_that_are_not_wanted() {
        let keep: BTreeSet<String> = ["h!a".to_string(), "h!b".to_string()].into();
        let owned = vec!["h!a".to_string(), "h!gone".to_string(), "x!c".to_string()];
        assert_eq!(stale(owned, &keep), ["h!gone", "x!c"]);
        assert!(stale(Vec::new(), &keep).is_empty());
    }
}
