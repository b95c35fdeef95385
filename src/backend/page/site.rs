//! Writing the page's directory: `index.html` and `status.json` at every change, and for each
//! target rendered again its badge (`badges/<escaped id>.svg`, when it changed) and, when
//! wanted, its page and details file (`targets/<escaped id>.html`, `.json`). Each file is
//! replaced atomically (a temporary file beside it, exchanged with it) with mode 0644, so a
//! web server never serves half a file and may run as another user (the directory's mode
//! decides who reads; the NixOS module gives it the web server's group). The temporary files
//! start with a dot and end in `.tmp`. Nothing here is fsynced: the page is made again from
//! the histories at every change.
//!
//! `<stateDir>/page/badges.json` remembers which targets the directory holds and what each
//! badge says, so a rewrite writes only the badges that changed and removes the files of the
//! targets that are gone.

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// What the directory gets.
pub struct Site {
    pub index: String,
    pub status: Vec<u8>,
    /// The file stem of every target on the page.
    pub stems: BTreeSet<String>,
    /// The targets rendered again.
    pub rendered: Vec<Rendered>,
}

/// One target rendered again.
pub struct Rendered {
    pub stem: String,
    /// Written when it says something else than the one there.
    pub badge: String,
    /// Its page and details file, when they are to be written.
    pub details: Option<Details>,
}

pub struct Details {
    pub json: String,
    pub html: String,
}

/// What the directory holds: each target's badge (by its fingerprint).
#[derive(Default, Serialize, Deserialize)]
pub struct Written {
    dir: PathBuf,
    badges: BTreeMap<String, u64>,
}

impl Written {
    /// What `memo` says `dir` holds; none when it says nothing of `dir` (another directory,
    /// the memo lost): then every target is rendered and written again.
    pub fn load(memo: &Path, dir: &Path) -> Option<Written> {
        std::fs::read(memo)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .filter(|w: &Written| w.dir == dir)
    }
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

/// Writes `site` into `dir` over what `written` (none: nothing known) says is there; `memo`
/// is the state file that remembers it.
pub fn write(dir: &Path, memo: &Path, written: Option<Written>, site: &Site) -> anyhow::Result<()> {
    ensure_dir(dir)?;
    let badge_dir = dir.join("badges");
    ensure_dir(&badge_dir)?;
    let details_dir = dir.join("targets");
    ensure_dir(&details_dir)?;
    let known = written.is_some();
    let mut written = written.unwrap_or_default();
    let before = written.badges.clone();
    for r in &site.rendered {
        let print = fingerprint(&r.badge);
        let name = format!("{}.svg", r.stem);
        if before.get(&r.stem) != Some(&print) || !badge_dir.join(&name).exists() {
            publish(&badge_dir, &name, r.badge.as_bytes())?;
        }
        written.badges.insert(r.stem.clone(), print);
        if let Some(d) = &r.details {
            publish(&details_dir, &format!("{}.json", r.stem), d.json.as_bytes())?;
            publish(&details_dir, &format!("{}.html", r.stem), d.html.as_bytes())?;
        }
    }
    written.badges.retain(|stem, _| site.stems.contains(stem));
    for stem in before.keys().filter(|s| !written.badges.contains_key(*s)) {
        let _ = std::fs::remove_file(badge_dir.join(format!("{stem}.svg")));
    }
    if !known || !written.badges.keys().eq(before.keys()) {
        // A target gone (or the directory new to the memo): its page and details go with it.
        for entry in std::fs::read_dir(&details_dir)
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = entry.file_name().to_string_lossy().into_owned();
            let stem = name
                .strip_suffix(".json")
                .or_else(|| name.strip_suffix(".html"))
                .unwrap_or(&name);
            if !site.stems.contains(stem) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
    publish(dir, "status.json", &site.status)?;
    publish(dir, "index.html", site.index.as_bytes())?;
    if written.badges != before || !known {
        written.dir = dir.to_path_buf();
        let json = serde_json::to_vec(&written).context("could not encode the badge list")?;
        crate::state::write_atomic(memo, &json, false)?;
    }
    Ok(())
}

/// Whether the directory has `stem`'s page (its details file is written with it).
pub fn has_details(dir: &Path, stem: &str) -> bool {
    dir.join("targets").join(format!("{stem}.html")).is_file()
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
