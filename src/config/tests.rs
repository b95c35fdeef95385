use super::*;

fn parse(text: &str) -> anyhow::Result<Config> {
    Config::parse(Path::new("/etc/test.toml"), text)
}

fn err(text: &str) -> String {
    format!("{:#}", parse(text).unwrap_err())
}

#[test]
fn defaults_follow_the_original() {
    let cfg = parse("[[targets.active.check_ssl_cert]]\nhost = \"example.org\"\n").unwrap();
    assert_eq!(cfg.backends, vec![BackendKind::Nixcloud]);
    assert_eq!(cfg.api_host, "https://status.nixcloud.io");
    let t = &cfg.targets[0];
    assert_eq!(t.id, "example.org-SSL");
    assert!(t.public);
    assert_eq!(t.line, 1, "the line of the [[...]] header");
    let TargetKind::Active(ActiveCheck::SslCert(ssl)) = &t.kind else {
        panic!("wrong kind")
    };
    assert_eq!((ssl.port, ssl.warning_days, ssl.timeout), (443, 1000, 15));
}

#[test]
fn passive_defaults_and_script_timeout() {
    let cfg = parse("[[targets.passive]]\nhost = \"h\"\nname = \"n\"\n").unwrap();
    let p = cfg.targets[0].passive().unwrap();
    assert_eq!((p.check_minutes, p.timeout_minutes), (60, 180));
    assert_eq!(p.script_timeout, Duration::from_secs(3600));
}

#[test]
fn unknown_key_names_file_line_and_target() {
    let e = err("[[targets.active.check_http]]\nhost = \"a\"\n\n[[targets.active.check_http]]\nhost = \"b\"\ncontians = \"x\"\n");
    assert!(e.contains("/etc/test.toml:6"), "{e}");
    assert!(e.contains("contians"), "{e}");
    assert!(
        e.contains("[[targets.active.check_http]] #2, line 4"),
        "{e}"
    );
}

#[test]
fn wrong_type_is_an_error() {
    let e = err("[[targets.active.check_http]]\nhost = \"a\"\nport = \"eighty\"\n");
    assert!(e.contains(":3") && e.contains("invalid type"), "{e}");
}

#[test]
fn duplicates_are_all_listed() {
    let e = err(concat!(
        "[[targets.active.check_http]]\nhost = \"a\"\n",
        "[[targets.active.check_http]]\nhost = \"a\"\n",
        "[[targets.passive]]\nhost = \"b\"\nname = \"x\"\n",
        "[[targets.passive]]\nhost = \"b\"\nname = \"x\"\n",
    ));
    assert!(
        e.contains("a-HTTP (check_http, line 1), a-HTTP (check_http, line 3)"),
        "{e}"
    );
    assert!(
        e.contains("b-x (passive, line 5), b-x (passive, line 8)"),
        "{e}"
    );
}

#[test]
fn ids_colliding_after_escaping_are_duplicates() {
    let e = err("[[targets.passive]]\nhost = \"a:b\"\nname = \"x\"\n[[targets.passive]]\nhost = \"a/b\"\nname = \"x\"\n");
    assert!(e.contains("a:b-x") && e.contains("a/b-x"), "{e}");
}

#[test]
fn both_families_off_is_an_error() {
    let e = err("[[targets.active.check_ping]]\nhost = \"a\"\nipv4 = false\nipv6 = false\n");
    assert!(
        e.contains("/etc/test.toml:1: target a-PING (check_ping): ipv4 and ipv6 are both false"),
        "{e}"
    );
}

#[test]
fn check_not_below_timeout_is_an_error() {
    let e = err("[[targets.passive]]\nhost = \"h\"\nname = \"n\"\ntimers = { check = 600, timeout = 600 }\n");
    assert!(
        e.contains(":1: target h-n: timers.check (600) must be less than timers.timeout (600)"),
        "{e}"
    );
}

