//! No code: this crate's tests (`tests/`) build the domain with its test-only event type,
//! `SampleRetained`, and check that it goes through the store and sync like any other.
