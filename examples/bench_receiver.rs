//! A minimal HTTP/1.1 receiver on 127.0.0.1 for the benchmarks (benches/run.sh): it reads each
//! request, answers `200 {}`, and counts requests and body bytes per path. The agent and the
//! curl-based baselines all talk to it, so both sides get the same server doing the same work.
//!
//!   cargo build --release --example bench_receiver
//!   target/release/examples/bench_receiver [PORT]      (0 or nothing: a free port)
//!
//! Prints `listening on 127.0.0.1:PORT`. `GET /count` answers
//! `{"<path>":{"requests":n,"bytes":b},...}` (not counted itself), `DELETE /count` resets.
//! std only; keep-alive (HTTP/1.1 unless `Connection: close` or HTTP/1.0), a thread per
//! connection, like the test server in tests/it/util.rs. Each answer is one write.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

#[derive(Default)]
struct Count {
    requests: u64,
    bytes: u64,
}

type Counts = Arc<Mutex<BTreeMap<String, Count>>>;

fn main() {
    let port: u16 = match std::env::args().nth(1) {
        None => 0,
        Some(p) => p.parse().unwrap_or_else(|_| {
            eprintln!("usage: bench_receiver [PORT]");
            std::process::exit(2)
        }),
    };
    let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind 127.0.0.1");
    println!("listening on {}", listener.local_addr().unwrap());
    let counts: Counts = Arc::default();
    for stream in listener.incoming().flatten() {
        let counts = counts.clone();
        std::thread::spawn(move || {
            let _ = serve(stream, &counts);
        });
    }
}

/// Answers requests on one connection until the client closes it.
fn serve(stream: TcpStream, counts: &Counts) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    let mut header = String::new();
    let mut body = Vec::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or("").to_string();
        let path = parts.next().unwrap_or("").to_string();
        let mut close = parts.next() == Some("HTTP/1.0");
        let mut length = 0usize;
        loop {
            header.clear();
            if reader.read_line(&mut header)? == 0 {
                return Ok(());
            }
            let h = header.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((name, value)) = h.split_once(':') {
                let value = value.trim();
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.parse().unwrap_or(0);
                } else if name.eq_ignore_ascii_case("connection") {
                    close = value.eq_ignore_ascii_case("close");
                }
            }
        }
        body.resize(length, 0);
        reader.read_exact(&mut body)?;
        let answer = match (method.as_str(), path.as_str()) {
            ("GET", "/count") => to_json(&counts.lock().unwrap()),
            ("DELETE", "/count") => {
                counts.lock().unwrap().clear();
                "{}".to_string()
            }
            _ => {
                let mut counts = counts.lock().unwrap();
                let count = counts.entry(path).or_default();
                count.requests += 1;
                count.bytes += length as u64;
                "{}".to_string()
            }
        };
        let response = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{}\r\n{answer}",
            answer.len(),
            if close { "Connection: close\r\n" } else { "" }
        );
        writer.write_all(response.as_bytes())?;
        if close {
            return Ok(());
        }
    }
}

fn to_json(counts: &BTreeMap<String, Count>) -> String {
    let fields: Vec<String> = counts
        .iter()
        .map(|(path, c)| {
            format!(
                "{}:{{\"requests\":{},\"bytes\":{}}}",
                json_string(path),
                c.requests,
                c.bytes
            )
        })
        .collect();
    format!("{{{}}}", fields.join(","))
}

fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