#[test]
fn literal_key_is_accepted_with_a_warning() {
    let cfg = parse("apiKey = \"secret\"\n").unwrap();
    assert_eq!(cfg.key, Some(KeySource::Literal("secret".into())));
    assert!(cfg.warnings[0].contains("apiKeyFile"), "{:?}", cfg.warnings);
}

#[test]
fn target_key_has_its_own_credential_name() {
    let cfg = parse("apiKeyFile = \"/k\"\n[[targets.passive]]\nhost = \"h\"\nname = \"n\"\napiKeyFile = \"/t\"\n").unwrap();
    let t = &cfg.targets[0];
    assert_eq!(
        t.key.as_ref(),
        Some(&KeySource::File {
            path: "/t".into(),
            credential: "api-key-h-n".into()
        })
    );
    assert_eq!(
        cfg.key.as_ref(),
        Some(&KeySource::File {
            path: "/k".into(),
            credential: "api-key".into()
        })
    );
}

#[test]
fn passive_without_name_is_an_error() {
    let e = err("[[targets.passive]]\nhost = \"h\"\n");
    assert!(
        e.contains(":1: passive target for host \"h\" has no name"),
        "{e}"
    );
}

#[test]
fn active_target_with_empty_host_is_an_error() {
    let e = err(
        "[[targets.active.check_http]]\nhost = \"a\"\n[[targets.active.check_ssh]]\nhost = \"\"\n",
    );
    assert!(
        e.contains("/etc/test.toml:3: target -SSH (check_ssh): host is empty"),
        "{e}"
    );
}

#[test]
fn active_target_with_empty_name_is_an_error() {
    let e = err("[[targets.active.check_http]]\nhost = \"a\"\nname = \"\"\n");
    assert!(
        e.contains("/etc/test.toml:1: target a- (check_http): name is empty"),
        "{e}"
    );
}

#[test]
fn passive_with_empty_name_is_an_error() {
    let e = err("[[targets.passive]]\nhost = \"h\"\nname = \"x\"\n[[targets.passive]]\nhost = \"h\"\nname = \"\"\n");
    assert!(
        e.contains("/etc/test.toml:4: passive target for host \"h\" has an empty name"),
        "{e}"
    );
}

#[test]
fn passive_with_empty_host_is_an_error_as_in_the_module() {
    let err = parse("[[targets.passive]]\nhost = \"\"\nname = \"n\"\n").unwrap_err();
    assert_eq!(
        format!("{err:#}"),
        "/etc/test.toml:1: target -n (passive): host is empty"
    );
}

#[test]
fn control_characters_in_host_or_name_are_errors() {
    let cases = [
        (
            "[[targets.active.check_http]]\nhost = \"a\\nb\"\n",
            "/etc/test.toml:1: target a\\nb-HTTP (check_http): host contains a control character (U+000A)",
        ),
        (
            "[[targets.active.check_ping]]\nhost = \"a\"\nname = \"P\\tING\"\n",
            "/etc/test.toml:1: target a-P\\tING (check_ping): name contains a control character (U+0009)",
        ),
        (
            "[[targets.passive]]\nhost = \"h\\u0000\"\nname = \"n\"\n",
            "/etc/test.toml:1: target h\\u{0}-n (passive): host contains a control character (U+0000)",
        ),
        (
            "\n[[targets.passive]]\nhost = \"h\"\nname = \"n\\u007f\"\n",
            "/etc/test.toml:2: target h-n\\u{7f} (passive): name contains a control character (U+007F)",
        ),
        (
            "[[targets.passive]]\nhost = \"h\"\nname = \"\\u001bx\"\n",
            "name contains a control character (U+001B)",
        ),
    ];
    for (text, want) in cases {
        let e = err(text);
        assert!(e.contains(want), "want {want:?} in {e}");
        assert!(!e.contains('\n'), "the message stays on one line: {e:?}");
    }
}

