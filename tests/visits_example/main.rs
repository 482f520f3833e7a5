//! The tests of the `visits` example, as one test binary (the rest are in
//! `tests/it`; the two examples each derive a `visits` namespace, which one
//! binary may hold once).

#[path = "../common/mod.rs"]
mod common;

#[path = "../../examples/visits.rs"]
#[allow(dead_code)] // the example's `main` is not used by the tests
mod visits;

mod browser;
mod cookie_header_properties;
mod flood;
mod percent_encoded_cookie;
mod visits_contract;
