//! Session and correlation id validation over arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sessionscope::fuzzing::ids(data));
