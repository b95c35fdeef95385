//! Perfdata text as plugins print it, shared by the backends that take it apart.

/// Splits Nagios perfdata (`'label'=value[UOM];warn;crit;min;max …`) into its items: on white
/// space outside single-quoted labels. A quote opens a label only at the start of an item
/// (`it's=5` is a label with an apostrophe), and one that is never closed quotes nothing: such
/// an item ends at the next white space like any other, so one malformed item cannot swallow
/// the items after it.
pub fn split_nagios(text: &str) -> Vec<String> {
    let mut items = Vec::new();
    let mut rest = text.trim_start();
    while !rest.is_empty() {
        let end = match rest.strip_prefix('\'') {
            Some(label) => closing_quote(label).map_or_else(
                || plain_end(rest),
                |at| {
                    let after = 1 + at + 1;
                    after + plain_end(&rest[after..])
                },
            ),
            None => plain_end(rest),
        };
        items.push(rest[..end].to_string());
        rest = rest[end..].trim_start();
    }
    items
}

/// Where the first white space is (or the end).
fn plain_end(text: &str) -> usize {
    text.find(char::is_whitespace).unwrap_or(text.len())
}

/// The byte offset of a quoted label's closing quote in `label` (the text after the opening
/// one): the first quote that is not doubled (`''` is a quote inside the label).
fn closing_quote(label: &str) -> Option<usize> {
    let bytes = label.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\'' {
            if bytes.get(i + 1) == Some(&b'\'') {
                i += 2;
                continue;
            }
            return Some(i);
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::split_nagios;

    #[test]
    fn spaces_split_items_except_inside_quoted_labels() {
        assert_eq!(
            split_nagios("  'root /'=81%;80;90  load=0.5\tx=1 "),
            ["'root /'=81%;80;90", "load=0.5", "x=1"]
        );
        assert!(split_nagios(" \n ").is_empty());
    }

    #[test]
    fn a_stray_quote_swallows_nothing() {
        // An apostrophe inside an unquoted label, and a quote never closed.
        assert_eq!(split_nagios("it's=5 b=2"), ["it's=5", "b=2"]);
        assert_eq!(split_nagios("'open=1 a=1 a=2"), ["'open=1", "a=1", "a=2"]);
        assert_eq!(split_nagios("x=1 'a b=2"), ["x=1", "'a", "b=2"]);
        // Doubled quotes inside a quoted label, and what follows its closing quote.
        assert_eq!(
            split_nagios("'it''s a b'=1;2 'x'=3 y=4"),
            ["'it''s a b'=1;2", "'x'=3", "y=4"]
        );
        assert_eq!(split_nagios("'a b'"), ["'a b'"]);
        assert_eq!(split_nagios("'"), ["'"]);
        assert_eq!(split_nagios("''=1 x=2"), ["''=1", "x=2"]);
    }
}
