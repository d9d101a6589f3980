//! The integration tests of mf-format, in one test binary (one link step): the golden
//! vectors, the structural and signature rules one reason at a time, and the property tests.

mod golden;
mod props;
mod rules;
