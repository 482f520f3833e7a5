//! Fuzzes the session cookie decoding path: the input is one `Cookie` header
//! per line, read by a signed and a private codec with fixed keys.
//!
//! `\x01S`, `\x01L`, `\x01P` and `\x01Q` in the input stand for valid signed
//! and private cookie values (in the current and the older format), so the
//! fuzzer also explores valid cookies among garbage. Without
//! one of them, finding a session would be a forgery: that is a crash too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use session_runtime::fuzzing::read_fuzz_input;

fuzz_target!(|data: &[u8]| {
    let found = read_fuzz_input(data);
    if !data.contains(&0x01) {
        assert!(
            !found,
            "a session verified from bytes that hold no issued cookie"
        );
    }
});