#[test]
fn non_ascii_host_and_name_are_fine() {
    let cfg =
        parse("[[targets.passive]]\nhost = \"bücher.example\"\nname = \"快乐 check\"\n").unwrap();
    assert_eq!(cfg.targets[0].id, "bücher.example-快乐 check");
}

/// A name that reads differently than it is (U+202E turns the rest around) or that is two
/// lines in a log (U+2028, U+0085 NEL) is refused, as the NixOS module refuses it.
#[test]
fn bidi_controls_and_line_separators_are_refused_by_name() {
    for (escape, kind, shown) in [
        (
            "\\u202E",
            "a bidirectional control character (U+202E)",
            "\\u{202e}",
        ),
        (
            "\\u2028",
            "a line or paragraph separator (U+2028)",
            "\\u{2028}",
        ),
        (
            "\\u0085",
            "a line or paragraph separator (U+0085)",
            "\\u{85}",
        ),
        ("\\u009B", "a control character (U+009B)", "\\u{9b}"),
    ] {
        let text = format!("\n[[targets.passive]]\nhost = \"h\"\nname = \"a{escape}b\"\n");
        let e = format!("{:#}", parse(&text).unwrap_err());
        assert_eq!(
            e,
            format!("/etc/test.toml:2: target h-a{shown}b (passive): name contains {kind}")
        );
        let text = format!("\n[[targets.active.check_ssh]]\nhost = \"a{escape}b\"\n");
        let e = format!("{:#}", parse(&text).unwrap_err());
        assert_eq!(
            e,
            format!("/etc/test.toml:2: target a{shown}b-SSH (check_ssh): host contains {kind}")
        );
    }
}

#[test]
fn api_host_urls_that_work_are_kept() {
    for (url, kept) in [
        ("https://status.nixcloud.io", "https://status.nixcloud.io"),
        ("http://127.0.0.1:8080/", "http://127.0.0.1:8080"),
        ("https://[::1]:8443/prefix/", "https://[::1]:8443/prefix"),
        ("HTTPS://Example.org", "HTTPS://Example.org"),
    ] {
        let cfg = parse(&format!("apiHost = \"{url}\"\n")).unwrap();
        assert_eq!(cfg.api_host, kept);
    }
}

#[test]
fn api_host_that_cannot_be_an_api_base_is_an_error() {
    for (url, want) in [
        (
            "ftp://example.org",
            "the scheme must be https or http, not \"ftp\"",
        ),
        ("example.org", "is not a URL: it must start with https://"),
        ("https://", "has no host"),
        ("https:///path", "has no host"),
        ("http://:80", "is not a URL: empty host"),
        ("https://user:pw@example.org", "has a user or password part"),
        ("https://user@example.org", "credentials go in apiKeyFile"),
        ("https://@example.org", "has a user or password part"),
        ("https://example.org/?a=1", "has a query or fragment"),
        ("https://example.org/?", "has a query or fragment"),
        ("https://example.org/#top", "has a query or fragment"),
        (
            "https://exa mple.org",
            "white space or a control character (U+0020)",
        ),
        (
            "https://exa\\tmple.org",
            "white space or a control character (U+0009)",
        ),
        (
            "https://example.org:99999",
            "is not a URL: invalid port number",
        ),
    ] {
        let e = err(&format!("public = true\napiHost = \"{url}\"\n"));
        assert!(e.starts_with("/etc/test.toml:2: apiHost "), "{url}: {e}");
        assert!(e.contains(want), "{url}: want {want:?} in {e}");
    }
}

