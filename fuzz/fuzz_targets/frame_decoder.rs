#![no_main]
//! `cargo fuzz run frame_decoder`: see smtp32_fuzz::oracles::frame.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    smtp32_fuzz::oracles::frame(data);
});
