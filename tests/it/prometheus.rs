//! The Prometheus backend: the textfile the agent writes, checked by the real `promtool check
//! metrics` and served by the real `prometheus-node-exporter` (Debian packages `prometheus`
//! and `prometheus-node-exporter`; tests are skipped without them, and fail under CI).

use crate::util::{output_text, Sandbox};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Whether promtool and the node exporter are installed; skips (see `util::skip`) if not.
fn tools(test: &str) -> bool {
    for tool in ["promtool", "prometheus-node-exporter"] {
        if Command::new(tool).arg("--version").output().is_err() {
            crate::util::skip(
                test,
                &format!(
                    "{tool} is missing (apt-get install -y prometheus prometheus-node-exporter)"
                ),
            );
            return false;
        }
    }
    true
}

/// The targets: two passive (one with a script, one with quotes and a backslash in its name)
/// and an active one, which must not show up.
const TARGETS: &str = r#"
[[targets.passive]]
host = "web1"
name = "backup"
timers = { check = 60, timeout = 180 }
#end of backup

[[targets.passive]]
host = "web1"
name = 'say "hi" \ now'

[[targets.passive]]
host = "db1"
name = "disk"
timers = { check = 5, timeout = 15 }
script = '''exit=1; status="almost full"; perfdata="'root /'=81%;80;90;0;100 inodes=12"'''

[[targets.active.check_http]]
host = "example.org"
"#;

/// The first target's block in [`TARGETS`], to take it out of the config.
const BACKUP_BLOCK: &str = "[[targets.passive]]\nhost = \"web1\"\nname = \"backup\"\ntimers = { check = 60, timeout = 180 }\n#end of backup\n";

fn sandbox(backends: &str) -> Sandbox {
    let sb = Sandbox::new();
    sb.config(&format!(
        "backends = {backends}\nstateDir = \"{{state}}\"\n[delivery]\nattempts = 1\n\
         [prometheus]\ntextfile = \"{{dir}}/textfiles/nixcloud-monitoring.prom\"\n{TARGETS}"
    ));
    sb
}

fn textfile(sb: &Sandbox) -> PathBuf {
    sb.path("textfiles/nixcloud-monitoring.prom")
}