#[test]
fn icinga2_url_is_checked_with_its_line() {
    let icinga = |url: &str| {
        format!(
            "backend = \"icinga2\"\n[icinga2]\nuser = \"u\"\npasswordFile = \"/p\"\nurl = \"{url}\"\n"
        )
    };
    let cfg = parse(&icinga("https://icinga.example.org:5665/v1/")).unwrap();
    assert_eq!(
        cfg.icinga2.unwrap().url,
        "https://icinga.example.org:5665/v1/",
        "kept as written; the backend drops /v1"
    );
    let e = err(&icinga("https://root:secret@icinga:5665/x@y"));
    assert!(
        e.contains(
            "/etc/test.toml:5: icinga2.url \"https://<redacted>@icinga:5665/x@y\": has a user or \
             password part (user@ or user:password@); credentials go in icinga2.user and \
             icinga2.passwordFile"
        ),
        "{e}"
    );
    assert!(!e.contains("secret"), "the password is not repeated: {e}");
    let e = err(&icinga("127.0.0.1:5665"));
    assert!(e.contains("/etc/test.toml:5: icinga2.url"), "{e}");
    assert!(e.contains("is not a URL"), "{e}");
    let e = err(&icinga("https://icinga:5665/?x"));
    assert!(
        e.contains(":5: icinga2.url") && e.contains("query or fragment"),
        "{e}"
    );
}

#[test]
fn icinga2_table_still_refuses_unknown_keys() {
    let e = err(
        "[icinga2]\nurl = \"https://i\"\nuser = \"u\"\npasswordFile = \"/p\"\npasword = \"x\"\n",
    );
    assert!(
        e.contains("/etc/test.toml:5") && e.contains("pasword"),
        "{e}"
    );
}

/// Property tests (proptest) of the parser: src/config/props.rs.
#[path = "props.rs"]
mod props;

#[test]
fn the_line_index_agrees_with_counting_newlines() {
    let text = "a\n\nbc\nd";
    let index = LineIndex::new(text);
    for offset in 0..=text.len() + 2 {
        assert_eq!(index.line(offset), line_of(text, offset), "offset {offset}");
    }
}

#[test]
fn backend_names_are_the_ones_the_config_accepts() {
    // Messages and the queue's lane directories use `name()`; it must read back as the config's.
    #[derive(serde::Deserialize)]
    struct Doc {
        backend: BackendKind,
    }
    for kind in [
        BackendKind::Nixcloud,
        BackendKind::Local,
        BackendKind::Icinga2,
    ] {
        let doc: Doc = toml::from_str(&format!("backend = \"{}\"\n", kind.name())).unwrap();
        assert_eq!(doc.backend, kind, "{}", kind.name());
    }
    let names = [
        BackendKind::Nixcloud.name(),
        BackendKind::Local.name(),
        BackendKind::Icinga2.name(),
    ];
    assert_eq!(names, ["nixcloud", "local", "icinga2"]);
}

#[test]
fn every_secret_is_listed_for_loading_before_privileges_are_dropped() {
    let cfg = parse(concat!(
        "apiKeyFile = \"/run/keys/top\"\n",
        "backend = \"icinga2\"\n",
        "[icinga2]\nurl = \"https://icinga:5665\"\nuser = \"u\"\npasswordFile = \"/run/keys/icinga\"\n",
        "[[targets.passive]]\nhost = \"h\"\nname = \"a\"\napiKeyFile = \"/run/keys/a\"\n",
        "[[targets.passive]]\nhost = \"h\"\nname = \"b\"\n",
        "[[targets.passive]]\nhost = \"h\"\nname = \"c\"\napiKey = \"literal\"\n",
    ))
    .unwrap();
    let file = |path: &str, credential: &str| KeySource::File {
        path: path.into(),
        credential: credential.into(),
    };
    assert_eq!(
        cfg.secrets(),
        [
            file("/run/keys/top", "api-key"),
            file("/run/keys/a", "api-key-h-a"),
            KeySource::Literal("literal".into()),
            file("/run/keys/icinga", "icinga2-password"),
        ]
    );
}

