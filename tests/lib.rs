//! Shared helpers for the integration tests live in each test file; this library is empty.
