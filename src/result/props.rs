//! Property tests of output and perfdata handling: [`keep_tail`] (the 64 KiB cut with its
//! `[cut: …]` marker), [`State`] parsing, the queue's JSON form of a [`CheckResult`], and the
//! Icinga2 backend's perfdata conversion. Any string goes in; nothing may panic, and what comes
//! out is either a clear error or a faithful value.
//!
//! Case count: 256 per property (`PROPTEST_CASES` overrides), from a fixed seed so that every
//! CI run tries the same inputs (`PROPTEST_RNG_SEED=<n>` explores others).

use super::{keep_tail, CheckResult, State, MAX_TEXT};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, RngSeed};

/// The Icinga2 backend's converter, compiled once more here (tests only): its module is
/// private to the backend, whose code these tests may call but not open up.
#[allow(clippy::duplicate_mod)]
#[path = "../backend/icinga2/perfdata.rs"]
mod perfdata;

/// The settings of every property test in the crate (also used by `config`'s).
pub(crate) fn settings() -> ProptestConfig {
    // `default()` reads PROPTEST_CASES (default 256) and PROPTEST_RNG_SEED.
    let mut config = ProptestConfig::default();
    if std::env::var_os("PROPTEST_RNG_SEED").is_none() {
        config.rng_seed = RngSeed::Fixed(0x6e69_7863_6c6f_7564);
    }
    // A failure prints its shrunk input; no `proptest-regressions/` files in src/.
    config.failure_persistence = None;
    config
}

/// Any string of up to `max` chars, control characters, surrogates' neighbours and all.
pub(crate) fn any_text(max: usize) -> impl Strategy<Value = String> {
    vec(any::<char>(), 0..=max).prop_map(String::from_iter)
}

/// Any bytes, read as the agent reads a script's output (invalid UTF-8 replaced).
fn lossy_text(max: usize) -> impl Strategy<Value = String> {
    vec(any::<u8>(), 0..=max).prop_map(|b| String::from_utf8_lossy(&b).into_owned())
}

/// A text of exactly `len` bytes around [`MAX_TEXT`] (or somewhat above): random head and tail,
/// and in between one random char repeated, so the cut often falls inside a multi-byte char.
fn text_near_limit() -> impl Strategy<Value = String> {
    let len = prop_oneof![
        Just(MAX_TEXT),
        Just(MAX_TEXT + 1),
        MAX_TEXT - 8..MAX_TEXT + 8,
        0..4 * MAX_TEXT,
    ];
    (any_text(80), any::<char>(), any_text(80), len).prop_map(|(head, fill, tail, len)| {
        let room = len.saturating_sub(head.len() + tail.len());
        let mut text = head;
        text.extend(std::iter::repeat_n(fill, room / fill.len_utf8()));
        text.extend(std::iter::repeat_n('.', room % fill.len_utf8()));
        text.push_str(&tail);
        text
    })
}

/// What [`keep_tail`] promises for `text` and `max`.
fn tail_is_kept(text: &str, max: usize) -> Result<(), TestCaseError> {
    let cut = keep_tail(text, max);
    prop_assert!(
        cut.len() <= max,
        "{} bytes, over the limit {max}",
        cut.len()
    );
    if text.len() <= max {
        prop_assert_eq!(cut.as_str(), text, "under the limit, the text is unchanged");
        return Ok(());
    }
    // `[cut: first N of L bytes dropped] ` followed by exactly the bytes after the first N.
    let rest = cut.strip_prefix("[cut: first ");
    prop_assert!(rest.is_some(), "no marker: {:?}", &cut[..cut.len().min(80)]);
    let (dropped, rest) = rest.unwrap().split_once(" of ").unwrap_or(("?", ""));
    let (total, kept) = rest.split_once(" bytes dropped] ").unwrap_or(("?", ""));
    let dropped: usize = dropped
        .parse()
        .map_err(|_| TestCaseError::fail(format!("marker: {:?}", &cut[..cut.len().min(80)])))?;
    prop_assert_eq!(
        total,
        text.len().to_string(),
        "marker names the original length"
    );
    prop_assert!(text.is_char_boundary(dropped));
    prop_assert_eq!(
        kept,
        &text[dropped..],
        "the kept part is the original's end"
    );
    prop_assert!(cut.ends_with(text.chars().last().unwrap()));
    // As much as the limit allows is kept: the marker's room, less at most a split char.
    prop_assert!(
        kept.len() + 3 >= max - 64,
        "kept only {} bytes of {}",
        kept.len(),
        text.len()
    );
    Ok(())
}

