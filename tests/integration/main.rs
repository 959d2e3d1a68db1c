//! The integration test binary: engine determinism across executors, stop rules, observers,
//! refusals, and the command line as a user sees it.

mod autoscale;
mod cli;
mod cluster;
mod common;
mod connections;
mod defaults;
mod dns_paths;
mod engine;
mod fallback;
mod fault_windows;
mod gossip;
mod limits;
mod lint;
mod model;
mod mutations;
mod operators;
mod paired;
mod plot;
mod precision;
mod queueing;
mod render;
mod replay;
mod report_page;
mod run;
mod safety;
mod scenarios;
mod schema;
mod sharding;
mod summary;
mod sweep;
mod validation;
mod warmup;