fn run_ok(sb: &Sandbox, args: &[&str]) -> String {
    let out = sb.cmd(args).output().unwrap();
    let text = output_text(&out);
    assert!(out.status.success(), "{args:?}: {text}");
    text
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn seconds(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

/// The one value of series `name{…target="id"…}` in `text`.
fn value_of(text: &str, name: &str, id: &str) -> String {
    let needle = format!("{name}{{target=\"{id}\",");
    let line = text
        .lines()
        .find(|l| l.starts_with(&needle))
        .unwrap_or_else(|| panic!("no {needle} in:\n{text}"));
    line.rsplit_once(' ').unwrap().1.to_string()
}

/// `ms` written as seconds must lie within [from, to].
fn assert_within(value: &str, from: u64, to: u64) -> u64 {
    let (s, frac) = value.split_once('.').expect("seconds with decimals");
    let ms = s.parse::<u64>().unwrap() * 1000 + frac.parse::<u64>().unwrap();
    assert!(from <= ms && ms <= to, "{value} not within {from}..{to}");
    ms
}

/// What `submit`/`run` recorded in `last/` for `status`: written by the agent core, not by
/// the backend, so the backend's numbers are checked against an independent copy.
fn last_result(sb: &Sandbox, escaped_id: &str) -> serde_json::Value {
    let path = sb.state_dir().join(format!("last/{escaped_id}.json"));
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

const HELP: [(&str, &str); 9] = [
    (
        "nixcloud_monitoring_state",
        "State of the target's last result: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.",
    ),
    (
        "nixcloud_monitoring_last_result_timestamp_seconds",
        "When the target's last result was measured, in seconds since the Unix epoch.",
    ),
    (
        "nixcloud_monitoring_check_interval_seconds",
        "How often the target is expected to report (timers.check).",
    ),
    (
        "nixcloud_monitoring_timeout_seconds",
        "Silence after which the target counts as stale (timers.timeout).",
    ),
    (
        "nixcloud_monitoring_failures_in_a_row",
        "Non-OK results in a row up to the last one (0 after an OK).",
    ),
    (
        "nixcloud_monitoring_failure_threshold",
        "Non-OK results in a row before the target counts as failing (failureThreshold).",
    ),
    (
        "nixcloud_monitoring_registered_timestamp_seconds",
        "When the target was last registered, in seconds since the Unix epoch.",
    ),
    (
        "nixcloud_monitoring_run_duration_seconds",
        "How long the script that made the last result ran.",
    ),
    (
        "nixcloud_monitoring_perfdata",
        "Performance data of the last result, one series per label (unit in uom).",
    ),
];

/// Builds the expected file: families in order, each with its lines (families without lines
/// are left out, as the agent does).
fn expected(families: &[(&str, Vec<String>)]) -> String {
    let mut text = String::new();
    for (name, help) in HELP {
        let Some((_, lines)) = families.iter().find(|(n, _)| *n == name) else {
            continue;
        };
        if lines.is_empty() {
            continue;
        }
        text += &format!("# HELP {name} {help}\n# TYPE {name} gauge\n");
        for l in lines {
            text += &format!("{name}{l}\n");
        }
    }
    text
}

const BACKUP: &str = r#"{target="web1-backup",host="web1",service="backup"}"#;
const SAY: &str = r#"{target="web1-say \"hi\" \\ now",host="web1",service="say \"hi\" \\ now"}"#;
const DISK: &str = r#"{target="db1-disk",host="db1",service="disk"}"#;

/// Starts the real node exporter with only the textfile collector, on a free port; killed
/// when dropped.
struct NodeExporter {
    child: Child,
    port: u16,
}

impl NodeExporter {
    fn start(dir: &Path) -> NodeExporter {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("prometheus-node-exporter")
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .args(["--collector.disable-defaults", "--collector.textfile"])
            .arg(format!("--collector.textfile.directory={}", dir.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start prometheus-node-exporter");
        let exporter = NodeExporter { child, port };
        let deadline = Instant::now() + Duration::from_secs(15);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "the node exporter does not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        exporter
    }

    /// `GET /metrics`, body only.
    fn scrape(&self) -> String {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(15)))
            .unwrap();
        write!(
            stream,
            "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\nAccept: text/plain\r\n\r\n"
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP response");
        assert!(
            head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200"),
            "{head}"
        );
        body.to_string()
    }
}

impl Drop for NodeExporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads exposition text into `name{sorted labels, unescaped}` → value (comments skipped).
fn samples(text: &str) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (series, value) = line.rsplit_once(' ').unwrap();
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("{line}"));
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => (name, rest.strip_suffix('}').unwrap()),
            None => (series, ""),
        };
        let mut pairs = Vec::new();
        let mut chars = labels.chars().peekable();
        while chars.peek().is_some() {
            let key: String = chars.by_ref().take_while(|&c| c != '=').collect();
            assert_eq!(chars.next(), Some('"'), "{line}");
            let mut value = String::new();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => match chars.next() {
                        Some('n') => value.push('\n'),
                        Some(c) => value.push(c),
                        None => panic!("{line}"),
                    },
                    '"' => break,
                    c => value.push(c),
                }
            }
            if chars.peek() == Some(&',') {
                chars.next();
            }
            pairs.push((key.trim().to_string(), value));
        }
        pairs.sort();
        let key = format!(
            "{name}{{{}}}",
            pairs
                .iter()
                .map(|(k, v)| format!("{k}={v:?}"))
                .collect::<Vec<_>>()
                .join(",")
        );
        assert!(out.insert(key, value).is_none(), "repeated series: {line}");
    }
    out
}

