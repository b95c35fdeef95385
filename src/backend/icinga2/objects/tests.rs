use super::*;
use crate::config::Config;
use std::path::Path;

fn targets(toml: &str) -> Vec<Target> {
    Config::parse(Path::new("t.toml"), toml).unwrap().targets
}

/// The services of the first target in `toml`.
fn first(toml: &str) -> Vec<Service> {
    services(&targets(toml)[0], "me")
}

#[test]
fn http_becomes_one_service_per_family_with_the_itl_variables() {
    let s = first("[[targets.active.check_http]]\nhost = \"nixcloud.io\"\nurl = \"/main/en\"\ncontains = \"individual\"\n");
    assert_eq!(
        s.iter().map(Service::full_name).collect::<Vec<_>>(),
        ["nixcloud.io!HTTP (IPv4)", "nixcloud.io!HTTP (IPv6)"]
    );
    let a = &s[0].attrs;
    assert_eq!(a["check_command"], "http");
    assert_eq!(a["enable_active_checks"], true);
    assert_eq!(
        a["vars"],
        json!({
            "http_address": "nixcloud.io", "http_vhost": "nixcloud.io", "http_port": 80,
            "http_uri": "/main/en", "http_string": "individual", "http_onredirect": "follow",
            "http_ipv4": true, "http_ipv6": false,
            "nixcloud_monitoring_owner": "me", "nixcloud_monitoring_id": "nixcloud.io-HTTP",
            "nixcloud_monitoring_tags": [],
        })
    );
    assert_eq!(
        (
            &s[1].attrs["vars"]["http_ipv4"],
            &s[1].attrs["vars"]["http_ipv6"]
        ),
        (&json!(false), &json!(true))
    );
}

#[test]
fn unset_optional_variables_are_left_out_of_the_whole_vars_dictionary() {
    let s = first("[[targets.active.check_http]]\nhost = \"h\"\nipv6 = false\n");
    assert_eq!(s.len(), 1);
    // No dotted `vars.x` keys: an update replaces the dictionary, so dropped variables go.
    assert!(s[0].attrs.keys().all(|k| !k.starts_with("vars.")));
    let vars = s[0].attrs["vars"].as_object().unwrap();
    assert!(!vars.contains_key("http_string"));
    assert!(vars.values().all(|v| !v.is_null()));
    assert_eq!(vars["http_uri"], "/");
}

#[test]
fn ssl_cert_uses_certificate_mode_with_the_warning_days() {
    let ts = targets(
        "[[targets.active.check_ssl_cert]]\nhost = \"a\"\n[[targets.active.check_ssl_cert]]\nhost = \"b\"\nwarningDays = 10\n[[targets.active.check_ssl_cert]]\nhost = \"c\"\nwarningDays = 40\n",
    );
    let days = |i: usize| services(&ts[i], "me")[0].attrs["vars"]["http_certificate"].clone();
    assert_eq!(days(0), "20,15", "check_ssl_cert's defaults when not set");
    assert_eq!(days(1), "10,10");
    assert_eq!(days(2), "40,15");
    let b = &services(&ts[1], "me")[0].attrs["vars"];
    assert_eq!(
        (
            &b["http_ssl"],
            &b["http_sni"],
            &b["http_port"],
            &b["http_timeout"]
        ),
        (&json!(true), &json!(true), &json!(443), &json!(15))
    );
}

#[test]
fn ping_picks_the_family_command_and_splits_thresholds() {
    let s = first("[[targets.active.check_ping]]\nhost = \"h\"\n");
    assert_eq!(
        (&s[0].attrs["check_command"], &s[1].attrs["check_command"]),
        (&json!("ping4"), &json!("ping6"))
    );
    let v = &s[0].attrs["vars"];
    assert_eq!(
        [
            &v["ping_wrta"],
            &v["ping_wpl"],
            &v["ping_crta"],
            &v["ping_cpl"]
        ],
        [&json!(10.0), &json!(2.0), &json!(20.0), &json!(5.0)]
    );
    assert_eq!(v["ping_address"], "h");
}

#[test]
fn dns_has_no_query_type_that_check_dns_2_3_would_refuse() {
    let s = first("[[targets.active.check_dns]]\nhost = \"h\"\nserver = \"127.0.0.1\"\nexpected-address = \"1.2.3.4\"\nexpect-authority = \"yes\"\n");
    assert_eq!(s.len(), 2);
    for service in &s {
        let v = service.attrs["vars"].as_object().unwrap();
        assert_eq!(service.attrs["check_command"], "dns");
        assert!(!v.contains_key("dns_query_type"));
        assert_eq!(
            (
                &v["dns_lookup"],
                &v["dns_server"],
                &v["dns_expected_answers"]
            ),
            (&json!("h"), &json!("127.0.0.1"), &json!("1.2.3.4"))
        );
        assert_eq!(v["dns_authoritative"], true);
    }
}

#[test]
fn smtp_passes_starttls_and_certificate_age() {
    let ts = targets(concat!(
        "[[targets.active.check_smtp]]\nhost = \"h\"\nstarttls = true\ncertificate = 7\n",
        "[[targets.active.check_smtp]]\nhost = \"i\"\nport = 587\n",
    ));
    let a = &services(&ts[0], "me")[0].attrs["vars"];
    assert_eq!(
        (
            &a["smtp_starttls"],
            &a["smtp_certificate_age"],
            &a["smtp_port"]
        ),
        (&json!(true), &json!("7"), &json!(25))
    );
    let b = services(&ts[1], "me")[0].attrs["vars"].clone();
    assert!(b.get("smtp_certificate_age").is_none(), "1000 = not set");
    assert_eq!(b["smtp_port"], 587);
}