#[test]
fn an_error_in_the_third_of_several_tables_names_that_one() {
    let e = err(concat!(
        "[[targets.passive]]\nhost = \"h\"\nname = \"a\"\n",
        "[[targets.passive]]\nhost = \"h\"\nname = \"b\"\n",
        "[[targets.passive]]\nhost = \"h\"\nname = \"c\"\nnmae = \"typo\"\n",
    ));
    assert!(
        e.starts_with("/etc/test.toml:10 (in [[targets.passive]] #3, line 7): "),
        "{e}"
    );
    assert!(e.contains("nmae"), "{e}");
}

/// Set in the child process that [`resolved_under`] starts: the file it writes its answers to.
const CHILD_ENV: &str = "NIXCLOUD_MONITORING_TEST_RESOLVED";

/// What `resolve_path` and `resolve_state_dir` return with the environment changed as in
/// `env` (`None` removes a variable), computed by a child process of this test binary: changing
/// the environment of the shared, multi-threaded test process would race with other tests.
fn resolved_under(env: &[(&str, Option<&str>)]) -> BTreeMap<String, String> {
    let dir = tempfile::tempdir().unwrap();
    let answers = dir.path().join("resolved");
    let mut child = std::process::Command::new(std::env::current_exe().unwrap());
    child
        .args(["--exact", "config::tests::write_resolved_paths"])
        .env(CHILD_ENV, &answers);
    for (name, value) in env {
        match value {
            Some(v) => child.env(name, v),
            None => child.env_remove(name),
        };
    }
    let out = child.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    let text = std::fs::read_to_string(&answers).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    let got: BTreeMap<String, String> = text
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(got.len(), 4, "{text}");
    got
}

/// Only does something in the child process of [`resolved_under`].
#[test]
fn write_resolved_paths() {
    let Some(answers) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let text = [
        ("config", resolve_path(None)),
        ("flag", resolve_path(Some(Path::new("/flag.toml")))),
        ("state", resolve_state_dir(Some("/from/stateDir".into()))),
        ("state_default", resolve_state_dir(None)),
    ]
    .map(|(what, path)| format!("{what}={}\n", path.display()))
    .concat();
    std::fs::write(answers, text).unwrap();
}

#[test]
fn config_and_state_paths_follow_flag_environment_and_defaults() {
    let got = |env: &[(&str, Option<&str>)]| {
        let r = resolved_under(env);
        [
            r["config"].clone(),
            r["flag"].clone(),
            r["state"].clone(),
            r["state_default"].clone(),
        ]
    };
    // Nothing set: the default file; stateDir, else the user's state directory.
    assert_eq!(
        got(&[
            (PATH_ENV, None),
            ("STATE_DIRECTORY", None),
            ("HOME", Some("/home/alice")),
            ("XDG_STATE_HOME", None),
        ]),
        [
            "/etc/nixcloud-monitoring/config.toml",
            "/flag.toml",
            "/from/stateDir",
            "/home/alice/.local/state/nixcloud-monitoring",
        ]
    );
    // Both set: the variable names the file; systemd's first StateDirectory= wins over stateDir.
    assert_eq!(
        got(&[
            (PATH_ENV, Some("/srv/agent.toml")),
            (
                "STATE_DIRECTORY",
                Some("/var/lib/nixcloud-monitoring:/var/lib/other")
            ),
        ]),
        [
            "/srv/agent.toml",
            "/flag.toml",
            "/var/lib/nixcloud-monitoring",
            "/var/lib/nixcloud-monitoring",
        ]
    );
    // Set but empty: as if unset.
    assert_eq!(
        got(&[
            (PATH_ENV, Some("")),
            ("STATE_DIRECTORY", Some("")),
            ("HOME", Some("/home/alice")),
            ("XDG_STATE_HOME", None),
        ]),
        [
            "/etc/nixcloud-monitoring/config.toml",
            "/flag.toml",
            "/from/stateDir",
            "/home/alice/.local/state/nixcloud-monitoring",
        ]
    );
}