proptest! {
    #![proptest_config(settings())]

    /// The real limit, with texts of exactly 64 KiB, one byte more, and up to 256 KiB.
    #[test]
    fn keep_tail_at_the_64k_limit(text in text_near_limit()) {
        tail_is_kept(&text, MAX_TEXT)?;
    }

    /// Any text against small limits, so that short random texts get cut too.
    #[test]
    fn keep_tail_any_text_any_limit(text in any_text(600), max in 68usize..700) {
        tail_is_kept(&text, max)?;
    }

    #[test]
    fn keep_tail_any_bytes(text in lossy_text(1200), max in 68usize..1400) {
        tail_is_kept(&text, max)?;
    }

    /// `State` from text (the queue's and the old CLI's form): exactly the numbers 0 to 3,
    /// with a message that quotes the input otherwise.
    #[test]
    fn state_parses_only_0_to_3(text in prop_oneof![any_text(6), "[ +]?[0-9]{1,3}[ ]?"]) {
        let number = text.trim().parse::<u8>().ok();
        match text.parse::<State>() {
            Ok(state) => prop_assert_eq!(Some(u8::from(state)), number),
            Err(e) => {
                prop_assert!(number.is_none_or(|n| n > 3), "{text:?} refused: {e}");
                prop_assert!(e.starts_with("state "), "{e}");
            }
        }
    }

    /// A result survives the queue's JSON form unchanged, whatever its texts.
    #[test]
    fn results_round_trip_through_json(
        output in any_text(300),
        perfdata in lossy_text(300),
        host in any_text(20),
        state in 0u8..4,
        measured_at_ms in any::<u64>(),
        duration_ms in any::<Option<u64>>(),
    ) {
        let result = CheckResult {
            id: format!("{measured_at_ms:020}-1-0"),
            target: format!("{host}-n"),
            host,
            name: "n".into(),
            state: State::try_from(state).unwrap(),
            output,
            perfdata,
            measured_at_ms,
            duration_ms,
        };
        let json = serde_json::to_vec(&result).unwrap();
        let back: CheckResult = serde_json::from_slice(&json).unwrap();
        prop_assert_eq!(back, result);
    }

    /// Perfdata as a script may write it, of any form: no panic, and only well-formed items
    /// (`label=value…`, a label, a value that starts like a number) go to Icinga2.
    #[test]
    fn perfdata_any_text_gives_only_items(
        text in prop_oneof![any_text(300), lossy_text(300), nagios_text(), json_text()],
    ) {
        for item in perfdata::convert(&text) {
            let (label, value) = item.rsplit_once('=').unwrap_or(("", ""));
            prop_assert!(!label.trim_matches('\'').is_empty(), "{item:?} from {text:?}");
            prop_assert!(
                value.starts_with(|c: char| c.is_ascii_digit() || "-.U".contains(c)),
                "{item:?} from {text:?}"
            );
        }
    }

    /// Well-formed Nagios perfdata, separated by any white space, comes out item by item.
    #[test]
    fn nagios_perfdata_is_kept_item_by_item(
        items in vec(nagios_item(), 0..6),
        gaps in vec(prop_oneof![Just(" "), Just("  "), Just("\t"), Just("\n"), Just(" \r\n")], 6),
    ) {
        let mut text = String::new();
        for (item, gap) in items.iter().zip(&gaps) {
            text.push_str(item);
            text.push_str(gap);
        }
        prop_assert_eq!(perfdata::convert(&text), items);
    }

    /// A JSON object's numbers become `label=value`, labels quoted where Nagios needs it.
    #[test]
    fn json_object_numbers_become_items(
        entries in proptest::collection::btree_map("[a-zA-Z0-9 _/='.-]{0,10}", any::<i32>(), 0..6),
    ) {
        let json = serde_json::to_string(&entries).unwrap();
        let want: Vec<String> = entries
            .iter()
            .filter(|(label, _)| !label.chars().all(|c| c == '\''))
            .map(|(label, n)| {
                if label.contains([' ', '=', '\'']) {
                    format!("'{}'={n}", label.replace('\'', "''"))
                } else {
                    format!("{label}={n}")
                }
            })
            .collect();
        prop_assert_eq!(perfdata::convert(&json), want, "{}", json);
    }
}

/// One well-formed Nagios item: plain or quoted label, value with unit, thresholds.
fn nagios_item() -> impl Strategy<Value = String> {
    let label = prop_oneof![
        "[a-zA-Z_][a-zA-Z0-9_./:-]{0,12}",
        "'[a-z /]{1,8}('')?[a-z ]{0,4}'"
    ];
    let value = prop_oneof![
        "-?[0-9]{1,6}(\\.[0-9]{1,3})?(ms|s|us|%|B|KB|MB|c)?",
        "\\.[0-9]{1,3}",
        Just("U".to_string()),
    ];
    let thresholds = "(;(-?[0-9]{1,4}(\\.[0-9])?)?){0,4}";
    (label, value, thresholds).prop_map(|(l, v, t)| format!("{l}={v}{t}"))
}

/// Text that looks like Nagios perfdata but often is not quite.
fn nagios_text() -> impl Strategy<Value = String> {
    vec(
        prop_oneof![nagios_item(), "[a-z='; U.-]{0,8}", any_text(4)],
        0..6,
    )
    .prop_map(|parts| parts.join(" "))
}

/// JSON values (objects, arrays, scalars, nested) as a script may print them.
fn json_text() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        any_text(8).prop_map(serde_json::Value::from),
        nagios_item().prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..5).prop_map(serde_json::Value::from),
            proptest::collection::btree_map(any_text(6), inner, 0..5)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
    .prop_map(|v| v.to_string())
}