#[test]
fn ssh_without_remote_version_is_the_ssh_command() {
    let s = first("[[targets.active.check_ssh]]\nhost = \"h\"\nport = 2222\n");
    assert_eq!(s[0].attrs["check_command"], "ssh");
    let v = &s[0].attrs["vars"];
    assert_eq!(
        (&v["ssh_port"], &v["ssh_address"]),
        (&json!(2222), &json!("h"))
    );
}

#[test]
fn ssh_with_remote_version_expects_the_banner_through_tcp() {
    let s = first("[[targets.active.check_ssh]]\nhost = \"h\"\nremoteVersion = \"OpenSSH_9.2p1 Debian-2\"\nipv6 = false\n");
    assert_eq!(s[0].attrs["check_command"], "tcp");
    let v = &s[0].attrs["vars"];
    assert_eq!(
        v["tcp_expect"],
        json!(["-OpenSSH_9.2p1 Debian-2\r", "-OpenSSH_9.2p1 Debian-2\n"])
    );
    assert_eq!(
        (&v["tcp_mismatch"], &v["tcp_port"], &v["tcp_ipv4"]),
        (&json!("crit"), &json!(22), &json!(true))
    );
}

#[test]
fn hydra_asks_the_json_api_for_the_jobset() {
    let s = first("[[targets.active.check_hydra]]\nhost = \"https://hydra.nixos.org\"\nproject = \"nixpkgs\"\njobset = \"trunk\"\n");
    let a = &s[0].attrs["vars"];
    assert_eq!(s[0].attrs["check_command"], "http");
    assert_eq!(
        (&a["http_address"], &a["http_port"], &a["http_ssl"]),
        (&json!("hydra.nixos.org"), &json!(443), &json!(true))
    );
    assert_eq!(a["http_uri"], "/jobset/nixpkgs/trunk");
    assert_eq!(a["http_header"], "Accept: application/json");
    // POSIX ERE for check_http -r; with --invert-regex a match is CRITICAL.
    assert_eq!(
        a["http_expect_body_regex"],
        r#""(fetch)?errormsg"[[:space:]]*:[[:space:]]*"[^"]"#
    );
    assert_eq!(a["http_invertregex"], true);
    assert_eq!(
        host_attrs("https://hydra.nixos.org", "me")["display_name"],
        "hydra.nixos.org"
    );
}

#[test]
fn hydra_urls_keep_port_and_path_prefix() {
    assert_eq!(
        HydraUrl::parse("http://127.0.0.1:3000/hydra/"),
        HydraUrl {
            https: false,
            host: "127.0.0.1".into(),
            port: 3000,
            prefix: "/hydra".into()
        }
    );
    assert_eq!(
        HydraUrl::parse("hydra.example.org"),
        HydraUrl {
            https: true,
            host: "hydra.example.org".into(),
            port: 443,
            prefix: String::new()
        }
    );
    assert_eq!(HydraUrl::parse("http://[::1]:3000").host, "::1");
}

#[test]
fn hosts_have_no_address_for_stock_apply_rules_to_catch() {
    let h = host_attrs("2001:db8::1", "me");
    assert_eq!((&h["address"], &h["address6"]), (&json!(""), &json!("")));
    assert_eq!(h["display_name"], "2001:db8::1");
    assert_eq!(h["vars"]["nixcloud_monitoring_owner"], "me");
    assert_eq!(h["check_command"], "dummy");
}

#[test]
fn passive_targets_go_stale_through_a_dummy_check_at_their_timeout() {
    let s = first("[[targets.passive]]\nhost = \"b\"\nname = \"nightly\"\ntags = [\"x\"]\ntimers = { check = 60, timeout = 180 }\n");
    assert_eq!(s.len(), 1);
    let a = &s[0].attrs;
    assert_eq!(s[0].name, "nightly");
    assert_eq!(a["check_command"], "dummy");
    assert_eq!(
        a["enable_active_checks"], true,
        "freshness needs active checks"
    );
    assert_eq!(a["check_interval"], 180 * 60);
    assert_eq!(s[0].allowed_silence(), Some(180 * 60));
    assert_eq!(a["vars"]["dummy_state"], 3);
    assert!(a["vars"]["dummy_text"]
        .as_str()
        .unwrap()
        .contains("b-nightly"));
    assert_eq!(a["vars"]["nixcloud_monitoring_id"], "b-nightly");
    assert_eq!(a["vars"]["nixcloud_monitoring_tags"], json!(["x"]));
}

#[test]
fn active_services_have_no_stale_alarm() {
    let s = first("[[targets.active.check_http]]\nhost = \"h\"\n");
    assert_eq!(s[0].allowed_silence(), None);
}

#[test]
fn an_active_service_is_hard_after_its_failure_threshold_retried_every_minute() {
    let ts = targets(concat!(
        "failureThreshold = 2\n",
        "[[targets.active.check_ping]]\nhost = \"h\"\n",
        "[[targets.active.check_ssh]]\nhost = \"h\"\nfailureThreshold = 3\n",
    ));
    let attempts = |i: usize| -> Vec<(Value, Value, Value)> {
        services(&ts[i], "me")
            .iter()
            .map(|s| {
                let a = &s.attrs;
                let get = |k: &str| a[k].clone();
                (
                    get("max_check_attempts"),
                    get("retry_interval"),
                    get("check_interval"),
                )
            })
            .collect()
    };
    let both = |n: u32| vec![(json!(n), json!(ACTIVE_RETRY), json!(ACTIVE_INTERVAL)); 2];
    assert_eq!(attempts(0), both(2), "the top-level default, both families");
    assert_eq!(attempts(1), both(3), "the target's own");
    let one = first("[[targets.active.check_http]]\nhost = \"h\"\n");
    assert_eq!(
        one[0].attrs["max_check_attempts"], 1,
        "HARD at once, as before"
    );
}
