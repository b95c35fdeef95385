//! The status page in a real browser: Debian's headless `chromium` opens the page the agent
//! wrote from a web server on 127.0.0.1 and the test reads what a person sees there (the text
//! as rendered, `innerText`, so hidden elements do not count; computed colours), through a
//! probe page that loads the status page in a frame of the same origin and follows a target's
//! day bars to that target's own page. It also takes the
//! screenshot README shows (target/status-page.png; with NIXCLOUD_UPDATE_SCREENSHOT=1 also
//! docs/status-page.png).
//!
//! Time: `--virtual-time-budget` lets the browser's clock run ahead (timers fire, `Date.now()`
//! moves), so the page really ages by minutes within a second or two.

use crate::page::{fill, run_ok, sandbox};
use crate::util::{output_text, skip};
use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

const CHROMIUM: &str = "chromium";

/// Whether chromium is there; skips (see `util::skip`, fails under CI) if not.
fn have_chromium(test: &str) -> bool {
    let found = std::process::Command::new(CHROMIUM)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        skip(test, "chromium is missing (apt-get install -y chromium)");
    }
    found
}

/// Serves `/status/…` from `dir` and `/probe.html`, one thread per connection, until the
/// test process ends. Only GET; `Connection: close`.
fn serve(dir: PathBuf, probe: String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (dir, probe) = (dir.clone(), probe.clone());
            std::thread::spawn(move || answer(stream, &dir, &probe));
        }
    });
    url
}

fn answer(mut stream: TcpStream, dir: &Path, probe: &str) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
            break;
        }
    }
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let path = path.split('?').next().unwrap_or("/");
    let (status, kind, body) = match path {
        "/probe.html" => ("200 OK", "text/html", probe.as_bytes().to_vec()),
        p => match p.strip_prefix("/status/").filter(|r| !r.contains("..")) {
            Some(rel) => {
                let rel = if rel.is_empty() { "index.html" } else { rel };
                let kind = match rel.rsplit('.').next() {
                    Some("html") => "text/html; charset=utf-8",
                    Some("json") => "application/json",
                    Some("svg") => "image/svg+xml",
                    _ => "application/octet-stream",
                };
                match std::fs::read(dir.join(rel)) {
                    Ok(b) => ("200 OK", kind, b),
                    Err(_) => ("404 Not Found", "text/plain", b"not found".to_vec()),
                }
            }
            None => ("404 Not Found", "text/plain", b"not found".to_vec()),
        },
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(&body));
}

/// The probe: loads the page in a frame `width` pixels wide and notes what it shows at every
/// load (the page reloads itself every minute) and once `after_ms` of the browser's time have
/// passed. With `details`, after the first load it follows the first target's day bars to its
/// own page (a click, as a tap does), notes that page, focuses (as a tap does) its last day
/// bar and notes it again, then goes back to the overview. The notes are a JSON array in
/// `#out`.
const PROBE: &str = r#"<!doctype html><html><body>
<iframe id="f" src="/status/index.html" width="WIDTH" height="900"></iframe><pre id="out">[]</pre>
<script>
var t0 = Date.now(), notes = [], step = 0, f = document.getElementById('f');
function note(what) {
  var d = f.contentDocument;
  if (!d || !d.body) return;
  var st = getComputedStyle(d.body), w = d.getElementById('stale');
  notes.push({what: what, at: Date.now() - t0, path: d.location.pathname, text: d.body.innerText,
    background: st.backgroundColor, color: st.color,
    staleShown: !!(w && w.offsetParent !== null),
    scripts: d.querySelectorAll('script').length,
    injected: d.querySelectorAll('main img, main iframe, main script, main object').length,
    overflow: d.documentElement.scrollWidth - d.documentElement.clientWidth});
  document.getElementById('out').textContent = JSON.stringify(notes);
}
f.addEventListener('load', function () {
  var d = f.contentDocument;
  if (step == 0) {
    step = 1;
    note('load');
    if (DETAILS) d.querySelector('.t a.days').click();
  } else if (step == 1 && DETAILS) {
    step = 2;
    note('details');
    f.contentWindow.focus();
    d.querySelector('.t .days li:last-child').focus();
    note('focused');
    f.src = '/status/index.html';
  } else {
    note('reload');
  }
});
setTimeout(function () { note('aged'); }, AFTER);
</script></body></html>"#;

