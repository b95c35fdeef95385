//! Text the page shows: figures, percentages, and untrusted text made displayable.

use super::history::Mark;
use super::time::{push_clock, push_date, push_num, push_span, DAY_MS};
use super::view::DayView;

/// Control characters other than newline and tab shown as their Unicode pictures (ESC as
/// `␛`): a script's colour codes or a NUL stay visible and harmless. (HTML escaping itself is
/// maud's; this only keeps what no parser should have to take.)
pub fn clean(text: &str) -> std::borrow::Cow<'_, str> {
    let bad = |c: char| (c < ' ' && c != '\n' && c != '\t') || c == '\x7f';
    if !text.contains(bad) {
        return text.into();
    }
    text.chars()
        .map(|c| match c {
            '\x7f' => '\u{2421}',
            c if bad(c) => char::from_u32(0x2400 + c as u32).unwrap_or('\u{fffd}'),
            c => c,
        })
        .collect::<String>()
        .into()
}

/// `99.31 %`, `100 %`, or `–` without data. Never rounded up to 100 while any time was bad.
pub fn percent(share: Option<f64>) -> String {
    match share {
        None => "–".to_string(),
        Some(s) if s >= 1.0 => "100 %".to_string(),
        Some(s) => format!("{:.2} %", (s * 10_000.0).floor() / 100.0),
    }
}

/// A perfdata value with as many decimals as its size needs: `81`, `0.25`, `12.5`.
pub fn number(v: f32) -> String {
    let text = match v.abs() {
        a if a >= 100.0 => format!("{v:.0}"),
        a if a >= 10.0 => format!("{v:.1}"),
        _ => format!("{v:.2}"),
    };
    match text.contains('.') {
        true => text.trim_end_matches('0').trim_end_matches('.').to_string(),
        false => text,
    }
}

/// Appends what a day bar says on hover or tap: `2026-11-30: OK 23 h 10 min, WARNING
/// 50 min; 24 results; problems 03:12–04:02`. Dates, numbers and constant words only:
/// nothing to escape in HTML.
pub fn push_day_figures(text: &mut String, d: &DayView) {
    push_date(text, d.day);
    if d.ms.iter().all(|&ms| ms == 0) && d.results == 0 {
        text.push_str(": no data");
        return;
    }
    let mut sep = ": ";
    for m in Mark::ALL.into_iter().filter(|&m| d.ms[m as usize] > 0) {
        text.push_str(sep);
        text.push_str(m.label());
        text.push(' ');
        push_span(text, d.ms[m as usize]);
        sep = ", ";
    }
    // No time held yet (the day's first result, this very moment): the results alone.
    text.push_str(if sep == ": " { ": " } else { "; " });
    push_num(text, u64::from(d.results), 1);
    text.push_str(if d.results == 1 {
        " result"
    } else {
        " results"
    });
    let (a, b) = (d.first_problem_ms, d.last_problem_ms);
    if a > 0 {
        let same = (a % DAY_MS) / 60_000 == (b % DAY_MS) / 60_000;
        text.push_str(if same {
            "; a problem at "
        } else {
            "; problems "
        });
        push_clock(text, a);
        if !same {
            text.push('–');
            push_clock(text, b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day_figures(d: &DayView) -> String {
        let mut text = String::new();
        push_day_figures(&mut text, d);
        text
    }

    #[test]
    fn control_characters_become_visible_pictures() {
        assert_eq!(
            clean("a\x1b[31mred\x00\n\tb\x7f"),
            "a\u{241b}[31mred\u{2400}\n\tb\u{2421}"
        );
        assert!(matches!(clean("plain <b>"), std::borrow::Cow::Borrowed(_)));
    }

    #[test]
    fn percentages_never_round_a_bad_minute_away() {
        assert_eq!(percent(None), "–");
        assert_eq!(percent(Some(1.0)), "100 %");
        assert_eq!(percent(Some(0.999_99)), "99.99 %");
        assert_eq!(percent(Some(0.5)), "50.00 %");
        assert_eq!(number(81.0), "81");
        assert_eq!(number(0.25), "0.25");
        assert_eq!(number(12.54), "12.5");
        assert_eq!(number(-1234.4), "-1234");
    }

    #[test]
    fn a_days_figures_name_each_state_the_results_and_the_problems() {
        let d = DayView {
            day: 20_422, // 2025-11-30
            worst: Some(Mark::Warning),
            ms: [83_400_000, 3_000_000, 0, 0, 0],
            results: 24,
            first_problem_ms: 1_764_472_320_000, // 03:12
            last_problem_ms: 1_764_475_320_000,  // 04:02
        };
        assert_eq!(
            day_figures(&d),
            "2025-11-30: OK 23 h 10 min, WARNING 50 min; 24 results; problems 03:12–04:02"
        );
        let empty = DayView {
            worst: None,
            ms: [0; 5],
            results: 0,
            first_problem_ms: 0,
            last_problem_ms: 0,
            ..d
        };
        assert_eq!(day_figures(&empty), "2025-11-30: no data");
        let one = DayView {
            worst: Some(Mark::Critical),
            ms: [0, 0, 1_000, 0, 0],
            results: 1,
            first_problem_ms: 1_764_472_320_000,
            last_problem_ms: 1_764_472_330_000, // the same minute
            ..d
        };
        assert_eq!(
            day_figures(&one),
            "2025-11-30: CRITICAL 1 s; 1 result; a problem at 03:12"
        );
        // Results but no time held yet (the day's first result, this very moment).
        let now = DayView { ms: [0; 5], ..one };
        assert_eq!(
            day_figures(&now),
            "2025-11-30: 1 result; a problem at 03:12"
        );
    }
}
