//! The Icinga2 objects a target becomes: one host object per target host, one service per
//! target and address family, with the ITL check command and its variables.
//!
//! Every object carries `vars.nixcloud_monitoring_owner`, so `register` knows which objects it
//! may update and remove, and services carry `vars.nixcloud_monitoring_id` (the target id).
//!
//! Passive targets: Icinga2's freshness only works with active checks on (observed, see
//! shared/spec/icinga2-on-debian.md), so a passive service runs the `dummy` command every
//! `timers.timeout` minutes with state UNKNOWN and a text naming the target. Every pushed result
//! postpones that check by the same interval, so it only fires after `timers.timeout` minutes
//! without a push.

use crate::checks::ActiveCheck;
use crate::targets::{Family, Target, TargetKind};
use serde_json::{json, Map, Value};

/// Seconds between active checks Icinga2 runs for active targets.
const ACTIVE_INTERVAL: u64 = 300;
/// Seconds between retries of a failing active check.
const ACTIVE_RETRY: u64 = 60;

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
/// and no host check leaves the machine.
pub fn host_attrs(host: &str, owner: &str) -> Map<String, Value> {
    let attrs = json!({
        "address": address_of(host),
        "check_command": "dummy",
        "check_interval": 3600,
        "vars.dummy_state": 0,
        "vars.dummy_text": "host object kept by nixcloud-monitoring",
        "vars.nixcloud_monitoring_owner": owner,
    });
    into_map(attrs)
}

/// The services for a target (one per family for active targets, one for passive ones).
pub fn services(target: &Target, owner: &str) -> Vec<Service> {
    match &target.kind {
        TargetKind::Passive(p) => {
            let mut attrs = into_map(json!({
                "check_command": "dummy",
                "enable_active_checks": true,
                "enable_passive_checks": true,
                "check_interval": p.timeout_minutes * 60,
                "retry_interval": p.timeout_minutes * 60,
                "max_check_attempts": 1,
                "vars.dummy_state": 3,
                "vars.dummy_text": format!(
                    "STALE: no result from {} for {} minutes (timers.timeout); is its script or sender still running?",
                    target.id, p.timeout_minutes
                ),
            }));
            mark(&mut attrs, target, owner);
            vec![Service {
                host: target.host.clone(),
                name: target.name.clone(),
                attrs,
            }]
        }
        TargetKind::Active(check) => target
            .families()
            .into_iter()
            .map(|family| {
                let mut attrs = check_attrs(check, &target.host, family);
                attrs.insert("check_interval".into(), json!(ACTIVE_INTERVAL));
                attrs.insert("retry_interval".into(), json!(ACTIVE_RETRY));
                attrs.insert("enable_active_checks".into(), json!(true));
                mark(&mut attrs, target, owner);
                let name = format!("{} ({})", target.name, family.label());
                Service {
                    host: target.host.clone(),
                    name,
                    attrs,
                }
            })
            .collect(),
    }
}

fn mark(attrs: &mut Map<String, Value>, target: &Target, owner: &str) {
    attrs.insert("vars.nixcloud_monitoring_owner".into(), json!(owner));
    attrs.insert("vars.nixcloud_monitoring_id".into(), json!(target.id));
    attrs.insert("vars.nixcloud_monitoring_tags".into(), json!(target.tags));
}

/// The ITL command and its variables for an active check.
fn check_attrs(check: &ActiveCheck, host: &str, family: Family) -> Map<String, Value> {
    let (v4, v6) = (family == Family::V4, family == Family::V6);
    let attrs = match check {
        ActiveCheck::Http(c) => json!({
            "check_command": "http",
            "vars.http_address": host, "vars.http_vhost": host, "vars.http_port": c.port,
            "vars.http_uri": if c.url.is_empty() { "/" } else { &c.url },
            "vars.http_string": non_empty(&c.contains),
            "vars.http_ipv4": v4, "vars.http_ipv6": v6,
        }),
        // The http command in certificate mode: days left, per address family.
        ActiveCheck::SslCert(c) => json!({
            "check_command": "http",
            "vars.http_address": host, "vars.http_vhost": host, "vars.http_port": c.port,
            "vars.http_ssl": true, "vars.http_sni": true,
            "vars.http_certificate": certificate_days(c.warning_days),
            "vars.http_timeout": c.timeout,
            "vars.http_ipv4": v4, "vars.http_ipv6": v6,
        }),
        ActiveCheck::Dns(c) => json!({
            "check_command": "dns",
            "vars.dns_lookup": host,
            "vars.dns_server": non_empty(&c.server),
            "vars.dns_expected_answers": non_empty(&c.expected_address),
            "vars.dns_authoritative": !c.expect_authority.is_empty(),
            "vars.dns_query_type": if v4 { "A" } else { "AAAA" },
            "vars.dns_timeout": c.timeout,
        }),
        ActiveCheck::Ping(c) => {
            let (wrta, wpl) = split_threshold(&c.warning);
            let (crta, cpl) = split_threshold(&c.critical);
            json!({
                "check_command": if v4 { "ping4" } else { "ping6" },
                "vars.ping_address": host,
                "vars.ping_wrta": wrta, "vars.ping_wpl": wpl,
                "vars.ping_crta": crta, "vars.ping_cpl": cpl,
                "vars.ping_timeout": c.timeout,
            })
        }
        ActiveCheck::Smtp(c) => json!({
            "check_command": "smtp",
            "vars.smtp_address": host, "vars.smtp_port": c.port,
            "vars.smtp_starttls": c.starttls,
            "vars.smtp_certificate_age": if c.certificate == 1000 { Value::Null } else { json!(c.certificate.to_string()) },
            "vars.smtp_timeout": c.timeout,
            "vars.smtp_ipv4": v4, "vars.smtp_ipv6": v6,
        }),
        ActiveCheck::Ssh(c) => json!({
            "check_command": "ssh",
            "vars.ssh_address": host, "vars.ssh_port": c.port,
            "vars.ssh_remote_version": non_empty(&c.remote_version),
            "vars.ssh_timeout": c.timeout,
            "vars.ssh_ipv4": v4, "vars.ssh_ipv6": v6,
        }),
        // Hydra has no ITL command: check that the jobset's page answers over HTTP(S). That
        // says Hydra and the jobset are there, not whether its builds succeed.
        ActiveCheck::Hydra(c) => {
            let (ssl, addr) = match host.split_once("://") {
                Some((scheme, rest)) => (scheme == "https", rest.trim_end_matches('/')),
                None => (true, host.trim_end_matches('/')),
            };
            json!({
                "check_command": "http",
                "vars.http_address": addr, "vars.http_vhost": addr,
                "vars.http_ssl": ssl, "vars.http_sni": ssl,
                "vars.http_uri": format!("/jobset/{}/{}", c.project, c.jobset),
                "vars.http_ipv4": v4, "vars.http_ipv6": v6,
            })
        }
    };
    let mut map = into_map(attrs);
    // Unset optional variables are left out rather than sent as null.
    map.retain(|_, v| !v.is_null());
    map
}

/// A host object's address: the host itself, or a Hydra URL's host part.
fn address_of(host: &str) -> &str {
    host.split_once("://")
        .map(|(_, rest)| rest.split(['/', ':']).next().unwrap_or(rest))
        .unwrap_or(host)
}

/// `warningDays` (1000 = not set) as check_http's `-C warn,crit`.
fn certificate_days(warning_days: i64) -> String {
    if warning_days == 1000 {
        "30,14".to_string()
    } else {
        format!("{},{}", warning_days, warning_days.min(14))
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
