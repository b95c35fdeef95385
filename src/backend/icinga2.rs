//! The Icinga2 backend (REST API). Placeholder until the implementation lands.

use super::{Api, Registered};
use crate::config::Config;
use crate::result::CheckResult;
use crate::retry::DeliveryError;
use crate::secrets::SecretError;
use crate::targets::Target;

/// A connection to an Icinga2 API.
pub struct Icinga2 {}

impl Icinga2 {
    pub fn new(_config: &Config) -> anyhow::Result<Icinga2> {
        anyhow::bail!("the icinga2 backend is not implemented yet")
    }
}

impl Api for Icinga2 {
    async fn register(&self, _targets: &[Target], _complete: bool) -> Vec<Registered> {
        Vec::new()
    }

    async fn deliver(
        &self,
        _result: &CheckResult,
        _target: Option<&Target>,
    ) -> Result<(), DeliveryError> {
        Err(DeliveryError::Transient(anyhow::anyhow!("not implemented")))
    }

    fn check_access(&self, _target: Option<&Target>) -> Result<(), SecretError> {
        Ok(())
    }
}
