//! Who this process acts as towards the state directory.
//!
//! The state directory belongs to the service user. Anyone else writing there would leave
//! files the service cannot touch (root's `queue/.lock` after one manual `submit` would stop
//! every later delivery). So: the owner works as usual; root first reads every secret it may
//! need (root may read the key files, the service user only gets them as credentials), then
//! becomes the owner; everyone else only drops results into the group-writable spool.

use anyhow::Context;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// How this process may use the state directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The owner (or root acting as the owner, or nobody owns it yet): full use.
    Owner,
    /// Someone else: results go to the spool for the service to deliver.
    Guest,
}

/// Decides the role; root becomes the owner of an existing state directory, calling
/// `before_drop` first (to read secrets while it still may).
pub fn settle(state_dir: &Path, before_drop: impl FnOnce()) -> anyhow::Result<Role> {
    let Ok(meta) = std::fs::metadata(state_dir) else {
        return Ok(Role::Owner);
    };
    // SAFETY: plain getters without arguments.
    let euid = unsafe { libc::geteuid() };
    if meta.uid() == euid {
        return Ok(Role::Owner);
    }
    if euid != 0 {
        return Ok(Role::Guest);
    }
    before_drop();
    become_user(meta.uid(), meta.gid()).with_context(|| {
        format!(
            "could not switch to the owner (uid {}) of {}",
            meta.uid(),
            state_dir.display()
        )
    })?;
    tracing::debug!(
        "running as uid {}, the owner of {}",
        meta.uid(),
        state_dir.display()
    );
    Ok(Role::Owner)
}

fn become_user(uid: u32, gid: u32) -> std::io::Result<()> {
    // SAFETY: each call only takes integers (and a one-element array that outlives it); the
    // order (groups, gid, uid) is the one that still has the privilege for each step.
    let rc = unsafe {
        let groups = [gid as libc::gid_t];
        if libc::setgroups(1, groups.as_ptr()) != 0
            || libc::setgid(gid) != 0
            || libc::setuid(uid) != 0
        {
            -1
        } else {
            0
        }
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}