#[test]
fn each_backend_names_its_own_server_in_messages() {
    let cfg = parse(concat!(
        "backends = [\"nixcloud\", \"icinga2\", \"healthchecks\", \"local\", \"prometheus\"]\n",
        "apiHost = \"https://status.example.org/\"\n",
        "[icinga2]\nurl = \"https://icinga:5665\"\nuser = \"u\"\npasswordFile = \"/run/keys/icinga\"\n",
        "[healthchecks]\nurl = \"https://hc.example.org/\"\napiKeyFile = \"/run/keys/hc\"\n",
    ))
    .unwrap();
    let urls: Vec<(&str, Option<&str>)> = cfg
        .backends
        .iter()
        .map(|&kind| (kind.name(), cfg.server_url(kind)))
        .collect();
    assert_eq!(
        urls,
        [
            ("nixcloud", Some("https://status.example.org")),
            ("icinga2", Some("https://icinga:5665")),
            ("healthchecks", Some("https://hc.example.org")),
            ("local", None),
            ("prometheus", None),
        ]
    );
    // Both servers' credentials are loaded before privileges are dropped.
    assert_eq!(
        cfg.secrets(),
        [
            KeySource::File {
                path: "/run/keys/icinga".into(),
                credential: "icinga2-password".into()
            },
            KeySource::File {
                path: "/run/keys/hc".into(),
                credential: "healthchecks-api-key".into()
            },
        ]
    );
}

/// A passive target with `timers` as given, its state directory a fresh temporary one.
fn calendar_config(timers: &str) -> (tempfile::TempDir, anyhow::Result<Config>) {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "stateDir = {:?}\n[[targets.passive]]\nhost = \"h\"\nname = \"backup\"\ntimers = {timers}\n",
        dir.path().display().to_string()
    );
    let config = parse(&text);
    (dir, config)
}

#[test]
fn a_calendar_gives_the_expected_silence() {
    let (_dir, cfg) = calendar_config("{ calendar = \"*-*-* 03:00 UTC\" }");
    let p = cfg.unwrap().targets[0].passive().unwrap().clone();
    // A day between two runs, plus the default grace: a tenth of it (144 minutes).
    assert_eq!((p.check_minutes, p.timeout_minutes), (1440, 1440 + 144));
    assert_eq!(p.calendar.unwrap().normalized, ["*-*-* 03:00:00 UTC"]);
    assert_eq!(p.script_timeout, Duration::from_secs(1440 * 60));
    let (_dir, cfg) =
        calendar_config("{ calendar = [\"Mon..Fri 18:00 UTC\", \"Sat 12:00 UTC\"], grace = 30 }");
    let p = cfg.unwrap().targets[0].passive().unwrap().clone();
    assert_eq!(
        (p.check_minutes, p.timeout_minutes),
        (54 * 60, 54 * 60 + 30)
    );
    // Written in systemd's normalized form already (systemd then prints no "Original form").
    let (_dir, cfg) = calendar_config("{ calendar = [\"*-*-* 03:00:00\", \"*-*-* 15:00:00\"] }");
    let p = cfg.unwrap().targets[0].passive().unwrap().clone();
    assert_eq!(
        p.calendar.unwrap().normalized,
        ["*-*-* 03:00:00", "*-*-* 15:00:00"]
    );
    // At least five minutes of grace.
    let (_dir, cfg) = calendar_config("{ calendar = \"*:0/15\" }");
    let p = cfg.unwrap().targets[0].passive().unwrap().clone();
    assert_eq!((p.check_minutes, p.timeout_minutes), (15, 20));
}

