//! `badges/<escaped id>.svg`: the target's name and state, in the shape of the badges READMEs
//! carry. A standalone SVG is XML: maud escapes the name, and every element is closed.

use super::text::clean;
use super::view::{Shown, TargetView};
use crate::result::State;
use maud::html;

/// Width of a text at 11 px Verdana, near enough: 6.5 px a character plus the padding.
fn width(text: &str) -> u32 {
    (text.chars().count() as f64 * 6.5).ceil() as u32 + 12
}

fn colour(shown: Shown) -> &'static str {
    use super::history::Mark;
    match shown {
        Shown::Pending => "#6e7781",
        Shown::Is(Mark::Ok) => "#1a7f37",
        Shown::Is(Mark::Warning) => "#9a6700",
        Shown::Is(Mark::Critical) => "#cf222e",
        Shown::Is(Mark::Unknown) => "#8250df",
        Shown::Is(Mark::Stale) => "#57606a",
    }
}

/// The state the badge says: a STALE target also says what it last was.
fn message(t: &TargetView) -> String {
    match (t.shown, &t.h.last) {
        (Shown::Is(super::history::Mark::Stale), Some(l)) if l.state != State::Ok => {
            format!("STALE ({})", l.state.label())
        }
        (shown, _) => shown.label().to_string(),
    }
}

pub fn render(t: &TargetView) -> String {
    let label = clean(&t.h.name).into_owned();
    let message = message(t);
    let (lw, mw) = (width(&label), width(&message));
    let total = lw + mw;
    let aria = format!("{label}: {message}");
    html! {
        svg xmlns="http://www.w3.org/2000/svg" width=(total) height="20" role="img" aria-label=(aria) {
            title { (aria) }
            rect width=(lw) height="20" fill="#555" {}
            rect x=(lw) width=(mw) height="20" fill=(colour(t.shown)) {}
            g fill="#fff" text-anchor="middle" font-family="Verdana,DejaVu Sans,sans-serif" font-size="11" {
                text x=(lw / 2) y="14" { (label) }
                text x=(lw + mw / 2) y="14" { (message) }
            }
        }
    }
    .into_string()
}
