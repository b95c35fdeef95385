//! Perfdata text as plugins print it, shared by the backends that take it apart.

/// Splits Nagios perfdata (`'label'=value[UOM];warn;crit;min;max …`) into its items: on white
/// space outside single-quoted labels.
pub fn split_nagios(text: &str) -> Vec<String> {
    let mut items = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in text.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                current.push(c);
            }
            c if c.is_whitespace() && !quoted => {
                if !current.is_empty() {
                    items.push(std::mem::take(&mut current));
                }
            }
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        items.push(current);
    }
    items
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
}
