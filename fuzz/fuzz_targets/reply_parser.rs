#![no_main]
//! `cargo fuzz run reply_parser`: see smtp32_fuzz::oracles::reply.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    smtp32_fuzz::oracles::reply(data);
});
