//! Integration tests: the built binary against servers on 127.0.0.1.

mod backends;
mod careless;
mod corrupt_state;
mod daemon;
mod edges;
mod fuzz;
mod healthchecks;
mod icinga2;
mod icinga2_ha;
mod links;
mod local;
mod module;
mod nixcloud;
mod notify;
mod origin;
mod page;
mod page_browser;
mod prometheus;
mod queue;
mod schema;
mod smtp;
mod spool;
mod util;
