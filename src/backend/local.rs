//! The `local` backend: nothing leaves the machine. Registrations and results are written to
//! `local/` in the state directory, where `status` and the admin can read them.

use super::{rows_of_one_write, Api, Registered};
use crate::result::CheckResult;
use crate::retry::DeliveryError;
use crate::secrets::SecretError;
use crate::state::{write_atomic, StateDir};
use crate::targets::Target;
use anyhow::Context;
use std::io::Write;
use std::path::PathBuf;

/// Records into `<state>/local/`.
pub struct Local {
    dir: PathBuf,
}

impl Local {
    pub fn new(state: &StateDir) -> Local {
        Local {
            dir: state.root().join("local"),
        }
    }

    fn append_result(&self, result: &CheckResult) -> anyhow::Result<()> {
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("could not create {}", self.dir.display()))?;
        let path = self.dir.join("results.jsonl");
        let mut line = serde_json::to_vec(result).context("could not encode a result")?;
        line.push(b'\n');
        let mut file = crate::state::no_follow()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| crate::state::open_error(&path, e))?;
        // Synced: the queue drops its copy as soon as this returns.
        file.write_all(&line)
            .and_then(|()| file.sync_data())
            .with_context(|| format!("could not write {}", path.display()))
    }
}

impl Api for Local {
    async fn register(&self, targets: &[Target], complete: bool) -> Vec<Registered> {
        let path = self.dir.join("registrations.json");
        // A partial `register ID` adds to what an earlier full run recorded.
        let mut records: serde_json::Map<String, serde_json::Value> = match complete {
            true => serde_json::Map::new(),
            false => std::fs::read(&path)
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .unwrap_or_default(),
        };
        for t in targets {
            records.insert(
                t.id.clone(),
                serde_json::json!({ "kind": t.kind_name(), "host": t.host, "name": t.name }),
            );
        }
        let written = std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("could not create {}", self.dir.display()))
            .and_then(|()| {
                serde_json::to_vec_pretty(&records).context("could not encode registrations")
            })
            .and_then(|json| write_atomic(&path, &json, false));
        rows_of_one_write(targets, &written, "recording")
    }

    async fn deliver(
        &self,
        result: &CheckResult,
        _target: Option<&Target>,
    ) -> Result<(), DeliveryError> {
        self.append_result(result).map_err(DeliveryError::Transient)
    }

    fn check_access(&self, _target: Option<&Target>) -> Result<(), SecretError> {
        Ok(())
    }
}
