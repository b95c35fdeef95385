//! The Icinga2 REST calls the backend makes: create-or-update, update, query, delete,
//! reschedule, and process-check-result. Every call sends `Accept: application/json` (Icinga2
//! answers 400 to PUT, POST and DELETE without it) and basic auth.

use super::perfdata;
use crate::http;
use crate::result::CheckResult;
use crate::retry::{classify, Class, DeliveryError};
use reqwest::Method;
use serde_json::{json, Map, Value};

/// What [`Conn::ensure`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ensured {
    Created,
    Updated,
    /// It exists without an owner mark: made by the Icinga2 admin, left as it is.
    Foreign,
}

/// What each request needs; cheap to clone into concurrent tasks.
#[derive(Clone)]
pub(super) struct Conn {
    pub client: reqwest::Client,
    pub base: String,
    pub user: String,
}

impl Conn {
    fn request(&self, password: &str, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.base))
            .basic_auth(&self.user, Some(password))
            // Icinga2 answers 400 to PUT, POST and DELETE without it.
            .header("Accept", "application/json")
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
        let put = self
            .request(
                pw,
                Method::PUT,
                &format!("/v1/objects/{kind}/{}", encode(name)),
            )
            .header("Content-Type", "application/json")
            .body(json!({ "attrs": attrs }).to_string());
        let created = http::send_raw(put, doing).await?;
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
        let post = self
            .request(pw, Method::POST, &format!("/v1/objects/{kind}"))
            .header("Content-Type", "application/json")
            .body(body.to_string());
        let text = http::send(post, doing).await?;
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
        let request = self
            .request(pw, Method::GET, &format!("/v1/objects/{kind}"))
            .header("Content-Type", "application/json")
            .body(body.to_string());
        let doing = format!("reading this agent's {kind} from Icinga2");
        let text = http::send(request, &doing).await?;
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
        let request = self
            .request(pw, Method::POST, &path)
            .header("Content-Type", "application/json")
            .body(body.to_string());
        http::send(
            request,
            &format!("scheduling the stale check of {host}!{service}"),
        )
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
        http::send(
            self.request(pw, Method::DELETE, &path),
            &format!("removing {name} from Icinga2"),
        )
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
        let request = self
            // With `?service=` an unknown service is a 404 (a filter matching nothing is a 500).
            .request(
                pw,
                Method::POST,
                &format!(
                    "/v1/actions/process-check-result?service={}",
                    encode(&format!("{}!{}", r.host, r.name))
                ),
            )
            .header("Content-Type", "application/json")
            .body(body.to_string());
        http::send_raw(request, &format!("delivering the result for {}", r.target)).await
    }
}

pub(super) fn outcome(answer: http::Answer, doing: &str) -> Result<(), DeliveryError> {
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
    use super::encode;

    #[test]
    fn object_names_are_encoded_for_paths() {
        assert_eq!(encode("h!HTTP (IPv4)"), "h%21HTTP%20%28IPv4%29");
        assert_eq!(encode("https://hydra"), "https%3A%2F%2Fhydra");
    }
}
