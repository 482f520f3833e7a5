//! Redis tests (being written).
