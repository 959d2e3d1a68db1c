//! outagesim: a deterministic discrete-event simulator of outages in distributed systems.
//!
//! Layers depend in one direction: `engine` (time, events, executors) <- `model` (component
//! behaviour, metrics) <- `scenario` (files into a validated spec) <- `report` (outputs as
//! bytes) <- the CLI. `bench` holds the engine benchmarks' models. See `ARCHITECTURE.md`.

pub mod bench;
pub mod engine;
pub mod files;
pub mod lint;
pub mod model;
pub mod plot;
pub mod report;
pub mod scenario;
pub mod stats;
pub mod sweep;
