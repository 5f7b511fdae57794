#![no_main]
//! `cargo fuzz run dot_stuffer`: see smtp32_fuzz::oracles::dot_stuff.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    smtp32_fuzz::oracles::dot_stuff(data);
});
