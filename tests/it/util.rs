//! Test harness: a recording HTTP server on 127.0.0.1 and a sandbox that runs the built binary.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One request the server saw.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    /// A header's value (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body parsed as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {:?}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

/// How the server answers.
#[derive(Debug, Clone)]
pub enum Reply {
    /// Status and body.
    Status(u16, String),
    /// Close the connection without answering.
    Drop,
    /// Never answer (until the client gives up).
    Hang,
}

type Responder = dyn Fn(&Request) -> Reply + Send + Sync;

/// An HTTP/1.1 server on 127.0.0.1 that records every request (keep-alive supported).
pub struct TestServer {
    pub addr: SocketAddr,
    requests: Arc<Mutex<Vec<Request>>>,
    responder: Arc<Mutex<Arc<Responder>>>,
}

impl TestServer {
    /// Starts a server answering 200 `{}` to everything.
    pub fn start() -> TestServer {
        Self::start_on(TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1"))
    }

    /// Starts serving on a given listener (to come back on a known port after an outage).
    pub fn start_on(listener: TcpListener) -> TestServer {
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let responder: Arc<Mutex<Arc<Responder>>> =
            Arc::new(Mutex::new(Arc::new(|_: &Request| {
                Reply::Status(200, "{}".into())
            })));
        let (reqs, resp) = (requests.clone(), responder.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (reqs, resp) = (reqs.clone(), resp.clone());
                std::thread::spawn(move || serve(stream, reqs, resp));
            }
        });
        TestServer {
            addr,
            requests,
            responder,
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Sets how the server answers from now on.
    pub fn reply(&self, f: impl Fn(&Request) -> Reply + Send + Sync + 'static) {
        *self.responder.lock().unwrap() = Arc::new(f);
    }

    /// Every request answered or dropped so far.
    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }

    /// Requests to one path.
    pub fn requests_to(&self, path: &str) -> Vec<Request> {
        self.requests()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }
}

fn serve(stream: TcpStream, reqs: Arc<Mutex<Vec<Request>>>, resp: Arc<Mutex<Arc<Responder>>>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let (method, path) = (
            parts.next().unwrap_or("").to_string(),
            parts.next().unwrap_or("").to_string(),
        );
        let http10 = parts.next() == Some("HTTP/1.0");
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.push((k.trim().to_string(), v.trim().to_string()));
            }
        }
        let len = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; len];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let request = Request {
            method,
            path,
            headers,
            body,
        };
        let responder = resp.lock().unwrap().clone();
        let reply = responder(&request);
        match reply {
            Reply::Drop => {
                reqs.lock().unwrap().push(request);
                let _ = writer.shutdown(std::net::Shutdown::Both);
                return;
            }
            Reply::Hang => {
                reqs.lock().unwrap().push(request);
                std::thread::sleep(Duration::from_secs(20));
                return;
            }
            Reply::Status(code, text) => {
                let head = format!("HTTP/1.1 {code} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n", text.len());
                if writer
                    .write_all(head.as_bytes())
                    .and_then(|()| writer.write_all(text.as_bytes()))
                    .is_err()
                {
                    return;
                }
                // HTTP/1.0 clients (monitoring plugins) read until the connection closes.
                let close = http10
                    || request
                        .header("connection")
                        .is_some_and(|c| c.eq_ignore_ascii_case("close"));
                // Recorded once answered: a test that sees it may rely on the client having it.
                reqs.lock().unwrap().push(request);
                if close {
                    let _ = writer.shutdown(std::net::Shutdown::Both);
                    return;
                }
            }
        }
    }
}

/// A temporary home for one agent: config file, state directory, key file.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        Sandbox {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn state_dir(&self) -> PathBuf {
        self.path("state")
    }

    /// Writes the config; `{state}` and `{dir}` are replaced by the sandbox paths.
    pub fn config(&self, toml: &str) -> &Sandbox {
        let text = toml
            .replace("{state}", &self.state_dir().display().to_string())
            .replace("{dir}", &self.dir.path().display().to_string());
        std::fs::write(self.path("config.toml"), text).unwrap();
        self
    }

    /// Replaces text in the config file (to point it elsewhere, change a setting).
    pub fn edit_config(&self, from: &str, to: &str) {
        let text = std::fs::read_to_string(self.path("config.toml")).unwrap();
        assert!(text.contains(from), "{from:?} is not in the config");
        std::fs::write(self.path("config.toml"), text.replace(from, to)).unwrap();
    }

    /// Writes a file below the sandbox.
    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let path = self.path(rel);
        std::fs::write(&path, text).unwrap();
        path
    }

    /// The agent binary with this sandbox's config and a clean environment.
    pub fn cmd(&self, args: &[&str]) -> assert_cmd::Command {
        let mut cmd = assert_cmd::Command::new(bin());
        cmd.args(args)
            .env("NIXCLOUD_MONITORING_CONFIG", self.path("config.toml"))
            .env_remove("STATE_DIRECTORY")
            .env_remove("CREDENTIALS_DIRECTORY")
            .env_remove("NOTIFY_SOCKET")
            .env_remove("WATCHDOG_USEC")
            .timeout(Duration::from_secs(60));
        cmd
    }

    /// Same as [`Sandbox::cmd`], as a std `Command` (for spawning and killing).
    pub fn std_cmd(&self, args: &[&str]) -> std::process::Command {
        let mut cmd = std::process::Command::new(bin());
        cmd.args(args)
            .env("NIXCLOUD_MONITORING_CONFIG", self.path("config.toml"))
            .env_remove("STATE_DIRECTORY")
            .env_remove("CREDENTIALS_DIRECTORY")
            .env_remove("NOTIFY_SOCKET")
            .env_remove("WATCHDOG_USEC");
        cmd
    }

    /// Files in a state subdirectory (`queue`, `rejected`, …) ending in `.json`.
    pub fn files_in(&self, sub: &str) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(self.state_dir().join(sub))
            .map(|d| {
                d.flatten()
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "json"))
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }
}

