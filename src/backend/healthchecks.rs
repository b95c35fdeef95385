//! The `healthchecks` backend (being written).

use super::{Api, Registered};
use crate::config::Config;
use crate::result::CheckResult;
use crate::retry::DeliveryError;
use crate::secrets::SecretError;
use crate::state::StateDir;
use crate::targets::Target;

/// Placeholder until the backend lands.
pub struct Healthchecks {}

impl Healthchecks {
    pub fn new(_config: &Config, _state: &StateDir) -> anyhow::Result<Healthchecks> {
        Ok(Healthchecks {})
    }
}

impl Api for Healthchecks {
    async fn register(&self, _targets: &[Target], _complete: bool) -> Vec<Registered> {
        Vec::new()
    }

    async fn deliver(
        &self,
        _result: &CheckResult,
        _target: Option<&Target>,
    ) -> Result<(), DeliveryError> {
        Err(DeliveryError::Transient(anyhow::anyhow!("healthchecks: not written yet")))
    }

    fn check_access(&self, _target: Option<&Target>) -> Result<(), SecretError> {
        Ok(())
    }
}
