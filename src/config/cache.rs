//! A per-target index of a config file that has already passed every check, so that a
//! command about one target (`submit ID`, `run ID`, `report-unit ID`) reads that target alone
//! instead of parsing and building every target of a big machine's config on each call.
//!
//! `<stateDir>/.config-index` holds the file's identity (device, inode, size, mtime, ctime),
//! the config without its targets (as TOML) and each target as a TOML snippet of its own, found
//! by id or escaped id. [`Config::parse`] builds the target from the top level plus its one
//! snippet, so every default and check is the one a full load applies. The index is used only
//! when the file is exactly the one indexed (same identity), and only when it belongs to this
//! user and nobody else may write it: it decides which key file is read and where results go
//! (root, who reads key files before becoming the state directory's owner, so never trusts
//! an index that owner wrote). It is written only into a state directory of this user's. An index is
//! written only for a file last changed more than [`SETTLED`] ago, so a change within the
//! file system's timestamp granularity after indexing cannot go unseen (git's "racy clean"
//! rule). Anything unexpected falls back to the full load, which is always correct.

use super::{resolve_state_dir, targets, Config};
use serde::Deserialize;
use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// The index's name in the state directory.
pub(super) const NAME: &str = ".config-index";
const MAGIC: &str = "nixcloud-monitoring config index v1";
/// How long a config file must be left alone before it is indexed.
const SETTLED: Duration = Duration::from_secs(2);

/// What identifies one version of the config file without reading it.
fn identity(meta: &std::fs::Metadata) -> String {
    format!(
        "{} {} {} {} {} {} {}",
        meta.dev(),
        meta.ino(),
        meta.size(),
        meta.mtime(),
        meta.mtime_nsec(),
        meta.ctime(),
        meta.ctime_nsec()
    )
}

/// The config file, read once: its text and identity.
pub(super) struct Source {
    pub(super) text: String,
    meta: std::fs::Metadata,
}

impl Source {
    /// Reads a regular file (symlinks followed). Anything else is refused without blocking:
    /// opening a FIFO the usual way waits for a writer for ever, so the file is opened with
    /// `O_NONBLOCK` and its type checked before anything is read.
    pub(super) fn read(path: &Path) -> std::io::Result<Source> {
        let mut file = File::options()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
            .open(path)?;
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!(
                    "it is {}, not a regular file",
                    crate::secrets::file_type_name(&meta)
                ),
            ));
        }
        let mut text = String::with_capacity(meta.len() as usize + 1);
        file.read_to_string(&mut text)?;
        Ok(Source { text, meta })
    }
}

fn euid() -> u32 {
    // SAFETY: a plain getter without arguments.
    unsafe { libc::geteuid() }
}

/// Where the index of this file would be: the state directory the file names (found without
/// parsing its targets), as [`resolve_state_dir`] picks it. A wrong guess only costs a miss:
/// the index itself says which file it describes.
fn index_path(text: &str) -> PathBuf {
    #[derive(Deserialize)]
    struct Top {
        #[serde(rename = "stateDir")]
        state_dir: Option<PathBuf>,
    }
    // Top-level keys come before the first table header.
    let mut end = text.len();
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        if line.trim_start().starts_with('[') {
            end = at;
            break;
        }
        at += line.len();
    }
    let configured = toml::from_str::<Top>(&text[..end])
        .ok()
        .and_then(|t| t.state_dir);
    resolve_state_dir(configured).join(NAME)
}

/// The target `id` (raw or escaped) of an indexed, unchanged config: a [`Config`] with that
/// target alone. `None` when there is no usable index or it has no such target.
pub(super) fn lookup(path: &Path, source: &Source, id: &str) -> Option<Config> {
    let index = read_own(&index_path(&source.text))?;
    let (header, rest) = index.split_once("\n\n")?;
    let mut lines = header.lines();
    if lines.next()? != MAGIC || lines.next()? != identity(&source.meta) {
        return None;
    }
    let mut sizes = lines.next()?.split(' ').map(str::parse::<usize>);
    let (top_len, entries_len) = (sizes.next()?.ok()?, sizes.next()?.ok()?);
    let top = rest.get(..top_len)?;
    let entries = rest.get(top_len..top_len + entries_len)?;
    let snippets = rest.get(top_len + entries_len..)?;
    // By id first, then by escaped id, as targets::find does.
    let entry = [0, 1].into_iter().find_map(|field| {
        entries
            .lines()
            .find(|l| l.split('\t').nth(field) == Some(id))
    })?;
    let mut fields = entry.split('\t').skip(2).map(str::parse::<usize>);
    let line = fields.next()?.ok()?;
    let start = fields.next()?.ok()?;
    let len = fields.next()?.ok()?;
    let snippet = snippets.get(start..start + len)?;
    let mut config = match Config::parse(path, &format!("{top}\n{snippet}")) {
        Ok(config) => config,
        Err(e) => {
            tracing::debug!("config index unusable, reading the whole file: {e:#}");
            return None;
        }
    };
    if config.targets.len() != 1 {
        return None;
    }
    config.targets[0].line = line;
    tracing::debug!("target {id} read from the config index");
    Some(config)
}

