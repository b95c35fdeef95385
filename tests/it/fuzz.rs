//! No panic and no hang, whatever the input (issue 23.2): arbitrary bytes as a spool entry, a
//! queue entry, a `last/` file and the config, fed to the built agent. Every command must end
//! by itself (within 20 s) with one of its own exit codes (0-5): a panic is exit 101 in this
//! debug build, and a hang is a kill.
//!
//! A property test with a fixed seed: `NIXCLOUD_FUZZ_CASES` cases (default 48; each runs a
//! dozen commands), `PROPTEST_RNG_SEED` for another seed. The inputs are random bytes, and
//! results and configs that are almost right (one field or line replaced by something odd,
//! cut short), which get further into the agent than noise does.

use crate::util::{output_text, Sandbox, TestServer};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use serde_json::{json, Value};
use std::time::Duration;

fn settings() -> Config {
    let cases = std::env::var("NIXCLOUD_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(48);
    let mut config = Config::with_cases(cases);
    config.rng_seed = match std::env::var("PROPTEST_RNG_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        Some(seed) => RngSeed::Fixed(seed),
        None => RngSeed::Fixed(0x6675_7a7a_6e69_7863),
    };
    config.failure_persistence = None;
    config
}

/// Something odd to put where a value belongs.
fn odd_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        1 => any::<i64>().prop_map(|n| json!(n)),
        1 => any::<u64>().prop_map(|n| json!(n)),
        // Times after the year 9999 (a panic in formatting them, once), often.
        4 => (253_402_300_800_000u64..=u64::MAX).prop_map(|n| json!(n)),
        1 => Just(json!(u64::MAX)),
        1 => Just(json!(-1)),
        1 => Just(json!(1.5e300)),
        1 => Just(Value::Null),
        1 => Just(json!([])),
        1 => Just(json!({"a": [1, {"b": null}]})),
        1 => vec(any::<char>(), 0..40).prop_map(|c| json!(String::from_iter(c))),
        1 => (1usize..200_000).prop_map(|n| json!("x".repeat(n))),
        1 => Just(json!("99999999999999999999999-1-0")),
        1 => Just(json!("1-2-3\r\nX: y")),
        1 => Just(json!("../../../etc/passwd")),
    ]
}

/// A result as the agent writes it, for target `h-n`.
fn good_result() -> Value {
    json!({
        "id": "17000000000000000000-7-0", "target": "h-n", "host": "h", "name": "n",
        "state": 1, "output": "out", "perfdata": "a=1;2;3", "measured_at_ms": 1_700_000_000_000u64,
        "duration_ms": 5,
    })
}

/// A result file: random bytes, or a good result with one field odd, a field missing or
/// added, and perhaps cut short.
fn result_bytes() -> impl Strategy<Value = Vec<u8>> {
    let fields = [
        "id",
        "target",
        "host",
        "name",
        "state",
        "output",
        "perfdata",
        "measured_at_ms",
        "duration_ms",
    ];
    // The time twice as often as the rest.
    let mut fields = fields.to_vec();
    fields.push("measured_at_ms");
    let edited = (
        prop::sample::select(fields),
        odd_value(),
        any::<bool>(),
        prop::option::of(0usize..200),
    )
        .prop_map(|(field, value, remove, cut)| {
            let mut r = good_result();
            if remove {
                r.as_object_mut().unwrap().remove(field);
            } else {
                r[field] = value;
            }
            let mut bytes = serde_json::to_vec(&r).unwrap();
            if let Some(at) = cut {
                bytes.truncate(at);
            }
            bytes
        });
    prop_oneof![vec(any::<u8>(), 0..300), edited]
}

/// The name a file with these bytes gets: its id when it has one that can be a file name (so
/// the agent reads further than the name check), else a fixed id.
fn name_for(bytes: &[u8]) -> String {
    serde_json::from_slice::<Value>(bytes)
        .ok()
        .and_then(|v| v["id"].as_str().map(str::to_string))
        .filter(|id| {
            !id.is_empty() && id.len() < 200 && !id.contains(['/', '\0']) && !id.starts_with('.')
        })
        .unwrap_or_else(|| "00000000000000000001-1-0".to_string())
}