#[test]
fn bad_calendars_are_errors_naming_the_target() {
    let cases = [
        (
            "{ calendar = \"Mon 25:00\" }",
            "systemd refuses \"Mon 25:00\": Failed to parse calendar specification 'Mon 25:00'",
        ),
        ("{ calendar = \"2020-01-01\" }", "never elapses again"),
        ("{ calendar = \"*-02-30\" }", "never elapses again"),
        (
            "{ calendar = \"daily\", check = 60 }",
            "timers.calendar and timers.check are both set",
        ),
        (
            "{ calendar = \"daily\", timeout = 100, check = 5 }",
            "timers.check and timers.timeout",
        ),
        ("{ calendar = [] }", "empty list"),
        ("{ calendar = \" \" }", "is empty"),
        (
            "{ check = 5, grace = 3 }",
            "timers.grace belongs to timers.calendar",
        ),
        (
            "{ calendar = [\"daily\", \"bogus\"] }",
            "[\"daily\", \"bogus\"]: systemd refuses \"bogus\"",
        ),
    ];
    for (timers, want) in cases {
        let (_dir, cfg) = calendar_config(timers);
        let e = format!("{:#}", cfg.unwrap_err());
        assert!(e.contains(":2: target h-backup: "), "{timers}: {e}");
        assert!(e.contains(want), "{timers}: {e}");
    }
}

#[test]
fn a_threshold_of_0_or_above_100_is_an_error() {
    for (text, want) in [
        ("failureThreshold = 0\n", "the top level"),
        ("failureThreshold = 101\n", "the top level"),
        (
            "[[targets.passive]]\nhost = \"h\"\nname = \"n\"\nfailureThreshold = 0\n",
            "target h-n",
        ),
        (
            "[[targets.passive]]\nhost = \"h\"\nname = \"n\"\nfailureThreshold = 101\n",
            "target h-n",
        ),
    ] {
        let e = err(text);
        assert!(
            e.contains(want) && e.contains("failureThreshold"),
            "{text}: {e}"
        );
    }
}

#[test]
fn an_active_target_inherits_the_top_level_threshold_or_sets_its_own() {
    let cfg = parse(concat!(
        "failureThreshold = 2\n",
        "[[targets.active.check_http]]\nhost = \"a\"\n",
        "[[targets.active.check_ssh]]\nhost = \"a\"\nfailureThreshold = 5\n",
        "[[targets.active.check_hydra]]\nhost = \"h\"\nproject = \"p\"\njobset = \"j\"\n",
        "failureThreshold = 1\n",
    ))
    .unwrap();
    let got: Vec<(&str, u32)> = cfg
        .targets
        .iter()
        .map(|t| (t.id.as_str(), t.failure_threshold))
        .collect();
    assert_eq!(got, [("a-HTTP", 2), ("a-SSH", 5), ("h-p_j", 1)]);
    let default = parse("[[targets.active.check_ping]]\nhost = \"a\"\n").unwrap();
    assert_eq!(default.targets[0].failure_threshold, 1);
}

#[test]
fn an_active_threshold_of_0_or_above_100_names_the_target() {
    for kind in [
        "check_http",
        "check_ssl_cert",
        "check_dns",
        "check_ping",
        "check_smtp",
        "check_ssh",
        "check_hydra",
    ] {
        for n in [0, 101] {
            let text = format!(
                "[[targets.active.{kind}]]\nhost = \"a\"\nname = \"n\"\nfailureThreshold = {n}\n"
            );
            let e = err(&text);
            let want = format!(
                "/etc/test.toml:1: target a-n: failureThreshold is {n}; it counts results in a \
                 row: 1 to 100"
            );
            assert!(e.contains(&want), "{text}: {e}");
        }
    }
}

#[test]
fn a_typo_next_to_an_active_threshold_is_still_named_with_its_line() {
    let e = err(
        "[[targets.active.check_ssh]]\nhost = \"a\"\nfailureThreshold = 2\nfailureTreshold = 3\n",
    );
    assert!(e.starts_with("/etc/test.toml:4"), "{e}");
    assert!(
        e.contains("failureTreshold") && e.contains("failureThreshold"),
        "{e}"
    );
}