struct Run {
    width: u32,
    dark: bool,
    /// Of the browser's own time.
    after_ms: u64,
}

/// What the probe noted, from chromium's DOM after `run.after_ms` and a minute more.
fn look(url: &str, run: &Run) -> Vec<Value> {
    let profile = tempfile::tempdir().unwrap();
    let mut cmd = assert_cmd::Command::new(CHROMIUM);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ])
    .arg(format!("--user-data-dir={}", profile.path().display()))
    .arg(format!("--virtual-time-budget={}", run.after_ms + 60_000))
    .args(run.dark.then_some("--force-dark-mode"))
    .arg("--dump-dom")
    .arg(format!("{url}/probe.html?w={}", run.width))
    .timeout(Duration::from_secs(120));
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    let dom = String::from_utf8_lossy(&out.stdout).into_owned();
    let start = dom.find("<pre id=\"out\">").expect("the probe's output") + 14;
    let end = start + dom[start..].find("</pre>").unwrap();
    let json = dom[start..end]
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&");
    serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"))
}

fn probe(width: u32, details: bool, after_ms: u64) -> String {
    PROBE
        .replace("WIDTH", &width.to_string())
        .replace("DETAILS", if details { "true" } else { "false" })
        .replace("AFTER", &after_ms.to_string())
}

/// Relative luminance of `rgb(r, g, b)`, 0 (black) to 1 (white).
fn luminance(css: &str) -> f64 {
    let n: Vec<f64> = css
        .trim_start_matches("rgba(")
        .trim_start_matches("rgb(")
        .trim_end_matches(')')
        .split(',')
        .take(3)
        .map(|x| x.trim().parse::<f64>().unwrap() / 255.0)
        .collect();
    0.2126 * n[0] + 0.7152 * n[1] + 0.0722 * n[2]
}

fn first<'a>(notes: &'a [Value], what: &str) -> &'a Value {
    notes
        .iter()
        .find(|n| n["what"] == what)
        .unwrap_or_else(|| panic!("no {what} note: {notes:#?}"))
}

