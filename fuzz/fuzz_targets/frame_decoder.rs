#![no_main]
//! `cargo fuzz run frame_decoder`: see smtp32_fuzz::oracles::frame (the one-shot `read_frame`
//! and, on the same bytes fed in pieces, the incremental `FrameDecoder`).

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    smtp32_fuzz::oracles::frame(data);
});
