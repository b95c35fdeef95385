//! The Icinga2 REST calls the backend makes: create-or-update, update, query, delete,
//! reschedule, and process-check-result. Every call sends `Accept: application/json` (Icinga2
//! answers 400 to PUT, POST and DELETE without it) and basic auth, to the endpoint in use of
//! `icinga2.url`, moving on to the next one when it fails (see [`Pool`]).

use super::{perfdata, Endpoint};
use crate::http::{self, ClientOptions};
use crate::result::CheckResult;
use crate::retry::{classify, Class, DeliveryError};
use reqwest::Method;
use serde_json::{json, Map, Value};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::OnceCell;

/// What [`Conn::ensure`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ensured {
    Created,
    Updated,
    /// It exists without an owner mark: made by the Icinga2 admin, left as it is.
    Foreign,
}

/// What each request needs; cheap to clone into concurrent tasks (the endpoints and which one
/// is in use are shared).
#[derive(Clone)]
pub(super) struct Conn {
    pub pool: Arc<Pool>,
    pub user: String,
}

/// The endpoints of `icinga2.url` (a zone's masters, or a satellite zone's endpoints), each
/// with its client built at first use, and the one in use. A request goes to the one in use;
/// when it cannot connect, times out or answers 5xx (but for Icinga2's own "already exists"),
/// the same request goes to the next, round robin, and the first that answers is used from
/// then on. A 4xx is the server's word and final. The endpoint in use is kept in the state
/// directory (`icinga2-endpoint`), so that the next process starts there: each `submit` is a
/// process of its own, and without it every one would wait for a silent first endpoint's
/// timeout again.
pub(super) struct Pool {
    nodes: Vec<Node>,
    current: AtomicUsize,
    ca_file: Option<PathBuf>,
    timeout: Duration,
    /// Where the endpoint in use is remembered (`None` in tests of the pool alone).
    memo: Option<PathBuf>,
}

struct Node {
    endpoint: Endpoint,
    /// Built at first use: resolving the URL's host (with `serverName`) may fail for a while,
    /// and that must keep results queued rather than fail the command before it queues.
    client: OnceCell<reqwest::Client>,
}

impl Pool {
    pub fn new(
        endpoints: Vec<Endpoint>,
        ca_file: Option<PathBuf>,
        timeout: Duration,
        memo: Option<PathBuf>,
    ) -> Pool {
        // The endpoint an earlier process moved to, if it is still among the configured ones.
        let remembered = memo
            .as_ref()
            .and_then(|path| std::fs::read_to_string(path).ok())
            .and_then(|base| endpoints.iter().position(|e| e.base == base.trim()));
        Pool {
            nodes: endpoints
                .into_iter()
                .map(|endpoint| Node {
                    endpoint,
                    client: OnceCell::new(),
                })
                .collect(),
            current: AtomicUsize::new(remembered.unwrap_or(0)),
            ca_file,
            timeout,
            memo,
        }
    }

    async fn client(&self, node: &Node) -> Result<reqwest::Client, DeliveryError> {
        node.client
            .get_or_try_init(|| async {
                let e = &node.endpoint;
                let resolve = match &e.server_name {
                    None => None,
                    Some(name) => Some((name.as_str(), e.address().await?)),
                };
                http::client(&ClientOptions {
                    base_url: &e.base,
                    timeout: self.timeout,
                    ca_file: self.ca_file.as_deref(),
                    resolve,
                })
            })
            .await
            .cloned()
            .map_err(|e: anyhow::Error| {
                DeliveryError::Transient(anyhow::anyhow!(
                    "Icinga2 API {}: {e:#}",
                    node.endpoint.base
                ))
            })
    }

    /// Records that `to` answered after `from` failed (`why`); said once per move, even when
    /// concurrent requests found it at the same time.
    fn moved(&self, from: usize, to: usize, why: &str) {
        if self
            .current
            .compare_exchange(from, to, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            let to = &self.nodes[to].endpoint.base;
            tracing::warn!(
                "Icinga2: moved from {} to {to}: {why}",
                self.nodes[from].endpoint.base,
            );
            // Best effort: a group member cannot write the state directory, and the next
            // process then only starts at the first endpoint again.
            if let Some(path) = &self.memo {
                if let Err(e) = crate::state::write_atomic(path, to.as_bytes(), false) {
                    tracing::debug!("could not remember the Icinga2 endpoint: {e:#}");
                }
            }
        }
    }
}

/// Whether an answer means "this endpoint cannot serve now, ask the next": a 5xx, except the
/// 500 with which Icinga2 answers a PUT of an object that exists (every node would say so).
fn moves_on(answer: &http::Answer) -> bool {
    answer.status >= 500 && !(answer.status == 500 && answer.body.contains("already exists"))
}

