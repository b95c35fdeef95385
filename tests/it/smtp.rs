//! A real SMTP server on 127.0.0.1 (Debian's python3-aiosmtpd, tests/smtp/server.py) and the
//! mails it took, parsed by Python's own MIME parser (tests/smtp/mail.py).

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Debian's python3, which has python3-aiosmtpd (the PATH may hold another python3).
const PYTHON: &str = "/usr/bin/python3";

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/smtp")
        .join(name)
}

/// One mail as the server took it.
#[derive(Debug, Clone)]
pub struct Mail {
    pub headers: BTreeMap<String, Vec<String>>,
    /// The decoded text.
    pub body: String,
    pub charset: Option<String>,
    /// `{from, to, login, tls}` as the server saw the SMTP conversation.
    pub envelope: serde_json::Value,
}

impl Mail {
    /// A header's (first) value, decoded; "" when absent.
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.first())
            .map_or("", String::as_str)
    }

    pub fn subject(&self) -> &str {
        self.header("Subject")
    }
}

/// The server, stopped when dropped.
pub struct Smtp {
    pub dir: tempfile::TempDir,
    pub port: u16,
    extra: Vec<String>,
    child: Option<Child>,
}

impl Smtp {
    /// A plain server (no TLS, no AUTH), as a relay on 127.0.0.1:25 is.
    pub fn start() -> Smtp {
        Self::start_with(&[])
    }

    /// With `--tls CERT KEY` and/or `--auth USER:PASSWORD`.
    pub fn start_with(extra: &[&str]) -> Smtp {
        assert!(
            Path::new(PYTHON).exists(),
            "{PYTHON} is missing: install Debian's python3-aiosmtpd (bash .ci/run does)"
        );
        let mut s = Smtp {
            dir: tempfile::tempdir().unwrap(),
            port: 0,
            extra: extra.iter().map(|s| s.to_string()).collect(),
            child: None,
        };
        s.launch();
        s
    }

    fn launch(&mut self) {
        let _ = std::fs::remove_file(self.dir.path().join("port"));
        let mut cmd = Command::new(PYTHON);
        cmd.arg(script("server.py")).arg(self.dir.path());
        if self.port != 0 {
            cmd.args(["--port", &self.port.to_string()]);
        }
        let child = cmd
            .args(&self.extra)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the SMTP server starts");
        self.child = Some(child);
        let port_file = self.dir.path().join("port");
        let deadline = Instant::now() + Duration::from_secs(20);
        while !port_file.exists() {
            assert!(Instant::now() < deadline, "the SMTP server did not come up");
            std::thread::sleep(Duration::from_millis(50));
        }
        self.port = std::fs::read_to_string(port_file)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
    }

    /// Stops it: connections are refused until [`Smtp::restart`].
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port.
    pub fn restart(&mut self) {
        self.stop();
        self.launch();
    }

    /// `ok`, `tempfail` (451), `reject` (554) or `hang` (no answer to DATA).
    pub fn mode(&self, mode: &str) {
        std::fs::write(self.dir.path().join("mode"), mode).unwrap();
    }

    /// Every mail taken so far, in order.
    pub fn mails(&self) -> Vec<Mail> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "eml"))
            .collect();
        files.sort();
        if files.is_empty() {
            return Vec::new();
        }
        let out = Command::new(PYTHON)
            .arg(script("mail.py"))
            .args(&files)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let parsed: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
        parsed
            .into_iter()
            .zip(&files)
            .map(|(m, file)| {
                let envelope = std::fs::read(file.with_extension("json")).unwrap();
                Mail {
                    headers: serde_json::from_value(m["headers"].clone()).unwrap(),
                    body: m["body"].as_str().unwrap().replace("\r\n", "\n"),
                    charset: m["charset"].as_str().map(str::to_string),
                    envelope: serde_json::from_slice(&envelope).unwrap(),
                }
            })
            .collect()
    }

    /// Waits until at least `n` mails arrived (a hang guard, not a timing assertion).
    pub fn wait_for(&self, n: usize, limit: Duration) -> Vec<Mail> {
        let deadline = Instant::now() + limit;
        loop {
            let count = std::fs::read_dir(self.dir.path())
                .unwrap()
                .flatten()
                .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
                .count();
            if count >= n || Instant::now() > deadline {
                return self.mails();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A test CA and a server certificate it signed for `localhost` and 127.0.0.1, made with
/// openssl: (ca, cert, key). (rustls refuses a self-signed CA certificate as a server's own.)
pub fn certificate(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let p = |name: &str| dir.join(name).display().to_string();
    std::fs::write(
        p("leaf.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    let (ca, ca_key, key, csr, cert, ext) = (
        p("ca.pem"),
        p("ca.key"),
        p("key.pem"),
        p("leaf.csr"),
        p("cert.pem"),
        p("leaf.ext"),
    );
    let subject_ca = "/CN=nixcloud test CA";
    let steps: [&[&str]; 3] = [
        &[
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", subject_ca,
            "-keyout", &ca_key, "-out", &ca,
        ],
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
            &key,
            "-out",
            &csr,
        ],
        &[
            "x509",
            "-req",
            "-days",
            "2",
            "-CAcreateserial",
            "-in",
            &csr,
            "-CA",
            &ca,
            "-CAkey",
            &ca_key,
            "-extfile",
            &ext,
            "-out",
            &cert,
        ],
    ];
    for args in steps {
        let out = Command::new("openssl")
            .args(args)
            .output()
            .expect("openssl runs");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    (ca.into(), cert.into(), key.into())
}
