use super::*;
use crate::config::Config;
use std::path::Path;

fn targets(toml: &str) -> Vec<Target> {
    Config::parse(Path::new("t.toml"), toml).unwrap().targets
}

#[test]
fn http_becomes_one_service_per_family_with_the_itl_variables() {
    let t = &targets("[[targets.active.check_http]]\nhost = \"nixcloud.io\"\nurl = \"/main/en\"\ncontains = \"individual\"\n")[0];
    let s = services(t, "me");
    assert_eq!(
        s.iter().map(Service::full_name).collect::<Vec<_>>(),
        ["nixcloud.io!HTTP (IPv4)", "nixcloud.io!HTTP (IPv6)"]
    );
    let a = &s[0].attrs;
    assert_eq!(a["check_command"], "http");
    assert_eq!(a["vars.http_address"], "nixcloud.io");
    assert_eq!(a["vars.http_uri"], "/main/en");
    assert_eq!(a["vars.http_string"], "individual");
    assert_eq!(
        (a["vars.http_ipv4"].clone(), a["vars.http_ipv6"].clone()),
        (json!(true), json!(false))
    );
    assert_eq!(a["vars.nixcloud_monitoring_owner"], "me");
    assert_eq!(a["vars.nixcloud_monitoring_id"], "nixcloud.io-HTTP");
}

#[test]
fn unset_optional_variables_are_left_out() {
    let t = &targets("[[targets.active.check_http]]\nhost = \"h\"\nipv6 = false\n")[0];
    let s = services(t, "me");
    assert_eq!(s.len(), 1);
    assert!(!s[0].attrs.contains_key("vars.http_string"));
    assert_eq!(s[0].attrs["vars.http_uri"], "/");
}

#[test]
fn ssl_cert_uses_certificate_mode_with_the_warning_days() {
    let ts = targets(
        "[[targets.active.check_ssl_cert]]\nhost = \"a\"\n[[targets.active.check_ssl_cert]]\nhost = \"b\"\nwarningDays = 10\n",
    );
    assert_eq!(
        services(&ts[0], "me")[0].attrs["vars.http_certificate"],
        "30,14"
    );
    let b = &services(&ts[1], "me")[0].attrs;
    assert_eq!(b["vars.http_certificate"], "10,10");
    assert_eq!(b["vars.http_ssl"], true);
    assert_eq!(b["vars.http_port"], 443);
}

#[test]
fn ping_picks_the_family_command_and_splits_thresholds() {
    let t = &targets("[[targets.active.check_ping]]\nhost = \"h\"\n")[0];
    let s = services(t, "me");
    assert_eq!(
        (
            s[0].attrs["check_command"].clone(),
            s[1].attrs["check_command"].clone()
        ),
        (json!("ping4"), json!("ping6"))
    );
    assert_eq!(
        (
            s[0].attrs["vars.ping_wrta"].clone(),
            s[0].attrs["vars.ping_wpl"].clone()
        ),
        (json!(10.0), json!(2.0))
    );
    assert_eq!(
        (
            s[0].attrs["vars.ping_crta"].clone(),
            s[0].attrs["vars.ping_cpl"].clone()
        ),
        (json!(20.0), json!(5.0))
    );
}

#[test]
fn dns_smtp_ssh_map_to_their_commands() {
    let ts = targets(concat!(
        "[[targets.active.check_dns]]\nhost = \"h\"\nserver = \"127.0.0.1\"\nexpected-address = \"1.2.3.4\"\n",
        "[[targets.active.check_smtp]]\nhost = \"h\"\nstarttls = true\ncertificate = 7\n",
        "[[targets.active.check_ssh]]\nhost = \"h\"\nport = 2222\n",
    ));
    let dns = &services(&ts[0], "me")[1].attrs;
    assert_eq!(
        (
            dns["check_command"].clone(),
            dns["vars.dns_query_type"].clone()
        ),
        (json!("dns"), json!("AAAA"))
    );
    assert_eq!(dns["vars.dns_expected_answers"], "1.2.3.4");
    let smtp = &services(&ts[1], "me")[0].attrs;
    assert_eq!(
        (
            smtp["vars.smtp_starttls"].clone(),
            smtp["vars.smtp_certificate_age"].clone()
        ),
        (json!(true), json!("7"))
    );
    let ssh = &services(&ts[2], "me")[0].attrs;
    assert_eq!(
        (ssh["check_command"].clone(), ssh["vars.ssh_port"].clone()),
        (json!("ssh"), json!(2222))
    );
}

#[test]
fn hydra_checks_the_jobset_page() {
    let t = &targets("[[targets.active.check_hydra]]\nhost = \"https://hydra.nixos.org\"\nproject = \"nixpkgs\"\njobset = \"trunk\"\n")[0];
    let a = &services(t, "me")[0].attrs;
    assert_eq!(a["vars.http_address"], "hydra.nixos.org");
    assert_eq!(a["vars.http_uri"], "/jobset/nixpkgs/trunk");
    assert_eq!(a["vars.http_ssl"], true);
    assert_eq!(
        host_attrs("https://hydra.nixos.org", "me")["address"],
        "hydra.nixos.org"
    );
}

#[test]
fn passive_targets_go_stale_through_a_dummy_check_at_their_timeout() {
    let t = &targets("[[targets.passive]]\nhost = \"b\"\nname = \"nightly\"\ntimers = { check = 60, timeout = 180 }\n")[0];
    let s = services(t, "me");
    assert_eq!(s.len(), 1);
    let a = &s[0].attrs;
    assert_eq!(s[0].name, "nightly");
    assert_eq!(a["check_command"], "dummy");
    assert_eq!(a["enable_active_checks"], true);
    assert_eq!(a["check_interval"], 180 * 60);
    assert_eq!(a["vars.dummy_state"], 3);
    assert!(a["vars.dummy_text"].as_str().unwrap().contains("b-nightly"));
}
