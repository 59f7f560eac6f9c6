//! Tests of `MockThoughtSpot` itself, over real HTTP with a plain hyper client: one module per
//! API generation, then the faults it injects and what it records.
//!
//! Cases of one shape are tables of (name, request, expected) rows run by `Harness::check`;
//! a failure names its row.

#[path = "../common/mod.rs"]
mod common;
mod harness;

mod beta;
mod fault_marks;
mod faults;
mod lifetimes;
mod records;
mod server;
mod v1;
mod v2;
mod v2_sessions;