/// An `http://127.0.0.1:PORT` URL where nothing listens (connection refused).
pub fn dead_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    format!("http://{}", listener.local_addr().unwrap())
}

/// The built agent.
pub fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_nixcloud-monitoring"))
}

/// stdout and stderr of a finished command, for assertion messages.
pub fn output_text(out: &std::process::Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Ends a test early because something it needs is missing, saying so: `SKIPPED: …` on stderr
/// and a line in `$NIXCLOUD_SKIP_LOG` (tests/all.sh lists them after the run). Under CI
/// (`CI` set) nothing may be skipped: the test fails instead.
pub fn skip(test: &str, why: &str) {
    assert!(
        std::env::var_os("CI").is_none(),
        "{test} would be skipped ({why}), and CI must not skip anything"
    );
    eprintln!("SKIPPED: {test}: {why}");
    if let Some(log) = std::env::var_os("NIXCLOUD_SKIP_LOG") {
        use std::io::Write;
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
        {
            let _ = writeln!(f, "{test}: {why}");
        }
    }
}

/// `nix-instantiate --eval --strict --json EXPR` without a daemon or /nix (as nix/tests does);
/// `None` (skipped, see [`skip`]) when `NIXCLOUD_SKIP_NIX` is set and there is no nix-instantiate.
pub fn nix_eval_json(test: &str, expr: &str) -> Option<serde_json::Value> {
    if std::process::Command::new("nix-instantiate")
        .arg("--version")
        .output()
        .is_err()
    {
        assert!(
            std::env::var_os("NIXCLOUD_SKIP_NIX").is_some(),
            "nix-instantiate is missing: install Debian's nix-bin (bash .ci/run does), or set NIXCLOUD_SKIP_NIX=1"
        );
        skip(test, "no nix-instantiate (NIXCLOUD_SKIP_NIX is set)");
        return None;
    }
    let scratch = tempfile::tempdir().unwrap();
    for d in ["state", "log", "conf", "home"] {
        std::fs::create_dir_all(scratch.path().join(d)).unwrap();
    }
    std::fs::write(scratch.path().join("conf/nix.conf"), "").unwrap();
    let out = std::process::Command::new("nix-instantiate")
        .args([
            "--store",
            "dummy://",
            "--option",
            "build-users-group",
            "",
            "--eval",
            "--strict",
            "--json",
            "--expr",
            expr,
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NIX_STATE_DIR", scratch.path().join("state"))
        .env("NIX_LOG_DIR", scratch.path().join("log"))
        .env("NIX_CONF_DIR", scratch.path().join("conf"))
        .env("HOME", scratch.path().join("home"))
        .env_remove("NIX_PATH")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    Some(serde_json::from_slice(&out.stdout).unwrap())
}

/// A child process (a daemon) that cannot outlive its test. It is killed and reaped when the
/// guard is dropped, also when an assertion fails first, and the kernel kills it when the
/// test's thread ends without dropping it (`PR_SET_PDEATHSIG`: a test binary killed for taking
/// too long runs no destructors). Mutated daemons that spin for ever once outlived their tests
/// by hours.
pub struct KillOnDrop(Option<std::process::Child>);

impl KillOnDrop {
    /// Spawns `cmd` under the guard.
    pub fn spawn(cmd: &mut std::process::Command) -> KillOnDrop {
        use std::os::unix::process::CommandExt;
        let parent = std::process::id() as libc::pid_t;
        // SAFETY: prctl, getppid and _exit are async-signal-safe system calls.
        unsafe {
            cmd.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // The test process died before the line above: nobody would kill us.
                if libc::getppid() != parent {
                    libc::_exit(1);
                }
                Ok(())
            })
        };
        KillOnDrop(Some(cmd.spawn().expect("spawn the agent")))
    }

    /// Waits for the (stopped) child and collects its piped output.
    pub fn wait_with_output(mut self) -> std::process::Output {
        let child = self.0.take().expect("the child is there until dropped");
        child.wait_with_output().unwrap()
    }
}

impl std::ops::Deref for KillOnDrop {
    type Target = std::process::Child;
    fn deref(&self) -> &std::process::Child {
        self.0.as_ref().expect("the child is there until dropped")
    }
}

impl std::ops::DerefMut for KillOnDrop {
    fn deref_mut(&mut self) -> &mut std::process::Child {
        self.0.as_mut().expect("the child is there until dropped")
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
