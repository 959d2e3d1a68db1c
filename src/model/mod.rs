//! The outage model: component kinds and their behaviour, requests, health checks, faults and
//! metrics, built on the engine. Does no I/O.

pub mod spec;
