//! A minimal HTTP/1.1 receiver on 127.0.0.1 for the benchmarks (benches/run.sh): it reads each
//! request, answers `200 {}`, and counts requests per path. Both the agent and the curl-based
//! baselines talk to it, so both sides get the same server doing the same work.
//!
//!   cargo run --release --example bench_receiver -- [PORT]
//!
//! Prints `listening on 127.0.0.1:PORT`; `GET /count` answers `{"<path>": n, ...}` and
//! `DELETE /count` resets the counters. std only, a thread per connection.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

type Counts = Arc<Mutex<BTreeMap<String, u64>>>;

fn main() {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
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

fn serve(stream: TcpStream, counts: &Counts) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let mut parts = line.split_whitespace();
        let (method, path, version) = (
            parts.next().unwrap_or(""),
            parts.next().unwrap_or(""),
            parts.next().unwrap_or(""),
        );
        let (method, path) = (method.to_string(), path.to_string());
        let mut length = 0usize;
        let mut close = version == "HTTP/1.0";
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header)? == 0 {
                return Ok(());
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                } else if name.eq_ignore_ascii_case("connection")
                    && value.trim().eq_ignore_ascii_case("close")
                {
                    close = true;
                }
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        let answer = match (method.as_str(), path.as_str()) {
            ("GET", "/count") => format!("{:?}", counts.lock().unwrap()),
            ("DELETE", "/count") => {
                counts.lock().unwrap().clear();
                "{}".to_string()
            }
            _ => {
                *counts.lock().unwrap().entry(path).or_default() += 1;
                "{}".to_string()
            }
        };
        write!(writer, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{answer}", answer.len())?;
        if close {
            return Ok(());
        }
    }
}
