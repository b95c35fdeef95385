//! The Icinga2 objects a target becomes: one host object per target host, one service per
//! target and address family, with the ITL check command and its variables.
//!
//! Every object carries `vars.nixcloud_monitoring_owner`, so `register` knows which objects it
//! may update and remove, and services carry `vars.nixcloud_monitoring_id` (the target id).
//! The variables always go as one whole `vars` dictionary: an update then replaces them all, so
//! a variable dropped from the config (a `contains` that was removed) is gone from Icinga2 too.
//!
//! Passive targets: Icinga2's freshness only works with active checks on (observed, see
//! docs/icinga2.md), so a passive service runs the `dummy` command every `timers.timeout`
//! minutes (for a calendar: its longest gap plus the grace) with state UNKNOWN and a text
//! naming the target. Every pushed result postpones that check by the same interval, so it
//! only fires after that long without a push. `max_check_attempts` is the target's
//! `failureThreshold`, for active services too (retried every [`ACTIVE_RETRY`] seconds while
//! SOFT).
//!
//! Variables are limited to what Icinga2 2.13's ITL and Debian 12's monitoring-plugins 2.3
//! accept: `dns_query_type` would make check_dns fail with a usage error, and the ITL `ssh`
//! command has no remote-version argument (see [`check`]).

use crate::checks::{ActiveCheck, CheckHydra, CheckSsh};
use crate::targets::{Family, Target, TargetKind};
use serde_json::{json, Map, Value};

/// Seconds between active checks Icinga2 runs for active targets.
const ACTIVE_INTERVAL: u64 = 300;
/// Seconds between retries of a failing active check.
const ACTIVE_RETRY: u64 = 60;
/// check_ssl_cert's own thresholds (days), used when `warningDays` is not set (1000).
const CERT_WARN_DEFAULT: i64 = 20;
const CERT_CRIT_DEFAULT: i64 = 15;

/// One service object to create: its name and attributes.
#[derive(Debug, Clone, PartialEq)]
pub struct Service {
    pub host: String,
    pub name: String,
    pub attrs: Map<String, Value>,
}

impl Service {
    /// For passive services, the seconds of silence before the stale alarm.
    pub fn allowed_silence(&self) -> Option<u64> {
        (self.attrs.get("check_command") == Some(&json!("dummy")))
            .then(|| self.attrs["check_interval"].as_u64())
            .flatten()
    }

    /// `host!service`, the object's full name.
    pub fn full_name(&self) -> String {
        format!("{}!{}", self.host, self.name)
    }
}

/// The host object's attributes. Hosts are always UP (`dummy`): the services say what is wrong,
/// and no host check leaves the Icinga2 server.
///
/// No `address`: every service carries its own address in its variables, and Icinga2's stock
/// `conf.d/services.conf` applies `ping4` to every host with an `address` (`ping6` with
/// `address6`, `ssh` on Linux hosts). Those extra services would ping from the Icinga2 server
/// and keep an unconfigured host from being removed. Empty strings clear addresses an earlier
/// version set.
pub fn host_attrs(host: &str, owner: &str) -> Map<String, Value> {
    into_map(json!({
        "address": "",
        "address6": "",
        "display_name": display_name(host),
        "check_command": "dummy",
        "check_interval": 3600,
        "enable_active_checks": true,
        "vars": {
            "dummy_state": 0,
            "dummy_text": "host object kept by nixcloud-monitoring",
            "nixcloud_monitoring_owner": owner,
        },
    }))
}

/// The services for a target (one per family for active targets, one for passive ones).
pub fn services(target: &Target, owner: &str) -> Vec<Service> {
    match &target.kind {
        TargetKind::Passive(p) => {
            let silence = p.timeout_minutes * 60;
            let why = match &p.calendar {
                Some(c) => format!(
                    "its calendar {} runs at most {} minutes apart, plus timers.grace",
                    c.normalized.join("; "),
                    p.check_minutes
                ),
                None => "timers.timeout".to_string(),
            };
            let vars = into_map(json!({
                "dummy_state": 3,
                "dummy_text": format!(
                    "STALE: no result from {} for {} minutes ({why}); is its script or sender still running?",
                    target.id, p.timeout_minutes
                ),
            }));
            // failureThreshold is Icinga2's own count: the first non-OK results are SOFT
            // states (no notification), the threshold-th makes the state HARD. The retry
            // interval stays the silence: after a SOFT result Icinga2 schedules the next
            // (stale) check by it, and a shorter one would call a target stale that is not.
            let attrs = json!({
                "check_command": "dummy",
                "enable_active_checks": true,
                "enable_passive_checks": true,
                "check_interval": silence,
                "retry_interval": silence,
                "max_check_attempts": target.failure_threshold,
            });
            vec![Service {
                host: target.host.clone(),
                name: target.name.clone(),
                attrs: with_vars(attrs, vars, target, owner),
            }]
        }
        TargetKind::Active(check) => target
            .families()
            .into_iter()
            .map(|family| {
                let (command, vars) = self::check(check, &target.host, family);
                let attrs = json!({
                    "check_command": command,
                    "enable_active_checks": true,
                    "enable_passive_checks": false,
                    "check_interval": ACTIVE_INTERVAL,
                    "retry_interval": ACTIVE_RETRY,
                    "max_check_attempts": target.failure_threshold,
                });
                Service {
                    host: target.host.clone(),
                    name: format!("{} ({})", target.name, family.label()),
                    attrs: with_vars(attrs, vars, target, owner),
                }
            })
            .collect(),
    }
}

