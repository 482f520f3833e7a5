//! Fuzzes the cookie store's payload decoder: the input is the plaintext a
//! cookie carries, decoded as it is and through a sealed (and a signed)
//! cookie read back by the codec. Any bytes give "no session" or a session,
//! the same all three ways; nothing panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use session_runtime::fuzzing::read_payload;

fuzz_target!(|data: &[u8]| {
    let _ = read_payload(data);
});
