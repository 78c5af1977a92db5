//! The JSON body peek, checked against a full parse.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sessionscope::fuzzing::body(data));