/// `attrs` plus the whole `vars` dictionary: the check's variables and the owner mark.
fn with_vars(
    attrs: Value,
    mut vars: Map<String, Value>,
    target: &Target,
    owner: &str,
) -> Map<String, Value> {
    // Unset optional variables are left out rather than sent as null.
    vars.retain(|_, v| !v.is_null());
    vars.insert("nixcloud_monitoring_owner".into(), json!(owner));
    vars.insert("nixcloud_monitoring_id".into(), json!(target.id));
    vars.insert("nixcloud_monitoring_tags".into(), json!(target.tags));
    let mut attrs = into_map(attrs);
    attrs.insert("vars".into(), Value::Object(vars));
    attrs
}

/// The ITL command and its variables for an active check.
pub fn check(
    check: &ActiveCheck,
    host: &str,
    family: Family,
) -> (&'static str, Map<String, Value>) {
    let (v4, v6) = (family == Family::V4, family == Family::V6);
    let (command, vars) = match check {
        // The original ran `check_http -H host -p port -u url -s contains -f follow`.
        ActiveCheck::Http(c) => (
            "http",
            json!({
                "http_address": host, "http_vhost": host, "http_port": c.port,
                "http_uri": if c.url.is_empty() { "/" } else { &c.url },
                "http_string": non_empty(&c.contains),
                "http_onredirect": "follow",
                "http_ipv4": v4, "http_ipv6": v6,
            }),
        ),
        // check_http in certificate mode (`-C warn,crit`): days left, per address family,
        // without check_ssl_cert's OCSP and CRL fetches.
        ActiveCheck::SslCert(c) => (
            "http",
            json!({
                "http_address": host, "http_vhost": host, "http_port": c.port,
                "http_ssl": true, "http_sni": true,
                "http_certificate": certificate_days(c.warning_days),
                "http_timeout": c.timeout,
                "http_ipv4": v4, "http_ipv6": v6,
            }),
        ),
        // check_dns 2.3 has no `-q` (record type): both families' services run the same
        // lookup; `expected-address` goes to `-a` as given, as the original's check_dns got it.
        ActiveCheck::Dns(c) => (
            "dns",
            json!({
                "dns_lookup": host,
                "dns_server": non_empty(&c.server),
                "dns_expected_answers": non_empty(&c.expected_address),
                "dns_authoritative": !c.expect_authority.is_empty(),
                "dns_timeout": c.timeout,
            }),
        ),
        ActiveCheck::Ping(c) => {
            let (wrta, wpl) = split_threshold(&c.warning);
            let (crta, cpl) = split_threshold(&c.critical);
            (
                if v4 { "ping4" } else { "ping6" },
                json!({
                    "ping_address": host,
                    "ping_wrta": wrta, "ping_wpl": wpl,
                    "ping_crta": crta, "ping_cpl": cpl,
                    "ping_timeout": c.timeout,
                }),
            )
        }
        ActiveCheck::Smtp(c) => (
            "smtp",
            json!({
                "smtp_address": host, "smtp_port": c.port,
                "smtp_starttls": c.starttls,
                "smtp_certificate_age": if c.certificate == 1000 { Value::Null } else { json!(c.certificate.to_string()) },
                "smtp_timeout": c.timeout,
                "smtp_ipv4": v4, "smtp_ipv6": v6,
            }),
        ),
        ActiveCheck::Ssh(c) => ssh(c, host, v4, v6),
        ActiveCheck::Hydra(c) => hydra(c, host, v4, v6),
    };
    (command, into_map(vars))
}

