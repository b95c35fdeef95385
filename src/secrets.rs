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

/// The longest key or password read from a file (first line, trimmed). API keys and
/// passwords are tens of bytes; servers refuse headers of more than a few KiB anyway.
pub const MAX_SECRET: usize = 4096;

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

/// Reads a secret file's first line, trimmed. Only a regular file (symlinks followed) is read:
/// a FIFO, socket or device could block forever or never end. The type is checked before
/// opening, the file is opened with `O_NONBLOCK` (so a FIFO swapped in meanwhile cannot block
/// the open either) and the opened file is checked again.
fn read_secret_file(path: &Path) -> Result<String, SecretError> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;

    let failed = |e: std::io::Error| {
        let denied = e.kind() == std::io::ErrorKind::PermissionDenied;
        let e =
            anyhow::Error::new(e).context(format!("could not read secret file {}", path.display()));
        if denied {
            SecretError::PermissionDenied(e)
        } else {
            SecretError::Other(e)
        }
    };
    let not_regular = |meta: &std::fs::Metadata| {
        SecretError::Other(anyhow::anyhow!(
            "secret file {} is not a regular file (it is {}); refusing to read it",
            path.display(),
            file_type_name(meta)
        ))
    };
    let meta = std::fs::metadata(path).map_err(failed)?;
    if !meta.is_file() {
        return Err(not_regular(&meta));
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(failed)?;
    let meta = file.metadata().map_err(failed)?;
    if !meta.is_file() {
        return Err(not_regular(&meta));
    }
    // The first line only, and never more than a key can be: a 50 MB file once went out as
    // a 50 MB header.
    let mut head = Vec::new();
    // (Room for white space around the key, which is trimmed.)
    let room = MAX_SECRET + 64;
    file.take(room as u64 + 1)
        .read_to_end(&mut head)
        .map_err(failed)?;
    let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    // No end of the line within what was read: it goes on beyond any key.
    if line.len() > room {
        return Err(SecretError::Other(anyhow::anyhow!(
            "secret file {} holds a first line longer than {MAX_SECRET} bytes ({} bytes in all), \
             which is no key or password; refusing to send it",
            path.display(),
            meta.len()
        )));
    }
    let text = std::str::from_utf8(line)
        .map_err(|e| failed(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))?;
    let key = text.trim().to_string();
    if key.len() > MAX_SECRET {
        return Err(SecretError::Other(anyhow::anyhow!(
            "secret file {} holds a key longer than {MAX_SECRET} bytes, which is no key or \
             password; refusing to send it",
            path.display()
        )));
    }
    if key.is_empty() {
        Err(SecretError::Other(anyhow::anyhow!(
            "secret file {} is empty",
            path.display()
        )))
    } else {
        Ok(key)
    }
}

/// What a file that is not a regular file is, for messages.
pub fn file_type_name(meta: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else {
        "not a regular file"
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
    fn a_key_longer_than_any_key_is_refused_without_reading_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        let read = |text: &str| {
            std::fs::write(&path, text).unwrap();
            read_secret_file(&path).map_err(|e| e.to_string())
        };
        let max = "k".repeat(MAX_SECRET);
        assert_eq!(read(&format!("{max}\n")), Ok(max.clone()));
        assert_eq!(
            read(&format!("  {max} \n{}", "x".repeat(100_000))),
            Ok(max.clone())
        );
        let long = format!("{max}k");
        let refused = format!(
            "secret file {} holds a key longer than 4096 bytes, which is no key or password; \
             refusing to send it",
            path.display()
        );
        assert_eq!(read(&long), Err(refused.clone()));
        assert_eq!(read(&format!("{long}\n")), Err(refused));
        // 50 MB without a line end: refused after reading 4 KiB of it.
        let huge = "k".repeat(50_000_000);
        assert_eq!(
            read(&huge),
            Err(format!(
                "secret file {} holds a first line longer than 4096 bytes (50000000 bytes in \
                 all), which is no key or password; refusing to send it",
                path.display()
            ))
        );
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

    fn mkfifo(path: &Path) {
        use std::os::unix::ffi::OsStrExt;
        let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
    }

    /// Reads on a helper thread, so a regression fails the test instead of hanging it.
    fn read_within_5s(src: KeySource) -> Result<String, String> {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(src.read().map_err(|e| e.to_string()));
        });
        rx.recv_timeout(std::time::Duration::from_secs(5))
            .expect("reading the secret blocked")
    }

    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        mkfifo(&path);
        let e = read_within_5s(KeySource::File {
            path: path.clone(),
            credential: "no-such-credential-here".into(),
        })
        .unwrap_err();
        let want = format!(
            "secret file {} is not a regular file (it is a FIFO)",
            path.display()
        );
        assert!(e.contains(&want), "{e}");
    }

    #[test]
    fn a_symlink_to_a_fifo_is_refused_and_to_a_file_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        mkfifo(&fifo);
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&fifo, &link).unwrap();
        let e = read_within_5s(KeySource::File {
            path: link.clone(),
            credential: "no-such-credential-here".into(),
        })
        .unwrap_err();
        assert!(e.contains("is not a regular file (it is a FIFO)"), "{e}");

        let file = dir.path().join("file");
        std::fs::write(&file, "k\n").unwrap();
        let good = dir.path().join("good");
        std::os::unix::fs::symlink(&file, &good).unwrap();
        let src = KeySource::File {
            path: good,
            credential: "no-such-credential-here".into(),
        };
        assert_eq!(read_within_5s(src).unwrap(), "k");
    }

    #[test]
    fn a_directory_or_device_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        for (path, what) in [
            (dir.path().to_path_buf(), "a directory"),
            (PathBuf::from("/dev/null"), "a character device"),
        ] {
            let e = read_within_5s(KeySource::File {
                path: path.clone(),
                credential: "no-such-credential-here".into(),
            })
            .unwrap_err();
            let want = format!(
                "secret file {} is not a regular file (it is {what})",
                path.display()
            );
            assert!(e.contains(&want), "{e}");
        }
    }

    #[test]
    fn a_missing_file_names_the_path() {
        let e = read_within_5s(KeySource::File {
            path: "/nonexistent/key".into(),
            credential: "no-such-credential-here".into(),
        })
        .unwrap_err();
        assert!(
            e.contains("could not read secret file /nonexistent/key"),
            "{e}"
        );
    }
}