/// A config for the nixcloud backend (which sends the time of measurement as a header) at
/// `{api}`, key in `{dir}/key`.
const CONFIG: &str = "apiHost = \"{api}\"\napiKeyFile = \"{dir}/key\"\nstateDir = \"{state}\"\n\
                      [delivery]\nattempts = 2\ntimeout = 5\n\
                      [queue]\nmaxCount = 100\n\
                      [[targets.passive]]\nhost = \"h\"\nname = \"n\"\n\
                      timers = { check = 5, timeout = 15 }\n\
                      [[targets.passive]]\nhost = \"h\"\nname = \"s\"\nscript = 'exit=0; status=ok'\n";

/// A config file: random bytes, or the good config with one line replaced by odd text.
fn config_bytes() -> impl Strategy<Value = Vec<u8>> {
    let lines = CONFIG.lines().count();
    let odd_line = prop_oneof![
        vec(any::<u8>(), 0..60).prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
        odd_value().prop_map(|v| format!("timeout = {v}")),
        odd_value().prop_map(|v| format!("check = {v}")),
        odd_value().prop_map(|v| format!("maxCount = {v}")),
        odd_value().prop_map(|v| format!("stateDir = {v}")),
        odd_value().prop_map(|v| format!("name = {v}")),
        Just("timers = { check = 200000000000000000, timeout = 300000000000000000 }".to_string()),
        Just("[[targets.passive]]".to_string()),
        Just("[queue".to_string()),
    ];
    let edited = (0..lines, odd_line).prop_map(|(at, line)| {
        let mut text: Vec<String> = CONFIG.lines().map(str::to_string).collect();
        text[at] = line;
        text.join("\n").into_bytes()
    });
    prop_oneof![vec(any::<u8>(), 0..400), edited]
}

/// Runs the agent and fails on a panic (or any code not the agent's) and on a hang.
fn ends_with_its_own_code(sb: &Sandbox, args: &[&str], input: &str) {
    let out = sb
        .cmd(args)
        .timeout(Duration::from_secs(20))
        .output()
        .unwrap();
    let code = out.status.code();
    assert!(
        code.is_some_and(|c| (0..=5).contains(&c)),
        "{args:?} on {input}: {}",
        output_text(&out)
    );
}

proptest! {
    #![proptest_config(settings())]

    #[test]
    fn arbitrary_spool_queue_and_last_files_make_no_panic_and_no_hang(
        spool in result_bytes(),
        queued in result_bytes(),
        last in result_bytes(),
    ) {
        let server = TestServer::start();
        let sb = Sandbox::new();
        sb.write("key", "k");
        sb.config(&CONFIG.replace("{api}", &server.url()));
        for (dir, bytes) in [("spool", &spool), ("queue", &queued)] {
            let dir = sb.state_dir().join(dir);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join(format!("{}.json", name_for(bytes))), bytes).unwrap();
        }
        std::fs::create_dir_all(sb.state_dir().join("last")).unwrap();
        std::fs::write(sb.state_dir().join("last/h-n.json"), &last).unwrap();
        let input = format!(
            "spool {:?}, queue {:?}, last {:?}",
            String::from_utf8_lossy(&spool[..spool.len().min(300)]),
            String::from_utf8_lossy(&queued[..queued.len().min(300)]),
            String::from_utf8_lossy(&last[..last.len().min(300)]),
        );
        for args in [
            &["status"][..],
            &["status", "--json"],
            &["status", "--check"],
            &["flush"],
            &["status", "--check"],
            &["submit", "h-n", "after", "", "0"],
            &["run", "h-s"],
            &["sync"],
            &["status"],
        ] {
            ends_with_its_own_code(&sb, args, &input);
        }
        // Whatever it was, it was delivered or set aside: nothing is left waiting.
        prop_assert!(sb.files_in("spool").is_empty(), "{}", input);
        prop_assert!(sb.files_in("queue").is_empty(), "{}", input);
    }

    #[test]
    fn an_arbitrary_config_makes_no_panic_and_no_hang(config in config_bytes()) {
        let server = TestServer::start();
        let sb = Sandbox::new();
        sb.write("key", "k");
        let text = String::from_utf8_lossy(&config)
            .replace("{state}", &sb.state_dir().display().to_string())
            .replace("{dir}", &sb.dir.path().display().to_string())
            .replace("{api}", &server.url())
            .into_bytes();
        std::fs::write(sb.path("config.toml"), &text).unwrap();
        let input = format!("config {:?}", String::from_utf8_lossy(&text));
        for args in [
            &["check"][..],
            &["status"],
            &["status", "--check"],
            &["submit", "h-n", "x", "", "0"],
            &["flush"],
        ] {
            ends_with_its_own_code(&sb, args, &input);
        }
    }
}