/// `ssh`, or `tcp` expecting the banner when `remoteVersion` is set: the ITL `ssh` command of
/// Icinga2 2.13 has no remote-version argument. check_ssh `-r` wants the whole text after
/// `SSH-2.0-` up to the line end (`OpenSSH_9.2p1 Debian-2`); check_tcp finds `-<version>` at
/// the line end in the banner, and a mismatch is CRITICAL, as with check_ssh.
fn ssh(c: &CheckSsh, host: &str, v4: bool, v6: bool) -> (&'static str, Value) {
    if c.remote_version.is_empty() {
        return (
            "ssh",
            json!({
                "ssh_address": host, "ssh_port": c.port, "ssh_timeout": c.timeout,
                "ssh_ipv4": v4, "ssh_ipv6": v6,
            }),
        );
    }
    let v = &c.remote_version;
    (
        "tcp",
        json!({
            "tcp_address": host, "tcp_port": c.port, "tcp_timeout": c.timeout,
            "tcp_expect": [format!("-{v}\r"), format!("-{v}\n")],
            "tcp_mismatch": "crit",
            "tcp_ipv4": v4, "tcp_ipv6": v6,
        }),
    )
}

/// Hydra has no ITL command: check_http asks Hydra's JSON API for the jobset
/// (`GET <url>/jobset/<project>/<jobset>`, `Accept: application/json`). CRITICAL when the
/// jobset is missing (404) or Hydra reports an evaluation or fetch error for it (a non-empty
/// `errormsg` / `fetcherrormsg`); whether the builds themselves succeed is not checked.
fn hydra(c: &CheckHydra, host: &str, v4: bool, v6: bool) -> (&'static str, Value) {
    let u = HydraUrl::parse(host);
    (
        "http",
        json!({
            "http_address": u.host, "http_vhost": u.host, "http_port": u.port,
            "http_ssl": u.https, "http_sni": u.https,
            "http_uri": format!("{}/jobset/{}/{}", u.prefix, c.project, c.jobset),
            "http_header": "Accept: application/json",
            "http_expect_body_regex": "\"(fetch)?errormsg\"[[:space:]]*:[[:space:]]*\"[^\"]",
            "http_invertregex": true,
            "http_onredirect": "follow",
            "http_ipv4": v4, "http_ipv6": v6,
        }),
    )
}

/// A Hydra URL's parts; `https://` is assumed when the scheme is missing.
#[derive(Debug, PartialEq)]
struct HydraUrl {
    https: bool,
    host: String,
    port: u16,
    /// Path before `/jobset/…`, without a trailing `/` (Hydra behind a path prefix).
    prefix: String,
}

impl HydraUrl {
    fn parse(text: &str) -> HydraUrl {
        let with_scheme = if text.contains("://") {
            text.to_string()
        } else {
            format!("https://{text}")
        };
        match reqwest::Url::parse(&with_scheme) {
            Ok(url) => HydraUrl {
                https: url.scheme() != "http",
                host: url
                    .host_str()
                    .unwrap_or(text)
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .to_string(),
                port: url.port_or_known_default().unwrap_or(443),
                prefix: url.path().trim_end_matches('/').to_string(),
            },
            // Not a URL: check_http then says what is wrong with the host.
            Err(_) => HydraUrl {
                https: true,
                host: text.to_string(),
                port: 443,
                prefix: String::new(),
            },
        }
    }
}

/// A host object's display name: the host itself, or a Hydra URL's host part.
fn display_name(host: &str) -> String {
    if host.contains("://") {
        HydraUrl::parse(host).host
    } else {
        host.to_string()
    }
}

/// `warningDays` (1000 = not set) as check_http's `-C warn,crit`; unset, check_ssl_cert's own
/// defaults (20 and 15 days), which the original's server applied.
fn certificate_days(warning_days: i64) -> String {
    if warning_days == 1000 {
        format!("{CERT_WARN_DEFAULT},{CERT_CRIT_DEFAULT}")
    } else {
        format!("{},{}", warning_days, warning_days.min(CERT_CRIT_DEFAULT))
    }
}

/// `"10,2%"` → (10, 2): round-trip milliseconds and loss percent.
fn split_threshold(spec: &str) -> (Value, Value) {
    let (rta, pl) = spec.split_once(',').unwrap_or((spec, ""));
    let num = |s: &str| {
        s.trim()
            .trim_end_matches('%')
            .parse::<f64>()
            .map(|f| json!(f))
            .unwrap_or(Value::Null)
    };
    (num(rta), num(pl))
}

fn non_empty(s: &str) -> Value {
    if s.is_empty() {
        Value::Null
    } else {
        json!(s)
    }
}

fn into_map(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => unreachable!("object literals are objects"),
    }
}

#[cfg(test)]
mod tests;
