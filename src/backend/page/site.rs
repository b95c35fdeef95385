//! Writing the page's directory: `index.html`, `status.json`, `badges/<escaped id>.svg` and
//! `targets/<escaped id>.json`,
//! each replaced atomically (a temporary file beside it, exchanged with it) with mode 0644, so
//! a web server never serves half a file and may run as another user (the directory's mode
//! decides who reads; the NixOS module gives it the web server's group). The temporary files
//! start with a dot and end in `.tmp`. Nothing here is fsynced: the page is made again from
//! the histories at every change.
//!
//! Badges change rarely (only with a target's state): `<stateDir>/page/badges.json` remembers
//! what each holds, so a rewrite writes only the badges that changed.

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// What the directory gets.
pub struct Site {
    pub index: String,
    pub status: Vec<u8>,
    /// (file stem, SVG) of every target.
    pub badges: Vec<(String, String)>,
    /// (file stem, JSON) of the targets rendered again.
    pub details: Vec<(String, String)>,
}

/// What was written before, to write only changed badges.
#[derive(Default, Serialize, Deserialize)]
struct Written {
    dir: PathBuf,
    badges: BTreeMap<String, u64>,
}

fn fingerprint(text: &str) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    text.hash(&mut h);
    h.finish()
}

/// A directory of the page: made when missing; a file or anything else in its place is
/// refused, naming it.
fn ensure_dir(dir: &Path) -> anyhow::Result<()> {
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => bail!(
            "page.dir {} is not a directory: remove it or point page.dir elsewhere",
            dir.display()
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::create_dir_all(dir)
            .with_context(|| format!("could not create the page directory {}", dir.display())),
        Err(e) => {
            Err(e).with_context(|| format!("could not use the page directory {}", dir.display()))
        }
    }
}

/// Replaces `dir/name` atomically with mode 0644. The temporary file's name is fixed (only
/// the lock holder writes here), so one left by a crash is simply written over next time.
fn publish(dir: &Path, name: &str, bytes: &[u8]) -> anyhow::Result<()> {
    let path = dir.join(name);
    let tmp = dir.join(format!(".{name}.tmp"));
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        // Set on the open file, so the units' UMask (0007) does not decide who reads.
        file.set_permissions(std::fs::Permissions::from_mode(0o644))?;
        file.write_all(bytes)?;
        drop(file);
        replace(&tmp, &path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.with_context(|| format!("could not write {}", path.display()))
}

/// Puts `tmp` in the place of `path` atomically. An existing file is exchanged with it
/// (`renameat2(RENAME_EXCHANGE)`) and the old one, now at `tmp`, removed: on ext4 a rename
/// over an existing file starts writing the new one out at once (`auto_da_alloc`), most of a
/// millisecond per file at every result, which the page (made again from the histories at
/// every change) does not need. Where there is nothing to exchange with, or the file system
/// cannot exchange, a plain rename.
fn replace(tmp: &Path, path: &Path) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let c = |p: &Path| std::ffi::CString::new(p.as_os_str().as_bytes());
    let (from, to) = (c(tmp)?, c(path)?);
    // SAFETY: two NUL-terminated paths that live across the call; no other memory is touched.
    let done = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            from.as_ptr(),
            libc::AT_FDCWD,
            to.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if done == 0 {
        return std::fs::remove_file(tmp);
    }
    let e = std::io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::ENOENT | libc::EINVAL | libc::ENOSYS | libc::EOPNOTSUPP) => {
            std::fs::rename(tmp, path)
        }
        _ => Err(e),
    }
}

/// Writes `site` into `dir`; `memo` is the state file that remembers the badges.
pub fn write(dir: &Path, memo: &Path, site: &Site) -> anyhow::Result<()> {
    ensure_dir(dir)?;
    let badge_dir = dir.join("badges");
    ensure_dir(&badge_dir)?;
    let mut written: Written = std::fs::read(memo)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .filter(|w: &Written| w.dir == dir)
        .unwrap_or_default();
    let before = std::mem::take(&mut written.badges);
    for (stem, svg) in &site.badges {
        let print = fingerprint(svg);
        let name = format!("{stem}.svg");
        if before.get(stem) != Some(&print) || !badge_dir.join(&name).exists() {
            publish(&badge_dir, &name, svg.as_bytes())?;
        }
        written.badges.insert(stem.clone(), print);
    }
    for stem in before.keys().filter(|s| !written.badges.contains_key(*s)) {
        let _ = std::fs::remove_file(badge_dir.join(format!("{stem}.svg")));
    }
    let details_dir = dir.join("targets");
    ensure_dir(&details_dir)?;
    for (stem, json) in &site.details {
        publish(&details_dir, &format!("{stem}.json"), json.as_bytes())?;
    }
    if written.badges != before {
        // A target gone (or the directory new): its details go with it.
        for entry in std::fs::read_dir(&details_dir)
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = entry.file_name().to_string_lossy().into_owned();
            let stem = name.strip_suffix(".json").unwrap_or(&name);
            if !written.badges.contains_key(stem) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
    publish(dir, "status.json", &site.status)?;
    publish(dir, "index.html", site.index.as_bytes())?;
    if written.badges != before || written.dir != dir {
        written.dir = dir.to_path_buf();
        let json = serde_json::to_vec(&written).context("could not encode the badge list")?;
        crate::state::write_atomic(memo, &json, false)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::publish;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_file_is_replaced_whole_with_mode_0644_and_no_temporary_file_left() {
        let dir = tempfile::tempdir().unwrap();
        // A temporary file a crash left behind is written over, not in the way.
        std::fs::write(dir.path().join(".index.html.tmp"), "left by a crash").unwrap();
        publish(dir.path(), "index.html", b"first").unwrap();
        let reader = std::fs::File::open(dir.path().join("index.html")).unwrap();
        publish(dir.path(), "index.html", b"second").unwrap();
        let path = dir.path().join("index.html");
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        // A reader that had the old file open still reads the old one, whole.
        assert_eq!(std::io::read_to_string(reader).unwrap(), "first");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o644);
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["index.html"]);
    }
}
