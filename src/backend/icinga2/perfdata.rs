//! A script's `perfdata` as Icinga2 wants it: a list of `label=value[;warn;crit;min;max]`.
//!
//! Accepted input: Nagios perfdata (`load1=0.5;1;2 'disk /'=40%`, labels with spaces quoted),
//! a JSON object (`{"x":5,"y":"6ms"}`, as the original's documentation suggested), whose
//! numbers, strings and booleans become `x=5`, `y=6ms`, or a JSON array of Nagios items
//! (`["x=5;1;2"]`, Icinga2's own form). Anything else (a word without `=`, a value that is not
//! a number, a nested JSON value) is left out: Icinga2 would only log a parse warning for it,
//! and the output text still carries what the script said.

/// Converts perfdata text into Icinga2's array form.
pub fn convert(text: &str) -> Vec<String> {
    let text = text.trim();
    let items = match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Object(map)) => map
            .into_iter()
            .filter_map(|(label, value)| {
                let value = match value {
                    serde_json::Value::Number(n) => n.to_string(),
                    serde_json::Value::String(s) => s,
                    serde_json::Value::Bool(b) => u8::from(b).to_string(),
                    _ => return None,
                };
                Some(format!("{}={value}", quote_label(&label)))
            })
            .collect(),
        Ok(serde_json::Value::Array(items)) => items
            .into_iter()
            .filter_map(|item| item.as_str().map(str::to_string))
            .collect(),
        // Not JSON, or a bare JSON number or string: Nagios text.
        _ => crate::result::perfdata::split_nagios(text),
    };
    items.into_iter().filter(|item| valid_item(item)).collect()
}

/// `label=value…` with a label and a value that starts like a number.
fn valid_item(item: &str) -> bool {
    let Some((label, rest)) = item.rsplit_once('=') else {
        return false;
    };
    let label = label.trim_matches('\'');
    let starts_numeric =
        rest.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '.' || c == 'U');
    !label.is_empty() && starts_numeric
}

fn quote_label(label: &str) -> String {
    if label.contains([' ', '=', '\'']) {
        format!("'{}'", label.replace('\'', "''"))
    } else {
        label.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::convert;

    #[test]
    fn nagios_perfdata_is_split_into_items() {
        assert_eq!(
            convert("load1=0.5;1;2;0 'disk /'=40%;80;90 rta=1.2ms"),
            ["load1=0.5;1;2;0", "'disk /'=40%;80;90", "rta=1.2ms"]
        );
    }

    #[test]
    fn json_objects_become_label_value_items() {
        assert_eq!(
            convert(r#"{"x":5,"y":"6ms","ok":true,"nested":{"a":1}}"#),
            ["ok=1", "x=5", "y=6ms"]
        );
        assert_eq!(convert(r#"{"free space":3}"#), ["'free space'=3"]);
        assert_eq!(convert(r#"{"x":"abc","y":""}"#), Vec::<String>::new());
    }

    #[test]
    fn json_arrays_are_icinga_s_own_form() {
        assert_eq!(
            convert(r#"["x=5;1;2", "'a b'=3s", "junk", 7]"#),
            ["x=5;1;2", "'a b'=3s"]
        );
    }

    #[test]
    fn garbage_is_left_out() {
        assert_eq!(convert("all good"), Vec::<String>::new());
        assert_eq!(convert("x=5 oops y=U"), ["x=5", "y=U"]);
        assert_eq!(convert("{not json"), Vec::<String>::new());
        assert_eq!(convert("42"), Vec::<String>::new());
        assert!(convert("").is_empty());
    }
}