impl Conn {
    /// Sends `method path` (with a JSON `body`) to the endpoint in use, and on to the next
    /// ones while they fail (see [`Pool`]). With one endpoint: one request, as always. What
    /// the last endpoint said (answer or error) when none answered.
    async fn call(
        &self,
        password: &str,
        method: Method,
        path: &str,
        body: Option<String>,
        doing: &str,
    ) -> Result<http::Answer, DeliveryError> {
        let pool = &*self.pool;
        let n = pool.nodes.len();
        let first = pool.current.load(Ordering::SeqCst);
        let mut why = String::new();
        let mut last = None;
        for i in 0..n {
            let at = (first + i) % n;
            let node = &pool.nodes[at];
            let sent = match pool.client(node).await {
                Ok(client) => {
                    let mut request = client
                        .request(method.clone(), format!("{}{path}", node.endpoint.base))
                        .basic_auth(&self.user, Some(password))
                        // Icinga2 answers 400 to PUT, POST and DELETE without it.
                        .header("Accept", "application/json");
                    if let Some(body) = &body {
                        request = request
                            .header("Content-Type", "application/json")
                            .body(body.clone());
                    }
                    http::send_raw(request, doing).await
                }
                Err(e) => Err(e),
            };
            match &sent {
                Ok(answer) if !moves_on(answer) => {
                    if at != first {
                        pool.moved(first, at, &why);
                    }
                    return sent;
                }
                Ok(answer) => why = answer.error(doing).to_string(),
                Err(e) => why = e.to_string(),
            }
            if n > 1 {
                tracing::debug!("Icinga2 endpoint {} failed: {why}", node.endpoint.base);
            }
            last = Some(sent);
        }
        last.expect("at least one endpoint")
    }

    /// [`Conn::call`], and a 2xx answer's body, or the error its status means.
    async fn send(
        &self,
        password: &str,
        method: Method,
        path: &str,
        body: Option<String>,
        doing: &str,
    ) -> Result<String, DeliveryError> {
        let answer = self.call(password, method, path, body, doing).await?;
        outcome_of(&answer, doing)?;
        Ok(answer.body)
    }

    /// PUT creates; an existing object ("already exists", 500) is updated with POST instead,
    /// but only when it carries an owner mark (this agent's or another's): the POST filters on
    /// it, so an object the Icinga2 admin made (their own host `web1` with its address and
    /// vars) is never changed, and Icinga2 answers such a POST with no results.
    pub async fn ensure(
        &self,
        pw: &str,
        kind: &str,
        name: &str,
        attrs: Map<String, Value>,
        doing: &str,
    ) -> Result<Ensured, DeliveryError> {
        let created = self
            .call(
                pw,
                Method::PUT,
                &format!("/v1/objects/{kind}/{}", encode(name)),
                Some(json!({ "attrs": attrs }).to_string()),
                doing,
            )
            .await?;
        if !(created.status == 500 && created.body.contains("already exists")) {
            return outcome(created, doing).map(|()| Ensured::Created);
        }
        Ok(if self.update(pw, kind, name, attrs, doing).await? {
            Ensured::Updated
        } else {
            Ensured::Foreign
        })
    }