#[test]
fn a_person_sees_states_escaped_output_day_figures_and_the_stale_warning() {
    let test = "a_person_sees_states_escaped_output_day_figures_and_the_stale_warning";
    if !have_chromium(test) {
        return;
    }
    let sb = sandbox("");
    fill(&sb);
    let status: Value =
        serde_json::from_str(&std::fs::read_to_string(sb.path("www/status.json")).unwrap())
            .unwrap();
    let stale_after = status["staleAfterSeconds"].as_u64().unwrap() * 1000;
    // 1 min interval of db1-replication: 2 min 6 s.
    assert_eq!(stale_after, 126_000);
    let after = stale_after + 60_000;
    let url = serve(sb.path("www"), probe(1000, true, after));
    let notes = look(
        &url,
        &Run {
            width: 1000,
            dark: false,
            after_ms: after,
        },
    );
    let fresh = first(&notes, "load");
    let text = fresh["text"].as_str().unwrap();
    for seen in [
        "web1",
        "backup",
        "<b>disk</b> & \"/root\"?#%",
        "CRITICAL",
        "OK",
        "PENDING",
        "backup ok: 1234 files",
        // The hostile output, as the characters it is.
        "<script>alert(1)</script> & <img src=x onerror=alert(2)>",
        "1 CRITICAL, 1 PENDING, 1 OK",
        "Incidents",
    ] {
        assert!(text.contains(seen), "{seen:?} not shown in:\n{text}");
    }
    assert_eq!(fresh["scripts"], 1, "only the page's own script");
    assert_eq!(fresh["injected"], 0, "no element came from the output");
    assert!(!fresh["staleShown"].as_bool().unwrap(), "{text}");
    assert!(!text.contains("This page is out of date"), "{text}");
    // The overview's bars carry no figures; they lead to the target's own page, where a day's
    // figures show when its bar is tapped (focused), not before.
    let today = &status["generatedAt"].as_str().unwrap()[..10];
    let figures = format!("{today}: CRITICAL");
    assert!(!text.contains(&format!("{today}:")), "{text}");
    let details = first(&notes, "details");
    let page = status["targets"][0]["details"].as_str().unwrap();
    assert_eq!(
        details["path"].as_str().unwrap(),
        format!("/status/{}", page.replace(".json", ".html")),
        "the first target's bars lead to its page"
    );
    let shown = details["text"].as_str().unwrap();
    for seen in [
        "All targets",
        "web1 / <b>disk</b> & \"/root\"?#%",
        "CRITICAL",
        "<script>alert(1)</script> & <img src=x onerror=alert(2)>",
        "Incidents",
    ] {
        assert!(shown.contains(seen), "{seen:?} not on its page:\n{shown}");
    }
    assert_eq!(details["scripts"], 0, "its page has no script");
    assert_eq!(details["injected"], 0, "no element came from the output");
    assert!(!shown.contains(&format!("{today}:")), "{shown}");
    let focused = first(&notes, "focused")["text"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(focused.contains(&figures), "{figures:?} not in:\n{focused}");
    assert!(focused.contains("1 result"), "{focused}");
    // Light by default.
    assert!(
        luminance(fresh["background"].as_str().unwrap()) > 0.8,
        "{fresh}"
    );
    // Minutes later by the browser's clock, nobody having rewritten it: the warning is there.
    let aged = first(&notes, "aged");
    assert!(aged["at"].as_u64().unwrap() >= after, "{aged}");
    assert!(aged["staleShown"].as_bool().unwrap(), "{aged}");
    assert_eq!(aged["path"], "/status/index.html", "{aged}");
    assert!(
        aged["text"]
            .as_str()
            .unwrap()
            .contains("This page is out of date"),
        "{aged}"
    );
}

#[test]
fn the_dark_scheme_and_a_phones_width() {
    let test = "the_dark_scheme_and_a_phones_width";
    if !have_chromium(test) {
        return;
    }
    let sb = sandbox("");
    fill(&sb);
    let url = serve(sb.path("www"), probe(390, true, 1000));
    let notes = look(
        &url,
        &Run {
            width: 390,
            dark: true,
            after_ms: 1000,
        },
    );
    let shown = first(&notes, "load");
    let (bg, fg) = (
        luminance(shown["background"].as_str().unwrap()),
        luminance(shown["color"].as_str().unwrap()),
    );
    assert!(bg < 0.1 && fg > 0.7, "dark background, light text: {shown}");
    assert_eq!(shown["overflow"], 0, "nothing wider than a phone: {shown}");
    assert!(shown["text"].as_str().unwrap().contains("CRITICAL"));
    // The target's own page too: dark, and no wider than the phone with its 90 bars.
    let own = first(&notes, "details");
    assert!(own["path"]
        .as_str()
        .unwrap()
        .starts_with("/status/targets/"));
    assert!(
        luminance(own["background"].as_str().unwrap()) < 0.1,
        "dark: {own}"
    );
    assert_eq!(own["overflow"], 0, "nothing wider than a phone: {own}");
}

#[test]
fn the_screenshot_readme_shows() {
    let test = "the_screenshot_readme_shows";
    if !have_chromium(test) {
        return;
    }
    let sb = sandbox("showOutput = [\"web1-backup\", \"db1-replication\"]");
    fill(&sb);
    run_ok(
        &sb,
        &["submit", "db1-replication", "lag 12 s", "lag=12s;5;10", "1"],
    );
    run_ok(
        &sb,
        &["submit", "db1-replication", "in sync", "lag=0.4s;5;10", "0"],
    );
    let url = serve(sb.path("www"), String::new());
    let shot = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/status-page.png");
    // (target/ may not exist when CARGO_TARGET_DIR points elsewhere.)
    std::fs::create_dir_all(shot.parent().unwrap()).unwrap();
    let profile = tempfile::tempdir().unwrap();
    let out = assert_cmd::Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--window-size=900,1250",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("{url}/status/index.html"))
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    let png = std::fs::read(&shot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 20_000,
        "{}",
        png.len()
    );
    if std::env::var_os("NIXCLOUD_UPDATE_SCREENSHOT").is_some() {
        let docs = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/status-page.png");
        std::fs::write(docs, &png).unwrap();
    }
}
