//! A script's `perfdata` as numbers for Prometheus: one `(label, value, unit)` per item.
//!
//! Accepted input, as the Icinga2 backend accepts it (kept apart on purpose: backends do not
//! depend on each other): Nagios perfdata `'label'=value[UOM][;warn;crit;min;max] …` (labels
//! with spaces quoted, `''` a quote inside), a JSON object (`{"x":5,"y":"6ms"}`, as the
//! original's documentation suggested), or a JSON array of Nagios items. Items that carry no
//! number (`x=U`, a word without `=`, a nested JSON value) are left out; the first of two items
//! with the same label wins, as two samples with the same labels would break the scrape.

use serde::{Deserialize, Serialize};

/// One perfdata value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Value {
    pub label: String,
    pub value: f64,
    /// The unit as the script wrote it (`%`, `s`, `ms`, `B`, `c`, …), empty when none.
    pub uom: String,
}

/// Parses perfdata text; never fails, leaves out what it cannot read.
pub fn parse(text: &str) -> Vec<Value> {
    let text = text.trim();
    let mut values: Vec<Value> = match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Object(map)) => map
            .into_iter()
            .filter_map(|(label, v)| {
                let field = match v {
                    serde_json::Value::Number(n) => n.to_string(),
                    serde_json::Value::String(s) => s,
                    serde_json::Value::Bool(b) => u8::from(b).to_string(),
                    _ => return None,
                };
                value_of(label, &field)
            })
            .collect(),
        Ok(serde_json::Value::Array(items)) => items
            .iter()
            .filter_map(|item| item.as_str().and_then(item_of))
            .collect(),
        // Not JSON, or a bare JSON number or string: Nagios text.
        _ => nagios_items(text)
            .iter()
            .filter_map(|i| item_of(i))
            .collect(),
    };
    let mut seen = std::collections::HashSet::new();
    values.retain(|v| seen.insert(v.label.clone()));
    values
}

/// Splits Nagios text into items on whitespace outside quoted labels. Text that
/// [`crate::result::keep_tail`] cut starts with a marker and then a piece of an item: both are
/// dropped, so a cut label does not show up as a series of its own.
fn nagios_items(text: &str) -> Vec<String> {
    let (text, cut) = match text.strip_prefix("[cut: first ") {
        Some(rest) => match rest.split_once("] ") {
            Some((_, tail)) => (tail, true),
            None => ("", true),
        },
        None => (text, false),
    };
    let mut items = crate::result::perfdata::split_nagios(text);
    if cut && !items.is_empty() {
        items.remove(0);
    }
    items
}

/// `'label'=value[UOM][;…]` or `label=value[UOM][;…]`.
fn item_of(item: &str) -> Option<Value> {
    let (label, rest) = match item.strip_prefix('\'') {
        Some(quoted) => {
            // The closing quote is the first one not doubled.
            let mut label = String::new();
            let mut chars = quoted.char_indices().peekable();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                if c == '\'' {
                    if chars.peek().is_some_and(|&(_, n)| n == '\'') {
                        chars.next();
                        label.push('\'');
                        continue;
                    }
                    end = Some(i + 1);
                    break;
                }
                label.push(c);
            }
            (label, quoted[end?..].strip_prefix('=')?)
        }
        None => {
            let (label, rest) = item.split_once('=')?;
            (label.to_string(), rest)
        }
    };
    value_of(label, rest.split(';').next().unwrap_or(""))
}

/// A label and `value[UOM]`; `None` without a label or a number. The number is read by the
/// float grammar (`[+-]digits[.digits][e[+-]digits]`, no `inf` or `NaN`) and the rest is the
/// unit; a number out of range (`1e999`) leaves this item out, with a note at `-v` (it once
/// became `1e99` with the unit `9`).
fn value_of(label: String, field: &str) -> Option<Value> {
    if label.is_empty() {
        return None;
    }
    let field = field.trim();
    let end = number_end(field);
    if end == 0 {
        return None;
    }
    let value: f64 = field[..end].parse().ok()?;
    if !value.is_finite() {
        tracing::info!(
            "perfdata {label}={field}: {} is out of range for a number; left out",
            &field[..end]
        );
        return None;
    }
    Some(Value {
        label,
        value,
        uom: field[end..].to_string(),
    })
}