/// The index file's text if it is a regular file of this user's that nobody else may write.
fn read_own(path: &Path) -> Option<String> {
    let mut file = File::options()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .ok()?;
    let meta = file.metadata().ok()?;
    if !meta.is_file() || meta.uid() != euid() || meta.mode() & 0o022 != 0 {
        return None;
    }
    let mut text = String::with_capacity(meta.len() as usize + 1);
    file.read_to_string(&mut text).ok()?;
    Some(text)
}

/// Writes the index of `config` (just loaded in full from `source`) into its state directory,
/// when this user owns that directory and the file has settled. Best effort: a failure only
/// means the next call reads the whole file again.
pub(super) fn store(config: &Config, source: &Source) {
    store_settled(config, source, SETTLED)
}

fn store_settled(config: &Config, source: &Source, settled_after: Duration) {
    let uid = euid();
    let dir = &config.state_dir;
    let owned = std::fs::metadata(dir).is_ok_and(|m| m.is_dir() && m.uid() == uid);
    let settled = |t: std::io::Result<SystemTime>| {
        t.ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age >= settled_after)
    };
    let changed = SystemTime::UNIX_EPOCH
        + Duration::new(
            source.meta.ctime().max(0) as u64,
            source.meta.ctime_nsec().clamp(0, 999_999_999) as u32,
        );
    if !owned || !settled(source.meta.modified()) || !settled(Ok(changed)) {
        return;
    }
    // Only where the next call will look for it.
    if index_path(&source.text) != dir.join(NAME) {
        return;
    }
    match build(config, source) {
        Ok(bytes) => {
            if let Err(e) = write_private(&dir.join(NAME), &bytes) {
                tracing::debug!("could not write the config index: {e}");
            }
        }
        Err(e) => tracing::debug!("could not index the config: {e:#}"),
    }
}

fn build(config: &Config, source: &Source) -> anyhow::Result<Vec<u8>> {
    let mut table: toml::Table = source.text.parse()?;
    let targets = table.remove("targets");
    let top = toml::to_string(&table)?;
    // The tables in the order build_targets reads them: active kinds, then passive.
    let mut tables: Vec<(Vec<&str>, &toml::Value)> = Vec::new();
    if let Some(t) = &targets {
        if let Some(active) = t.get("active").and_then(toml::Value::as_table) {
            for kind in [
                "check_http",
                "check_ssl_cert",
                "check_dns",
                "check_ping",
                "check_smtp",
                "check_ssh",
                "check_hydra",
            ] {
                for item in active
                    .get(kind)
                    .and_then(toml::Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    tables.push((vec!["targets", "active", kind], item));
                }
            }
        }
        for item in t
            .get("passive")
            .and_then(toml::Value::as_array)
            .into_iter()
            .flatten()
        {
            tables.push((vec!["targets", "passive"], item));
        }
    }
    anyhow::ensure!(
        tables.len() == config.targets.len(),
        "{} target tables for {} targets",
        tables.len(),
        config.targets.len()
    );
    let mut entries = String::new();
    let mut snippets = String::new();
    for ((keys, item), target) in tables.into_iter().zip(&config.targets) {
        let mut value = toml::Value::Array(vec![item.clone()]);
        for key in keys.iter().rev() {
            let mut t = toml::Table::new();
            t.insert((*key).to_string(), value);
            value = toml::Value::Table(t);
        }
        let snippet = toml::to_string(&value)?;
        entries.push_str(&format!(
            "{}\t{}\t{}\t{}\t{}\n",
            target.id,
            targets::escape(&target.id),
            target.line,
            snippets.len(),
            snippet.len()
        ));
        snippets.push_str(&snippet);
    }
    let mut out = format!(
        "{MAGIC}\n{}\n{} {}\n\n",
        identity(&source.meta),
        top.len(),
        entries.len()
    );
    out.push_str(&top);
    out.push_str(&entries);
    out.push_str(&snippets);
    Ok(out.into_bytes())
}