/// `promtool check metrics` on the file: passes, and says nothing (no lint warning).
fn promtool_passes(path: &Path) {
    let out = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::fs::File::open(path).unwrap())
        .output()
        .unwrap();
    let text = output_text(&out);
    assert!(out.status.success(), "promtool check metrics: {text}");
    assert!(
        out.stdout.is_empty() && out.stderr.is_empty(),
        "promtool check metrics: {text}"
    );
}

/// The whole story with the given backends: register, results, the exact file, promtool, the
/// node exporter, then a target removed from the config.
fn end_to_end(test: &str, backends: &str) {
    if !tools(test) {
        return;
    }
    let sb = sandbox(backends);
    let file = textfile(&sb);

    // Registered: every passive target, no result yet. The active one is not there.
    // Under umask 077, as a service with UMask=0077 runs: the file must still be 0644.
    let before = now_ms();
    let mut register = sb.std_cmd(&["register"]);
    // SAFETY: umask is async-signal-safe and touches nothing but the child's mask.
    unsafe {
        use std::os::unix::process::CommandExt;
        register.pre_exec(|| {
            libc::umask(0o077);
            Ok(())
        });
    }
    let out = register.output().unwrap();
    let after = now_ms();
    let text = output_text(&out);
    assert!(out.status.success(), "register: {text}");
    // Prometheus registers the three passive targets only; local all four.
    let want = match backends.contains("local") {
        false => "registered 3 of 3 (0 failed)",
        true => "registered 7 of 7 (0 failed)",
    };
    assert!(text.contains(want), "{text}");
    let content = std::fs::read_to_string(&file).unwrap();
    let reg_backup = value_of(
        &content,
        "nixcloud_monitoring_registered_timestamp_seconds",
        "web1-backup",
    );
    assert_within(&reg_backup, before, after);
    let reg_disk = value_of(
        &content,
        "nixcloud_monitoring_registered_timestamp_seconds",
        "db1-disk",
    );
    assert_eq!(reg_disk, reg_backup, "one registration, one time");
    let registered = |id: &str| format!("{id} {reg_backup}");
    assert_eq!(
        content,
        expected(&[
            (
                "nixcloud_monitoring_check_interval_seconds",
                vec![
                    format!("{DISK} 300"),
                    format!("{BACKUP} 3600"),
                    format!("{SAY} 3600")
                ]
            ),
            (
                "nixcloud_monitoring_timeout_seconds",
                vec![
                    format!("{DISK} 900"),
                    format!("{BACKUP} 10800"),
                    format!("{SAY} 10800")
                ]
            ),
            (
                "nixcloud_monitoring_failure_threshold",
                vec![
                    format!("{DISK} 1"),
                    format!("{BACKUP} 1"),
                    format!("{SAY} 1")
                ]
            ),
            (
                "nixcloud_monitoring_registered_timestamp_seconds",
                vec![registered(DISK), registered(BACKUP), registered(SAY)]
            ),
        ])
    );
    assert!(!content.contains("example.org"), "{content}");
    // 0644 whatever the umask: the node exporter runs as its own user.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o644, "{mode:o}");
    promtool_passes(&file);

    // Results: by hand (no duration) and by a script (with one); an older repeat changes
    // nothing.
    run_ok(&sb, &["submit", "web1-backup", "first", "", "0"]);
    run_ok(
        &sb,
        &[
            "submit",
            "web1-backup",
            "done",
            // A repeated label would be a repeated series: the first one stays.
            "'files \"new\" \\ all'=42;;;0 size=1.5GB files=7 bad=U files=8",
            "OK",
        ],
    );
    run_ok(&sb, &["submit", r#"web1-say "hi" \ now"#, "hm", "", "3"]);
    let out = sb.cmd(&["run", "db1-disk"]).output().unwrap();
    // WARNING is still delivered (exit 0).
    assert!(out.status.success(), "{}", output_text(&out));

    if backends.contains("local") {
        // The other backend got every result too, through its own queue.
        let local = std::fs::read_to_string(sb.state_dir().join("local/results.jsonl")).unwrap();
        assert_eq!(local.lines().count(), 4, "{local}");
    }
    let backup = last_result(&sb, "web1-backup");
    assert_eq!(backup["output"], "done");
    let say = last_result(&sb, "web1-say__hi____now");
    let disk = last_result(&sb, "db1-disk");
    let measured = |r: &serde_json::Value| seconds(r["measured_at_ms"].as_u64().unwrap());
    let duration = disk["duration_ms"]
        .as_u64()
        .expect("a script run has a duration");
    let content = std::fs::read_to_string(&file).unwrap();
    let want = expected(&[
        ("nixcloud_monitoring_state", vec![format!("{DISK} 1"), format!("{BACKUP} 0"), format!("{SAY} 3")]),
        (
            "nixcloud_monitoring_last_result_timestamp_seconds",
            vec![
                format!("{DISK} {}", measured(&disk)),
                format!("{BACKUP} {}", measured(&backup)),
                format!("{SAY} {}", measured(&say)),
            ],
        ),
        ("nixcloud_monitoring_check_interval_seconds", vec![format!("{DISK} 300"), format!("{BACKUP} 3600"), format!("{SAY} 3600")]),
        ("nixcloud_monitoring_timeout_seconds", vec![format!("{DISK} 900"), format!("{BACKUP} 10800"), format!("{SAY} 10800")]),
        ("nixcloud_monitoring_failures_in_a_row", vec![format!("{DISK} 1"), format!("{BACKUP} 0"), format!("{SAY} 1")]),
        ("nixcloud_monitoring_failure_threshold", vec![format!("{DISK} 1"), format!("{BACKUP} 1"), format!("{SAY} 1")]),
        ("nixcloud_monitoring_registered_timestamp_seconds", vec![registered(DISK), registered(BACKUP), registered(SAY)]),
        ("nixcloud_monitoring_run_duration_seconds", vec![format!("{DISK} {}", seconds(duration))]),
        (
            "nixcloud_monitoring_perfdata",
            vec![
                r#"{target="db1-disk",host="db1",service="disk",label="root /",uom="%"} 81"#.to_string(),
                r#"{target="db1-disk",host="db1",service="disk",label="inodes",uom=""} 12"#.to_string(),
                r#"{target="web1-backup",host="web1",service="backup",label="files \"new\" \\ all",uom=""} 42"#.to_string(),
                r#"{target="web1-backup",host="web1",service="backup",label="size",uom="GB"} 1.5"#.to_string(),
                r#"{target="web1-backup",host="web1",service="backup",label="files",uom=""} 7"#.to_string(),
            ],
        ),
    ]);
    assert_eq!(content, want);
    promtool_passes(&file);

    // Served by the real node exporter, value for value, without a scrape error.
    let exporter = NodeExporter::start(file.parent().unwrap());
    let served = samples(&exporter.scrape());
    assert_eq!(
        served.get(r#"node_textfile_scrape_error{}"#),
        Some(&0.0),
        "{served:#?}"
    );
    let ours = samples(&content);
    assert_eq!(ours.len(), 27);
    for (series, value) in &ours {
        assert_eq!(
            served.get(series),
            Some(value),
            "{series} as served: {served:#?}"
        );
    }
    // The escapes came through: the label value is the script's text again.
    assert_eq!(
        served.get(r#"nixcloud_monitoring_perfdata{host="web1",label="files \"new\" \\ all",service="backup",target="web1-backup",uom=""}"#),
        Some(&42.0)
    );

    // web1-backup leaves the config: a full registration drops every line of it.
    sb.edit_config(BACKUP_BLOCK, "");
    run_ok(&sb, &["register"]);
    let content = std::fs::read_to_string(&file).unwrap();
    assert!(!content.contains("web1-backup"), "{content}");
    let reg2 = value_of(
        &content,
        "nixcloud_monitoring_registered_timestamp_seconds",
        "db1-disk",
    );
    let registered2 = |id: &str| format!("{id} {reg2}");
    assert_eq!(
        content,
        expected(&[
            (
                "nixcloud_monitoring_state",
                vec![format!("{DISK} 1"), format!("{SAY} 3")]
            ),
            (
                "nixcloud_monitoring_last_result_timestamp_seconds",
                vec![
                    format!("{DISK} {}", measured(&disk)),
                    format!("{SAY} {}", measured(&say))
                ],
            ),
            (
                "nixcloud_monitoring_check_interval_seconds",
                vec![format!("{DISK} 300"), format!("{SAY} 3600")]
            ),
            (
                "nixcloud_monitoring_timeout_seconds",
                vec![format!("{DISK} 900"), format!("{SAY} 10800")]
            ),
            (
                "nixcloud_monitoring_failures_in_a_row",
                vec![format!("{DISK} 1"), format!("{SAY} 1")]
            ),
            (
                "nixcloud_monitoring_failure_threshold",
                vec![format!("{DISK} 1"), format!("{SAY} 1")]
            ),
            (
                "nixcloud_monitoring_registered_timestamp_seconds",
                vec![registered2(DISK), registered2(SAY)]
            ),
            (
                "nixcloud_monitoring_run_duration_seconds",
                vec![format!("{DISK} {}", seconds(duration))]
            ),
            (
                "nixcloud_monitoring_perfdata",
                vec![
                    r#"{target="db1-disk",host="db1",service="disk",label="root /",uom="%"} 81"#
                        .to_string(),
                    r#"{target="db1-disk",host="db1",service="disk",label="inodes",uom=""} 12"#
                        .to_string(),
                ],
            ),
        ])
    );
    promtool_passes(&file);
    let served = samples(&exporter.scrape());
    assert!(
        !served.keys().any(|k| k.contains("web1-backup")),
        "{served:#?}"
    );
    assert_eq!(served.get("node_textfile_scrape_error{}"), Some(&0.0));
    drop(exporter);
}

#[test]
fn prometheus_alone_register_results_promtool_node_exporter_and_removal() {
    end_to_end(
        "prometheus_alone_register_results_promtool_node_exporter_and_removal",
        r#"["prometheus"]"#,
    );
}

#[test]
fn prometheus_with_local_register_results_promtool_node_exporter_and_removal() {
    end_to_end(
        "prometheus_with_local_register_results_promtool_node_exporter_and_removal",
        r#"["prometheus", "local"]"#,
    );
}

/// A textfile that cannot be written leaves the result queued (transient) with a message
/// naming the file, while the other backend's queue goes on. A result for a target that left
/// the config meanwhile is still taken, and goes at the next full registration.
#[test]
fn an_unwritable_textfile_queues_and_a_removed_target_goes_at_the_next_registration() {
    let sb = sandbox(r#"["prometheus", "local"]"#);
    let file = textfile(&sb);
    // A plain file where the textfile's directory should be.
    sb.write("textfiles", "in the way");
    let out = sb
        .cmd(&["submit", "web1-backup", "done", "n=5s", "2"])
        .output()
        .unwrap();
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(3), "queued: {text}");
    assert!(
        text.contains(&format!("{}", file.display())),
        "the message names the file: {text}"
    );
    let local = std::fs::read_to_string(sb.state_dir().join("local/results.jsonl")).unwrap();
    assert_eq!(local.lines().count(), 1, "local took it at once: {local}");
    let measured = seconds(
        last_result(&sb, "web1-backup")["measured_at_ms"]
            .as_u64()
            .unwrap(),
    );

    sb.edit_config(BACKUP_BLOCK, "");
    std::fs::remove_file(sb.path("textfiles")).unwrap();
    run_ok(&sb, &["flush"]);
    let content = std::fs::read_to_string(&file).unwrap();
    assert_eq!(
        content,
        expected(&[
            ("nixcloud_monitoring_state", vec![format!("{BACKUP} 2")]),
            (
                "nixcloud_monitoring_last_result_timestamp_seconds",
                vec![format!("{BACKUP} {measured}")]
            ),
            // From the first try, when the target was still configured (the store was written,
            // the textfile was not); no registration time: it was never registered.
            (
                "nixcloud_monitoring_check_interval_seconds",
                vec![format!("{BACKUP} 3600")]
            ),
            (
                "nixcloud_monitoring_timeout_seconds",
                vec![format!("{BACKUP} 10800")]
            ),
            (
                "nixcloud_monitoring_failures_in_a_row",
                vec![format!("{BACKUP} 1")]
            ),
            (
                "nixcloud_monitoring_failure_threshold",
                vec![format!("{BACKUP} 1")]
            ),
            (
                "nixcloud_monitoring_perfdata",
                vec![
                    r#"{target="web1-backup",host="web1",service="backup",label="n",uom="s"} 5"#
                        .to_string()
                ],
            ),
        ])
    );
    // Delivered once: flushing again finds nothing and changes nothing.
    run_ok(&sb, &["flush"]);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), content);

    run_ok(&sb, &["register"]);
    let content = std::fs::read_to_string(&file).unwrap();
    assert!(!content.contains("web1-backup"), "{content}");
    assert!(
        content.contains(&format!(
            "nixcloud_monitoring_registered_timestamp_seconds{DISK} "
        )),
        "{content}"
    );
}

/// A backlog goes out in one rewrite of the textfile, not one per result, and the file then
/// shows each target's newest result.
#[test]
fn a_backlog_is_written_in_one_rewrite() {
    let sb = sandbox(r#"["prometheus"]"#);
    sb.write("textfiles", "in the way");
    for state in ["0", "1", "2", "3", "1"] {
        let out = sb
            .cmd(&[
                "submit",
                "web1-backup",
                &format!("state {state}"),
                "",
                state,
            ])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(3), "{}", output_text(&out));
    }
    std::fs::remove_file(sb.path("textfiles")).unwrap();
    let text = run_ok(&sb, &["-vv", "flush"]);
    assert!(
        text.contains("delivered 5, refused 0, still queued 0"),
        "{text}"
    );
    assert_eq!(text.matches(" written ").count(), 1, "one rewrite: {text}");
    let content = std::fs::read_to_string(textfile(&sb)).unwrap();
    assert!(
        content.contains(&format!("nixcloud_monitoring_state{BACKUP} 1\n")),
        "{content}"
    );
}

/// `y=1e999` became the value 1e99 with the unit `9`, and an item after a malformed one was
/// dropped with it (issue 23.6): an out-of-range number is left out alone, said at `-v`.
#[test]
fn an_out_of_range_perfdata_number_is_left_out_alone() {
    let sb = sandbox(r#"["prometheus"]"#);
    let text = run_ok(
        &sb,
        &[
            "-v",
            "submit",
            "web1-backup",
            "ok",
            "x=1 y=1e999 it's=3 z=2ms",
            "0",
        ],
    );
    assert!(
        text.contains("perfdata y=1e999: 1e999 is out of range for a number; left out"),
        "{text}"
    );
    let content = std::fs::read_to_string(textfile(&sb)).unwrap();
    let series: Vec<&str> = content
        .lines()
        .filter(|l| l.starts_with("nixcloud_monitoring_perfdata{"))
        .collect();
    let labels: Vec<(&str, &str, &str)> = series
        .iter()
        .map(|l| {
            let field = |k: &str| {
                let start = l.find(&format!("{k}=\"")).unwrap() + k.len() + 2;
                &l[start..start + l[start..].find('"').unwrap()]
            };
            (field("label"), field("uom"), l.rsplit_once(' ').unwrap().1)
        })
        .collect();
    assert_eq!(
        labels,
        [("x", "", "1"), ("it's", "", "3"), ("z", "ms", "2")],
        "{content}"
    );
}