/// The length of the longest prefix of `text` that is a decimal number: an optional sign,
/// digits with an optional fraction (at least one digit in all), an optional exponent with
/// digits. 0 when none.
fn number_end(text: &str) -> usize {
    let b = text.as_bytes();
    let digits = |from: usize| from + b[from..].iter().take_while(|c| c.is_ascii_digit()).count();
    let mut i = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    let int_end = digits(i);
    let mut any = int_end > i;
    i = int_end;
    if b.get(i) == Some(&b'.') {
        let frac_end = digits(i + 1);
        if any || frac_end > i + 1 {
            any = true;
            i = frac_end;
        }
    }
    if !any {
        return 0;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        let sign = usize::from(matches!(b.get(i + 1), Some(b'+' | b'-')));
        let exp_end = digits(i + 1 + sign);
        if exp_end > i + 1 + sign {
            i = exp_end;
        }
    }
    i
}

#[cfg(test)]
mod tests {
    use super::{parse, Value};

    fn v(label: &str, value: f64, uom: &str) -> Value {
        Value {
            label: label.into(),
            value,
            uom: uom.into(),
        }
    }

    #[test]
    fn nagios_items_with_units_and_thresholds() {
        assert_eq!(
            parse("load1=0.5;1;2;0 'disk /'=40%;80;90 rta=1.2ms c=-3e2 up=7"),
            [
                v("load1", 0.5, ""),
                v("disk /", 40.0, "%"),
                v("rta", 1.2, "ms"),
                v("c", -300.0, ""),
                v("up", 7.0, "")
            ]
        );
    }

    #[test]
    fn quoted_labels_keep_quotes_equals_and_spaces() {
        assert_eq!(
            parse("'it''s = \"x\"'=5KB;;;0"),
            [v("it's = \"x\"", 5.0, "KB")]
        );
    }

    #[test]
    fn json_objects_and_arrays() {
        assert_eq!(
            parse(r#"{"x":5,"y":"6ms","ok":true,"nested":{"a":1},"s":"abc"}"#),
            [v("ok", 1.0, ""), v("x", 5.0, ""), v("y", 6.0, "ms")]
        );
        assert_eq!(
            parse(r#"["x=5;1;2", "'a b'=3s", "junk", 7]"#),
            [v("x", 5.0, ""), v("a b", 3.0, "s")]
        );
    }

    #[test]
    fn garbage_unknown_and_repeats_are_left_out() {
        assert_eq!(
            parse("all good x=U y=inf z=NaN w= =3 'open=1 a=1 a=2"),
            // The unclosed quote swallowed a=1 and a=2 once.
            [v("a", 1.0, "")]
        );
        assert_eq!(parse("a=1 b=2 a=3"), [v("a", 1.0, ""), v("b", 2.0, "")]);
        assert!(parse("").is_empty());
        assert!(parse("42").is_empty());
    }

    /// `y=1e999` became `1e99` with the unit `9`; and an item after a malformed one was
    /// dropped with it.
    #[test]
    fn an_out_of_range_number_is_left_out_alone() {
        assert_eq!(
            parse("x=1 y=1e999 z=2ms big=-1e308 w=1e-999"),
            [
                v("x", 1.0, ""),
                v("z", 2.0, "ms"),
                v("big", -1e308, ""),
                v("w", 0.0, "")
            ]
        );
        assert_eq!(parse("it's=5 b=2"), [v("it's", 5.0, ""), v("b", 2.0, "")]);
    }

    #[test]
    fn numbers_are_read_by_the_float_grammar_and_the_rest_is_the_unit() {
        for (field, value, uom) in [
            ("5", 5.0, ""),
            ("+5", 5.0, ""),
            ("-.5s", -0.5, "s"),
            ("5.", 5.0, ""),
            ("1.5e3B", 1500.0, "B"),
            ("2E-2%", 0.02, "%"),
            ("7e", 7.0, "e"),
            ("7e+", 7.0, "e+"),
            ("3KB", 3.0, "KB"),
            ("1.2.3", 1.2, ".3"),
        ] {
            assert_eq!(
                parse(&format!("a={field}")),
                [v("a", value, uom)],
                "{field}"
            );
        }
        for field in ["", ".", "-", "+.", "e5", "inf", "NaN", "U", "infinity"] {
            assert!(parse(&format!("a={field}")).is_empty(), "{field}");
        }
    }

    #[test]
    fn a_cut_item_at_the_start_is_dropped() {
        assert_eq!(
            parse("[cut: first 10 of 70000 bytes dropped] bel=1 full=2"),
            [v("full", 2.0, "")]
        );
    }
}
