//! The nixcloud API, wire-compatible with the original: `POST /api/services` to register,
//! `POST /api/services/results` for results, `Authorization: ApiKey <key>`. Unlike the
//! original, the key is never repeated inside the payload.
//!
//! Each result also carries `Idempotency-Key: <result id>` and `X-Measured-At` headers, so a
//! server can drop a result delivered twice (after a crash between its answer and our
//! bookkeeping) and date a result that waited in the queue. The JSON body stays the original's.

use super::{bounded, Api, Registered};
use crate::config::Config;
use crate::http::{self, ClientOptions};
use crate::result::CheckResult;
use crate::retry::{DeliveryError, RetryPolicy};
use crate::secrets::{KeySource, SecretError};
use crate::targets::{Family, Target, TargetKind};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// A connection to the nixcloud API.
pub struct Nixcloud {
    client: reqwest::Client,
    api_host: String,
    default_key: Option<KeySource>,
    target_keys: HashMap<String, KeySource>,
    concurrency: usize,
    retry: RetryPolicy,
}

impl Nixcloud {
    pub fn new(config: &Config) -> anyhow::Result<Nixcloud> {
        let client = http::client(&ClientOptions {
            base_url: &config.api_host,
            timeout: Duration::from_secs(config.delivery.timeout),
            ..Default::default()
        })?;
        let target_keys = config
            .targets
            .iter()
            .filter_map(|t| Some((t.id.clone(), t.key.clone()?)))
            .collect();
        Ok(Nixcloud {
            client,
            api_host: config.api_host.clone(),
            default_key: config.key.clone(),
            target_keys,
            concurrency: config.delivery.concurrency,
            retry: RetryPolicy::new(config.delivery.attempts),
        })
    }

    fn key_source(&self, target_id: &str) -> Result<&KeySource, SecretError> {
        self.target_keys.get(target_id).or(self.default_key.as_ref()).ok_or_else(|| {
            SecretError::Other(anyhow::anyhow!(
                "no API key for target {target_id}: set apiKeyFile (or apiKey) at the top level or on the target"
            ))
        })
    }

    fn key(&self, target_id: &str) -> Result<String, DeliveryError> {
        // A missing or unreadable key is fixed on this machine, not by the server: keep the
        // results queued (transient) so that they go out once the key is in place.
        self.key_source(target_id)
            .and_then(KeySource::read)
            .map_err(|e| DeliveryError::Transient(anyhow::anyhow!("{e}")))
    }
}

/// The registration bodies for one target: one per enabled family for active targets (the
/// name gets ` (IPv4)`/` (IPv6)` and the other family's flag is false), one for passive ones.
pub fn registration_bodies(target: &Target) -> Vec<(String, Value)> {
    match &target.kind {
        TargetKind::Active(check) => target
            .families()
            .into_iter()
            .map(|family| {
                let mut payload = check.to_json();
                let what = format!("{} ({})", target.name, family.label());
                payload.insert("name".into(), json!(what));
                payload.insert("public".into(), json!(target.public));
                payload.insert("ipv4".into(), json!(family == Family::V4));
                payload.insert("ipv6".into(), json!(family == Family::V6));
                let body = json!({
                    "command": { "hash": check.interface_hash(), "name": check.kind() },
                    "payload": payload,
                });
                (what, body)
            })
            .collect(),
        TargetKind::Passive(p) => {
            // The script stays on the machine; the server only needs the schedule.
            let body = json!({ "payload": {
                "host": target.host, "name": target.name, "public": target.public, "script": "",
                "tags": target.tags, "timers": { "check": p.check_minutes, "timeout": p.timeout_minutes },
            }});
            vec![(target.name.clone(), body)]
        }
    }
}

/// The result body, exactly the original's.
pub fn result_body(result: &CheckResult) -> Value {
    json!({
        "host": result.host, "name": result.name, "output": result.output,
        "perfdata": result.perfdata, "state": u8::from(result.state),
    })
}

impl Api for Nixcloud {
    async fn register(&self, targets: &[Target], _complete: bool) -> Vec<Registered> {
        struct Job {
            target: String,
            what: String,
            body: Vec<u8>,
            key: Result<String, String>,
        }
        let jobs: Vec<Job> = targets
            .iter()
            .flat_map(|t| {
                let key = self.key(&t.id).map_err(|e| e.to_string());
                registration_bodies(t)
                    .into_iter()
                    .map(move |(what, body)| Job {
                        target: t.id.clone(),
                        what,
                        body: body.to_string().into_bytes(),
                        key: key.clone(),
                    })
            })
            .collect();
        let url: Arc<str> = format!("{}/api/services", self.api_host).into();
        let client = self.client.clone();
        let retry = self.retry.clone();
        bounded(jobs, self.concurrency, move |job: Job| {
            let (client, url, retry) = (client.clone(), url.clone(), retry.clone());
            async move {
                let outcome = match &job.key {
                    Err(e) => Err(DeliveryError::Transient(anyhow::anyhow!("{e}"))),
                    Ok(key) => {
                        let doing = format!("registering {} ({})", job.target, job.what);
                        retry
                            .run(|| {
                                let request = client
                                    .post(&*url)
                                    .header("Authorization", format!("ApiKey {key}"))
                                    .header("Content-Type", "application/json")
                                    .body(job.body.clone());
                                let doing = &doing;
                                async move { http::send(request, doing).await.map(drop) }
                            })
                            .await
                    }
                };
                Registered {
                    target: job.target,
                    what: job.what,
                    outcome,
                }
            }
        })
        .await
    }

    async fn deliver(
        &self,
        result: &CheckResult,
        _target: Option<&Target>,
    ) -> Result<(), DeliveryError> {
        let key = self.key(&result.target)?;
        let request = self
            .client
            .post(format!("{}/api/services/results", self.api_host))
            .header("Authorization", format!("ApiKey {key}"))
            .header("Content-Type", "application/json")
            .header("Idempotency-Key", &result.id)
            .header(
                "X-Measured-At",
                humantime::format_rfc3339_millis(result.measured_at()).to_string(),
            )
            .body(result_body(result).to_string());
        http::send(
            request,
            &format!("delivering the result for {}", result.target),
        )
        .await
        .map(drop)
    }

    fn check_access(&self, target: Option<&Target>) -> Result<(), SecretError> {
        let id = target.map(|t| t.id.as_str()).unwrap_or("");
        self.key_source(id)?.read().map(drop)
    }
}
