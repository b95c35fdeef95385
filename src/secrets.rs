//! Where API keys and passwords come from, and reading them without ever printing them.
//!
//! A secret is a literal (accepted for compatibility with the original, warned about by
//! `check`) or a file. A file secret also has a systemd credential name: when the unit passes
//! credentials (`LoadCredential=`, `$CREDENTIALS_DIRECTORY` set), that copy is read instead, so
//! the service user needs no access to the original file.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// How a secret is obtained.
#[derive(Clone, PartialEq, Eq)]
pub enum KeySource {
    /// The secret itself, written in the config (ends up world-readable on NixOS).
    Literal(String),
    /// A file holding the secret, and the credential name systemd may pass it under.
    File { path: PathBuf, credential: String },
}

// Hand-written so that a `{:?}` anywhere can never print a literal key.
impl std::fmt::Debug for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeySource::Literal(_) => f.write_str("Literal(<redacted>)"),
            KeySource::File { path, credential } => {
                write!(f, "File({}, credential {credential})", path.display())
            }
        }
    }
}

/// Why a secret could not be read; `PermissionDenied` lets a group member hand results to the
/// service instead of failing.
#[derive(Debug)]
pub enum SecretError {
    PermissionDenied(anyhow::Error),
    Other(anyhow::Error),
}

impl std::fmt::Display for SecretError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretError::PermissionDenied(e) | SecretError::Other(e) => write!(f, "{e:#}"),
        }
    }
}

impl KeySource {
    /// Reads the secret: the credential copy when systemd passed one, else the file (or what
    /// [`preload`] read earlier, before the process gave up root).
    pub fn read(&self) -> Result<String, SecretError> {
        let path = match self {
            KeySource::Literal(key) => return Ok(key.clone()),
            KeySource::File { path, credential } => {
                credential_path(credential).unwrap_or_else(|| path.clone())
            }
        };
        if let Some(key) = PRELOADED.get().and_then(|m| m.get(&path)) {
            return Ok(key.clone());
        }
        read_secret_file(&path)
    }

    /// The file the secret would be read from, for messages (never the secret).
    pub fn describe(&self) -> String {
        match self {
            KeySource::Literal(_) => "a literal key in the config".to_string(),
            KeySource::File { path, credential } => match credential_path(credential) {
                Some(cred) => format!("credential {}", cred.display()),
                None => format!("file {}", path.display()),
            },
        }
    }
}

/// Secrets read while the process could still read them (see `privileges`).
static PRELOADED: OnceLock<HashMap<PathBuf, String>> = OnceLock::new();

/// Reads every given file secret now and keeps it for later [`KeySource::read`] calls. Failures
/// are not kept: a later read reports them with the file's name.
pub fn preload<'a>(sources: impl IntoIterator<Item = &'a KeySource>) {
    let mut keys = HashMap::new();
    for source in sources {
        if let KeySource::File { path, credential } = source {
            let path = credential_path(credential).unwrap_or_else(|| path.clone());
            if let Ok(key) = read_secret_file(&path) {
                keys.insert(path, key);
            }
        }
    }
    let _ = PRELOADED.set(keys);
}

fn credential_path(name: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("CREDENTIALS_DIRECTORY")?;
    let path = Path::new(&dir).join(name);
    path.exists().then_some(path)
}

fn read_secret_file(path: &Path) -> Result<String, SecretError> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let key = text.lines().next().unwrap_or("").trim().to_string();
            if key.is_empty() {
                Err(SecretError::Other(anyhow::anyhow!(
                    "secret file {} is empty",
                    path.display()
                )))
            } else {
                Ok(key)
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            Err(SecretError::PermissionDenied(
                anyhow::Error::new(e)
                    .context(format!("could not read secret file {}", path.display())),
            ))
        }
        Err(e) => Err(SecretError::Other(
            anyhow::Error::new(e).context(format!("could not read secret file {}", path.display())),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_a_literal_key() {
        let shown = format!("{:?}", KeySource::Literal("hunter2".into()));
        assert!(!shown.contains("hunter2"), "{shown}");
    }

    #[test]
    fn file_key_is_first_line_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        std::fs::write(&path, "  abc-123 \nignored\n").unwrap();
        let src = KeySource::File {
            path,
            credential: "no-such-credential-here".into(),
        };
        assert_eq!(src.read().unwrap(), "abc-123");
    }

    #[test]
    fn empty_key_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        std::fs::write(&path, "\n").unwrap();
        let src = KeySource::File {
            path,
            credential: "no-such-credential-here".into(),
        };
        assert!(src.read().unwrap_err().to_string().contains("is empty"));
    }
}