/// Temp file (mode 0600 from the start) and rename.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_file_name(format!("{NAME}.tmp-{}", std::process::id()));
    let written = (|| {
        let mut file = File::options()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&tmp)?;
        file.write_all(bytes)?;
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn setup(targets: &str) -> (tempfile::TempDir, PathBuf, Config, Source) {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        std::fs::create_dir(&state).unwrap();
        let path = dir.path().join("config.toml");
        let text = format!(
            "stateDir = {:?}\napiKeyFile = \"/run/key\"\npublic = false\n\
             [queue]\nmaxCount = 7\n{targets}",
            state.display().to_string()
        );
        std::fs::write(&path, text).unwrap();
        let source = Source::read(&path).unwrap();
        let config = Config::parse(&path, &source.text).unwrap();
        store_settled(&config, &source, Duration::ZERO);
        (dir, path, config, source)
    }

    const TARGETS: &str = concat!(
        "[[targets.active.check_http]]\nhost = \"a.example\"\nurl = \"/x\"\norigin = \"auto: nginx\"\n",
        "[[targets.active.check_ping]]\nhost = \"b:c\"\nipv6 = false\ntags = [\"t\"]\n",
        "[[targets.passive]]\nhost = \"h\"\nname = \"p\"\napiKeyFile = \"/run/p\"\nscript = \"exit=0\"\n",
        "[targets.passive.timers]\ncheck = 5\ntimeout = 15\n",
        "[[targets.passive]]\nhost = \"h\"\nname = \"q\"\npublic = true\n",
    );

    #[test]
    fn every_target_from_the_index_is_the_one_a_full_load_builds() {
        let (_dir, path, full, source) = setup(TARGETS);
        assert_eq!(full.targets.len(), 4);
        for t in &full.targets {
            for id in [t.id.clone(), t.escaped_id()] {
                let one = lookup(&path, &source, &id).expect("indexed");
                assert_eq!(format!("{:?}", one.targets), format!("{:?}", [t]), "{id}");
                assert_eq!(one.origins.get(&t.id), full.origins.get(&t.id), "{id}");
                assert_eq!(one.state_dir, full.state_dir);
                assert_eq!(one.queue.max_count, 7);
                assert_eq!(format!("{:?}", one.key), format!("{:?}", full.key));
                assert_eq!(one.backends, full.backends);
            }
        }
        assert!(lookup(&path, &source, "nope").is_none());
    }

    #[test]
    fn a_changed_file_or_an_index_others_may_write_is_not_used() {
        let (dir, path, _full, _source) = setup(TARGETS);
        let index = dir.path().join("state").join(NAME);
        let fresh = Source::read(&path).unwrap();
        assert!(lookup(&path, &fresh, "h-q").is_some());
        std::fs::set_permissions(&index, std::fs::Permissions::from_mode(0o620)).unwrap();
        assert!(lookup(&path, &fresh, "h-q").is_none(), "group-writable");
        std::fs::set_permissions(&index, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(lookup(&path, &fresh, "h-q").is_some());
        // The same size, another text: the identity (ctime, mtime) differs.
        std::thread::sleep(Duration::from_millis(20));
        let text = std::fs::read_to_string(&path)
            .unwrap()
            .replace("\"q\"", "\"r\"");
        std::fs::write(&path, text).unwrap();
        let changed = Source::read(&path).unwrap();
        assert!(lookup(&path, &changed, "h-q").is_none());
        assert!(lookup(&path, &changed, "h-r").is_none());
    }

    #[test]
    fn a_file_changed_just_now_is_not_indexed() {
        let (dir, path, full, source) = setup("");
        std::fs::remove_file(dir.path().join("state").join(NAME)).ok();
        let _ = full;
        let text = format!("{}{TARGETS}", source.text);
        std::fs::write(&path, text).unwrap();
        let source = Source::read(&path).unwrap();
        let config = Config::parse(&path, &source.text).unwrap();
        store(&config, &source);
        assert!(!dir.path().join("state").join(NAME).exists());
    }
}