    /// Sets `attrs` on an existing object with POST, filtered on its name and on carrying an
    /// owner mark (any agent's). Whether an object matched: `false` when it does not exist or
    /// has no mark (the admin's), and then nothing was changed.
    pub async fn update(
        &self,
        pw: &str,
        kind: &str,
        name: &str,
        attrs: Map<String, Value>,
        doing: &str,
    ) -> Result<bool, DeliveryError> {
        let singular = kind.trim_end_matches('s');
        let body = json!({
            "filter": format!(
                "{singular}.__name == name && typeof({singular}.vars.nixcloud_monitoring_owner) == String"
            ),
            "filter_vars": { "name": name },
            "attrs": attrs,
        });
        let path = format!("/v1/objects/{kind}");
        let text = self
            .send(pw, Method::POST, &path, Some(body.to_string()), doing)
            .await?;
        Ok(serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|doc| doc["results"].as_array().map(|r| !r.is_empty()))
            .unwrap_or(false))
    }

    /// The objects of `kind` matching `filter` (an Icinga2 expression over `filter_vars`),
    /// with the attributes `attrs`: `(full name, attributes)`. A plain GET with the parameters
    /// as a JSON body (Icinga2 reads a GET's body), so it reads and never writes.
    pub async fn query(
        &self,
        pw: &str,
        kind: &str,
        filter: &str,
        filter_vars: Value,
        attrs: &[String],
    ) -> Result<Vec<(String, Map<String, Value>)>, DeliveryError> {
        let body = json!({ "filter": filter, "filter_vars": filter_vars, "attrs": attrs });
        let doing = format!("reading this agent's {kind} from Icinga2");
        let path = format!("/v1/objects/{kind}");
        let text = self
            .send(pw, Method::GET, &path, Some(body.to_string()), &doing)
            .await?;
        let doc: Value = serde_json::from_str(&text).map_err(|e| {
            DeliveryError::Transient(anyhow::anyhow!("{doing}: unexpected answer: {e}"))
        })?;
        let results = doc["results"].as_array().ok_or_else(|| {
            DeliveryError::Transient(anyhow::anyhow!("{doing}: unexpected answer: no results"))
        })?;
        Ok(results
            .iter()
            .filter_map(|r| {
                let name = r["name"].as_str()?.to_string();
                let attrs = r["attrs"].as_object().cloned().unwrap_or_default();
                Some((name, attrs))
            })
            .collect())
    }

    /// Moves a service's next check `seconds` ahead. A new passive service would otherwise run
    /// its stale-alarm check at once (Icinga2 checks new services soon), before any push.
    pub async fn postpone(
        &self,
        pw: &str,
        host: &str,
        service: &str,
        seconds: u64,
    ) -> Result<(), DeliveryError> {
        let next = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs()
            + seconds;
        let body = json!({ "next_check": next, "force": true });
        let path = format!(
            "/v1/actions/reschedule-check?service={}",
            encode(&format!("{host}!{service}"))
        );
        let doing = format!("scheduling the stale check of {host}!{service}");
        self.send(pw, Method::POST, &path, Some(body.to_string()), &doing)
            .await
            .map(drop)
    }

    /// Names of the objects of `kind` that carry this owner's mark.
    pub async fn owned(
        &self,
        pw: &str,
        kind: &str,
        owner: &str,
    ) -> Result<Vec<String>, DeliveryError> {
        let singular = kind.trim_end_matches('s');
        let filter = format!("{singular}.vars.nixcloud_monitoring_owner == owner");
        let found = self
            .query(
                pw,
                kind,
                &filter,
                json!({ "owner": owner }),
                &["__name".into()],
            )
            .await?;
        Ok(found.into_iter().map(|(name, _)| name).collect())
    }

    pub async fn delete(
        &self,
        pw: &str,
        kind: &str,
        name: &str,
        cascade: bool,
    ) -> Result<(), DeliveryError> {
        let query = if cascade { "?cascade=1" } else { "" };
        let path = format!("/v1/objects/{kind}/{}{query}", encode(name));
        let doing = format!("removing {name} from Icinga2");
        self.send(pw, Method::DELETE, &path, None, &doing)
            .await
            .map(drop)
    }

    pub async fn process_check_result(
        &self,
        pw: &str,
        r: &CheckResult,
        source: &str,
    ) -> Result<http::Answer, DeliveryError> {
        let end = r.measured_at_ms as f64 / 1000.0;
        let start = end - r.duration_ms.unwrap_or(0) as f64 / 1000.0;
        let body = json!({
            "exit_status": u8::from(r.state),
            "plugin_output": r.output,
            "performance_data": perfdata::convert(&r.perfdata),
            "check_source": source,
            "execution_start": start,
            "execution_end": end,
        });
        // With `?service=` an unknown service is a 404 (a filter matching nothing is a 500).
        let path = format!(
            "/v1/actions/process-check-result?service={}",
            encode(&format!("{}!{}", r.host, r.name))
        );
        let doing = format!("delivering the result for {}", r.target);
        self.call(pw, Method::POST, &path, Some(body.to_string()), &doing)
            .await
    }
}

pub(super) fn outcome(answer: http::Answer, doing: &str) -> Result<(), DeliveryError> {
    outcome_of(&answer, doing)
}

fn outcome_of(answer: &http::Answer, doing: &str) -> Result<(), DeliveryError> {
    match classify(answer.status) {
        Class::Success => Ok(()),
        Class::Transient => Err(DeliveryError::Transient(answer.error(doing))),
        Class::Rejected => Err(DeliveryError::Rejected(answer.error(doing))),
    }
}

/// Percent-encodes an object name for a URL path (`host!service`, spaces, slashes, …).
pub(super) fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{encode, moves_on};
    use crate::http::Answer;

    #[test]
    fn only_5xx_moves_on_and_not_an_existing_object() {
        let answer = |status: u16, body: &str| Answer {
            place: "PUT x".into(),
            status,
            body: body.into(),
            headers: Default::default(),
        };
        assert!(moves_on(&answer(503, "busy")));
        assert!(moves_on(&answer(502, "")));
        assert!(moves_on(&answer(500, "internal")));
        assert!(!moves_on(&answer(
            500,
            r#"{"error":500,"status":"Object 'h' already exists."}"#
        )));
        assert!(!moves_on(&answer(404, "")));
        assert!(!moves_on(&answer(401, "")));
        assert!(!moves_on(&answer(200, "")));
    }

    #[test]
    fn object_names_are_encoded_for_paths() {
        assert_eq!(encode("h!HTTP (IPv4)"), "h%21HTTP%20%28IPv4%29");
        assert_eq!(encode("https://hydra"), "https%3A%2F%2Fhydra");
    }
}
