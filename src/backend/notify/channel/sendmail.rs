//! Mail through the local `sendmail` (msmtp's, postfix's, exim's): `sendmail -i -f FROM --
//! TO…` with the mail on stdin, as every sendmail takes it. A non-zero exit leaves the notice
//! queued, with sendmail's own words (stderr) in the error; so does a sendmail that does not
//! end within the delivery timeout (it is killed).

use super::super::notice::Notice;
use super::mail::{message, Envelope};
use crate::retry::DeliveryError;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

pub struct Sendmail {
    command: PathBuf,
    envelope: Envelope,
    timeout: Duration,
}

impl Sendmail {
    pub fn new(command: &Path, envelope: Envelope, timeout: Duration) -> Sendmail {
        Sendmail {
            command: command.to_path_buf(),
            envelope,
            timeout,
        }
    }

    pub async fn send(&self, notice: &Notice) -> Result<(), DeliveryError> {
        let mail = message(notice, &self.envelope).map_err(DeliveryError::Rejected)?;
        let what = format!("sendmail {}", self.command.display());
        match tokio::time::timeout(self.timeout, self.run(&mail.formatted())).await {
            Ok(outcome) => outcome.map_err(|e| DeliveryError::Transient(e.context(what))),
            Err(_) => Err(DeliveryError::Transient(anyhow::anyhow!(
                "{what}: did not finish within {} s (delivery.timeout); killed",
                self.timeout.as_secs()
            ))),
        }
    }

    async fn run(&self, mail: &[u8]) -> anyhow::Result<()> {
        let mut child = tokio::process::Command::new(&self.command)
            .arg("-i")
            .arg("-f")
            .arg(&self.envelope.from.email)
            .arg("--")
            .args(self.envelope.to.iter().map(|m| m.email.to_string()))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            // Dropped on a timeout: a sendmail that hangs is not left behind.
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| anyhow::anyhow!("could not start it: {e}"))?;
        let mut stdin = child.stdin.take().expect("stdin is piped");
        // A sendmail that exits early closes the pipe; its exit status says why.
        let written = stdin.write_all(mail).await;
        drop(stdin);
        let out = child
            .wait_with_output()
            .await
            .map_err(|e| anyhow::anyhow!("could not wait for it: {e}"))?;
        if out.status.success() {
            return Ok(());
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        let words: String = stderr.trim().chars().take(1000).collect();
        let status = match out.status.code() {
            Some(code) => format!("exited with status {code}"),
            None => "was killed by a signal".to_string(),
        };
        let broken = written
            .err()
            .map(|e| format!(" (the mail could not be written to it: {e})"))
            .unwrap_or_default();
        anyhow::bail!(
            "{status}{broken}: {}",
            if words.is_empty() {
                "(no message)"
            } else {
                &words
            }
        )
    }
}
