//! Header, query and cookie extraction over arbitrary request parts.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Layout: a URI line, then header lines `name:value`, split on newlines.
    let mut lines = data.split(|&b| b == b'\n');
    let uri = String::from_utf8_lossy(lines.next().unwrap_or_default());
    let headers: Vec<(&[u8], &[u8])> = lines
        .filter_map(|line| {
            let colon = line.iter().position(|&b| b == b':')?;
            Some((&line[..colon], &line[colon + 1..]))
        })
        .collect();
    sessionscope::fuzzing::sources(&uri, &headers);
});
