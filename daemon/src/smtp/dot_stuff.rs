//! DATA transparency (RFC 5321 §4.5.2) for message bytes arriving in chunks.
//!
//! [`DataEncoder`] doubles a `.` at the start of every line and writes every
//! line ending — CRLF, a bare LF or a bare CR — as exactly CRLF. Unlike
//! lettre, async-smtp, curl and libESMTP it does not let a bare LF through.
//! It keeps three states and no input, so a chunk boundary may fall anywhere,
//! even between the CR and the LF of one line ending.

/// Bytes [`DataEncoder`] checks at a time for bytes that go out unchanged:
/// a message that needs changes (LF line endings) is found out after one
/// block.
const CHECK_BLOCK: usize = 1024;

/// [`pair_marks`]' mark of a wrong pair: a CR not followed by LF, or an LF
/// not preceded by CR.
const WRONG_PAIR: u8 = 1;
/// [`pair_marks`]' mark of an LF followed by a dot: a line that starts with
/// a dot.
const DOT_LINE: u8 = 2;

/// Where the encoder stands in the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of a line (and of the message): a `.` here is doubled.
    LineStart,
    /// A CR was just written out as CRLF: an LF next belongs to it and is
    /// swallowed; anything else starts a new line.
    AfterCr,
    /// Inside a line.
    InLine,
}

/// Dot-stuffs and CRLF-normalises one message at a time, across chunks.
#[derive(Debug, Clone)]
pub struct DataEncoder {
    state: State,
    /// False for BDAT (RFC 3030), whose chunks carry the message as it is:
    /// line endings are still made CRLF, dots are left alone, no end line.
    stuffing: bool,
}

impl Default for DataEncoder {
    fn default() -> Self {
        DataEncoder {
            state: State::LineStart,
            stuffing: true,
        }
    }
}

impl DataEncoder {
    /// An encoder at the start of a message.
    pub fn new() -> Self {
        Self::default()
    }

    /// An encoder for a BDAT chunk: the same line endings as for DATA, no
    /// dot-stuffing, and [`DataEncoder::finish`] adds no `.` line.
    pub fn for_bdat() -> Self {
        DataEncoder {
            state: State::LineStart,
            stuffing: false,
        }
    }

    /// The room to reserve for the encoding of `len` bytes: enough unless
    /// more than one line in 32 bytes needs a change (a bare line ending, a
    /// leading dot), and the end of the message.
    pub fn room_for(len: usize) -> usize {
        len + len / 32 + b"\r\n.\r\n".len()
    }

    /// Appends the encoding of the next chunk of the message to `out`: the
    /// bytes that go out unchanged (see [`DataEncoder::pass_unchanged`]) in
    /// one copy, then, from the first block that needs a change on, lines
    /// one by one, runs of unchanged lines still copied in one piece (a
    /// per-line copy cost twice as much).
    pub fn encode(&mut self, input: &[u8], out: &mut Vec<u8>) {
        let unchanged = self.pass_unchanged(input);
        out.reserve(Self::room_for(input.len()));
        out.extend_from_slice(&input[..unchanged]);
        self.encode_changed(&input[unchanged..], out);
    }

    /// Appends the encoding of what [`DataEncoder::pass_unchanged`] left of
    /// a chunk (it starts with a block that needs a change), line by line,
    /// without checking that block again.
    pub fn encode_changed(&mut self, rest: &[u8], out: &mut Vec<u8>) {
        out.reserve(Self::room_for(rest.len()));
        self.encode_lines(rest, out);
    }

    /// How many bytes at the start of the next chunk of the message are
    /// their own encoding (the usual message: every line ends in CRLF and
    /// none starts with a dot), checked a block at a time; the encoder moves
    /// past them. The caller writes them as they are, from where it holds
    /// them, and encodes the rest.
    pub fn pass_unchanged(&mut self, input: &[u8]) -> usize {
        let mut passed = 0;
        while let Some(unchanged) = self.unchanged_block(&input[passed..]) {
            passed += unchanged;
            // Not a CR (a block never ends inside a CRLF): an LF ends a line.
            self.state = if input[passed - 1] == b'\n' {
                State::LineStart
            } else {
                State::InLine
            };
        }
        passed
    }

    /// How many bytes at the start of `rest` (about [`CHECK_BLOCK`]) are
    /// their own encoding from the encoder's state: every CR and LF among
    /// them belongs to a CRLF, and (when stuffing) no line among them starts
    /// with a dot. `None` when the block needs a change, or `rest` is empty.
    /// The check is one pass over the block's pairs of bytes in vector
    /// registers ([`pair_marks`]): a fraction of what the line-by-line
    /// search below spends on a block.
    fn unchanged_block(&self, rest: &[u8]) -> Option<usize> {
        let first = *rest.first()?;
        let at_line_start = match self.state {
            State::LineStart => true,
            State::InLine => false,
            // An LF first would be swallowed.
            State::AfterCr => return None,
        };
        if first == b'\n' || (self.stuffing && at_line_start && first == b'.') {
            return None;
        }
        let end = rest.len().min(CHECK_BLOCK);
        // Pair i is (rest[i], rest[i + 1]), for every byte of the block that
        // has a next one (the first of the next block, too). A pair is wrong
        // when a CR is not followed by LF or an LF is not preceded by CR; an
        // LF and a dot start a dotted line.
        let pairs = end.min(rest.len() - 1);
        let (a, b) = (&rest[..pairs], &rest[1..=pairs]);
        let marks = pair_marks(a, b);
        // A CR last in the chunk may meet its LF in the next one.
        if marks & WRONG_PAIR != 0 || (rest[end - 1] == b'\r' && end == rest.len()) {
            return None;
        }
        if self.stuffing && marks & DOT_LINE != 0 {
            return None;
        }
        // The block ends after the LF of a CRLF it would split (a dot after
        // that LF is the next block's first byte, checked at a line start).
        Some(if rest[end - 1] == b'\r' { end + 1 } else { end })
    }

    /// The line-by-line encoding of `input`, from the encoder's state.
    fn encode_lines(&mut self, input: &[u8], out: &mut Vec<u8>) {
        // `input[..copied]` is in `out`; `self.state` describes `input[at]`.
        let mut copied = 0;
        let mut at = 0;
        while let Some(&first) = input.get(at) {
            if self.state == State::AfterCr && first == b'\n' {
                out.extend_from_slice(&input[copied..at]);
                at += 1;
                copied = at;
                self.state = State::LineStart;
                continue;
            }
            if self.stuffing && self.state != State::InLine && first == b'.' {
                out.extend_from_slice(&input[copied..at]);
                out.push(b'.');
                copied = at;
            }
            // memchr2 scans a word (or a vector) at a time: a byte-by-byte
            // search cost 8 instructions per message byte.
            let Some(found) = memchr::memchr2(b'\r', b'\n', &input[at..]) else {
                self.state = State::InLine;
                break;
            };
            let end = at + found;
            if input[end] == b'\r' && input.get(end + 1) == Some(&b'\n') {
                // A CRLF line ending goes out as it came.
                at = end + 2;
                self.state = State::LineStart;
                continue;
            }
            // A bare LF, a bare CR, or a CR whose LF may start the next chunk.
            out.extend_from_slice(&input[copied..end]);
            out.extend_from_slice(b"\r\n");
            self.state = if input[end] == b'\r' {
                State::AfterCr
            } else {
                State::LineStart
            };
            at = end + 1;
            copied = at;
        }
        out.extend_from_slice(&input[copied..]);
    }

    /// Appends the end of the message — CRLF if the last line lacked one, then
    /// `.` CRLF (not for BDAT) — and makes the encoder ready for the next message.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if self.state == State::InLine {
            out.extend_from_slice(b"\r\n");
        }
        if self.stuffing {
            out.extend_from_slice(b".\r\n");
        }
        self.state = State::LineStart;
    }
}

/// The marks of the pairs `(a[i], b[i])`: [`WRONG_PAIR`] and [`DOT_LINE`],
/// each set when any pair has it. With AVX2, where the CPU has it, the loop
/// takes 32 bytes a step instead of the x86-64 baseline's 16.
fn pair_marks(a: &[u8], b: &[u8]) -> u8 {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2, as checked just above.
        return unsafe { pair_marks_avx2(a, b) };
    }
    pair_marks_in(a, b)
}

/// [`pair_marks_in`] 32 pairs a step in AVX2's registers, the rest by the loop.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn pair_marks_avx2(a: &[u8], b: &[u8]) -> u8 {
    use std::arch::x86_64::{
        __m256i, _mm256_and_si256, _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_or_si256,
        _mm256_set1_epi8, _mm256_setzero_si256, _mm256_testz_si256, _mm256_xor_si256,
    };
    let n = a.len().min(b.len());
    let byte = |c: u8| _mm256_set1_epi8(c as i8);
    let (cr, lf, dot) = (byte(b'\r'), byte(b'\n'), byte(b'.'));
    let (mut wrong, mut dot_line) = (_mm256_setzero_si256(), _mm256_setzero_si256());
    let mut at = 0;
    while at + 32 <= n {
        // SAFETY: `at + 32 <= n`, and both slices are `n` bytes long or
        // more: each load reads 32 bytes inside its slice (unaligned loads).
        let (va, vb) = unsafe {
            (
                _mm256_loadu_si256(a.as_ptr().add(at).cast::<__m256i>()),
                _mm256_loadu_si256(b.as_ptr().add(at).cast::<__m256i>()),
            )
        };
        let (a_cr, b_lf) = (_mm256_cmpeq_epi8(va, cr), _mm256_cmpeq_epi8(vb, lf));
        wrong = _mm256_or_si256(wrong, _mm256_xor_si256(a_cr, b_lf));
        let (a_lf, b_dot) = (_mm256_cmpeq_epi8(va, lf), _mm256_cmpeq_epi8(vb, dot));
        dot_line = _mm256_or_si256(dot_line, _mm256_and_si256(a_lf, b_dot));
        at += 32;
    }
    let any = |v: __m256i| u8::from(_mm256_testz_si256(v, v) == 0);
    let marks = (any(wrong) * WRONG_PAIR) | (any(dot_line) * DOT_LINE);
    marks | pair_marks_in(&a[at..n], &b[at..n])
}

/// [`pair_marks`] by its definition: the x86-64 baseline's loop (the
/// compiler vectorises it), and AVX2's for the pairs after its last 32.
#[inline(always)]
fn pair_marks_in(a: &[u8], b: &[u8]) -> u8 {
    // No early exit: that would keep the loop from being vectorised.
    a.iter().zip(b).fold(0u8, |marks, (&a, &b)| {
        let wrong = u8::from(a == b'\r') ^ u8::from(b == b'\n');
        let dot_line = u8::from(a == b'\n') & u8::from(b == b'.');
        marks | (wrong * WRONG_PAIR) | (dot_line * DOT_LINE)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One-shot encoding of a message given in chunks.
    fn encode(chunks: &[&[u8]]) -> Vec<u8> {
        let mut enc = DataEncoder::new();
        let mut out = Vec::new();
        for chunk in chunks {
            enc.encode(chunk, &mut out);
        }
        enc.finish(&mut out);
        out
    }

    /// The encoding by its definition, a byte at a time.
    fn reference(message: &[u8], stuffing: bool) -> Vec<u8> {
        let (mut out, mut at_line_start, mut i) = (Vec::new(), true, 0);
        while let Some(&b) = message.get(i) {
            i += 1;
            if b == b'\r' || b == b'\n' {
                out.extend_from_slice(b"\r\n");
                if b == b'\r' && message.get(i) == Some(&b'\n') {
                    i += 1;
                }
                at_line_start = true;
                continue;
            }
            if stuffing && at_line_start && b == b'.' {
                out.push(b'.');
            }
            out.push(b);
            at_line_start = false;
        }
        if !at_line_start {
            out.extend_from_slice(b"\r\n");
        }
        if stuffing {
            out.extend_from_slice(b".\r\n");
        }
        out
    }

    /// Every message of up to six bytes of `a`, `.`, CR and LF, in two chunks
    /// cut at every place, for DATA and for BDAT: whether a chunk takes the
    /// unchanged path or the line-by-line one, the bytes are the definition's.
    #[test]
    fn every_short_message_cut_anywhere_is_encoded_by_the_definition() {
        let alphabet = [b'a', b'.', b'\r', b'\n'];
        let mut messages = vec![Vec::new()];
        for len in 1..=6u32 {
            for mut n in 0..4usize.pow(len) {
                messages.push(
                    (0..len)
                        .map(|_| {
                            let b = alphabet[n % 4];
                            n /= 4;
                            b
                        })
                        .collect(),
                );
            }
        }
        for message in &messages {
            for stuffing in [true, false] {
                let want = reference(message, stuffing);
                for cut in 0..=message.len() {
                    let mut enc = if stuffing {
                        DataEncoder::new()
                    } else {
                        DataEncoder::for_bdat()
                    };
                    let mut out = Vec::new();
                    enc.encode(&message[..cut], &mut out);
                    enc.encode(&message[cut..], &mut out);
                    enc.finish(&mut out);
                    assert_eq!(
                        out.escape_ascii().to_string(),
                        want.escape_ascii().to_string(),
                        "{:?} cut at {cut}, stuffing {stuffing}",
                        message.escape_ascii().to_string()
                    );
                }
            }
        }
    }

    /// The check the CPU runs (AVX2 here, where it has it) marks a wrong
    /// pair and a line that starts with a dot wherever they are, in every
    /// length of input around the vector widths, as the baseline loop and
    /// the definition do.
    #[test]
    fn the_pair_check_finds_a_stray_byte_anywhere() {
        let clean: Vec<u8> = b"abc\r\n".iter().copied().cycle().take(101).collect();
        for len in 1..clean.len() {
            for at in 0..len {
                for stray in [b'\r', b'\n', b'.', b'x'] {
                    let mut bytes = clean[..len + 1].to_vec();
                    bytes[at] = stray;
                    let (a, b) = (&bytes[..len], &bytes[1..=len]);
                    let pairs = || a.iter().zip(b);
                    let wrong = pairs().any(|(&a, &b)| (a == b'\r') != (b == b'\n'));
                    let dot_line = pairs().any(|(&a, &b)| a == b'\n' && b == b'.');
                    let defined = (u8::from(wrong) * WRONG_PAIR) | (u8::from(dot_line) * DOT_LINE);
                    let context = format!("{:?} over {len}", bytes.escape_ascii().to_string());
                    assert_eq!(pair_marks(a, b), defined, "{context}");
                    assert_eq!(pair_marks_in(a, b), defined, "{context}");
                }
            }
        }
    }

    /// A change needed at either side of a check block's edge is seen.
    #[test]
    fn a_change_needed_near_a_block_edge_is_made() {
        let clean: Vec<u8> = b"0123456789abcdefghijklmnopqrstuvwxyz\r\n"
            .iter()
            .copied()
            .cycle()
            .take(3 * CHECK_BLOCK)
            .collect();
        for at in CHECK_BLOCK - 3..CHECK_BLOCK + 3 {
            for byte in [b'\r', b'\n', b'.'] {
                let mut message = clean.clone();
                message[at] = byte;
                // Line starts for the dot, too: an LF then a dot.
                let mut dotted = clean.clone();
                dotted[at..at + 3].copy_from_slice(b"\r\n.");
                for (message, stuffing) in
                    [(message.clone(), true), (message, false), (dotted, true)]
                {
                    let mut enc = if stuffing {
                        DataEncoder::new()
                    } else {
                        DataEncoder::for_bdat()
                    };
                    let mut out = Vec::new();
                    enc.encode(&message, &mut out);
                    enc.finish(&mut out);
                    assert!(out == reference(&message, stuffing), "byte {byte} at {at}");
                }
            }
        }
    }

    #[test]
    fn empty_message_is_just_the_dot() {
        assert_eq!(encode(&[]), b".\r\n");
        assert_eq!(encode(&[b"", b""]), b".\r\n");
    }

    #[test]
    fn doubles_a_dot_at_byte_zero() {
        assert_eq!(encode(&[b".hidden"]), b"..hidden\r\n.\r\n");
        assert_eq!(encode(&[b"."]), b"..\r\n.\r\n");
        assert_eq!(encode(&[b"", b".x"]), b"..x\r\n.\r\n");
    }

    #[test]
    fn doubles_a_dot_after_every_kind_of_line_ending() {
        assert_eq!(encode(&[b"a\n.b"]), b"a\r\n..b\r\n.\r\n");
        assert_eq!(encode(&[b"a\r.b"]), b"a\r\n..b\r\n.\r\n");
        assert_eq!(encode(&[b"a\r\n.b\r\n"]), b"a\r\n..b\r\n.\r\n");
        assert_eq!(encode(&[b"a\r\n", b".\r\n"]), b"a\r\n..\r\n.\r\n");
        assert_eq!(encode(&[b"a\r", b".b"]), b"a\r\n..b\r\n.\r\n");
    }

    #[test]
    fn leaves_dots_inside_lines_alone() {
        assert_eq!(encode(&[b"a.b.\r\n"]), b"a.b.\r\n.\r\n");
        assert_eq!(encode(&[b"a", b".b"]), b"a.b\r\n.\r\n");
    }

    #[test]
    fn normalises_line_endings() {
        assert_eq!(
            encode(&[b"a\nb\rc\r\nd\n\re"]),
            b"a\r\nb\r\nc\r\nd\r\n\r\ne\r\n.\r\n"
        );
        assert_eq!(encode(&[b"\r\r\n\n"]), b"\r\n\r\n\r\n.\r\n");
    }

    #[test]
    fn cr_ending_one_chunk_and_lf_starting_the_next_are_one_line_ending() {
        assert_eq!(encode(&[b"a\r", b"\nb"]), b"a\r\nb\r\n.\r\n");
        assert_eq!(encode(&[b"a\r", b"\n.b"]), b"a\r\n..b\r\n.\r\n");
        assert_eq!(encode(&[b"a\r", b"", b"\n"]), b"a\r\n.\r\n");
        assert_eq!(encode(&[b"a\r", b"\r"]), b"a\r\n\r\n.\r\n");
    }

    #[test]
    fn message_ending_in_a_line_ending_gets_no_extra_crlf() {
        assert_eq!(encode(&[b"a\r"]), b"a\r\n.\r\n");
        assert_eq!(encode(&[b"a\n"]), b"a\r\n.\r\n");
        assert_eq!(encode(&[b"a\r\n"]), b"a\r\n.\r\n");
        assert_eq!(encode(&[b"a"]), b"a\r\n.\r\n");
    }

    #[test]
    fn passes_eight_bit_bytes_untouched() {
        let high: Vec<u8> = (0x80..=0xff).chain([0, 1, 0x7f]).collect();
        let mut expected = high.clone();
        expected.extend_from_slice(b"\r\n.\r\n");
        assert_eq!(encode(&[&high]), expected);
    }

    #[test]
    fn finish_resets_for_the_next_message() {
        let mut enc = DataEncoder::new();
        let mut out = Vec::new();
        enc.encode(b"a\r", &mut out);
        enc.finish(&mut out);
        enc.encode(b"\n.x", &mut out);
        enc.finish(&mut out);
        assert_eq!(out, b"a\r\n.\r\n\r\n..x\r\n.\r\n");
    }

    /// Reference: every CRLF, bare CR or bare LF becomes CRLF, and a final
    /// CRLF is added to a non-empty message that lacks one.
    fn normalise(input: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < input.len() {
            match input[i] {
                b'\r' if input.get(i + 1) == Some(&b'\n') => {
                    out.extend_from_slice(b"\r\n");
                    i += 1;
                }
                b'\r' | b'\n' => out.extend_from_slice(b"\r\n"),
                b => out.push(b),
            }
            i += 1;
        }
        if !out.is_empty() && !out.ends_with(b"\r\n") {
            out.extend_from_slice(b"\r\n");
        }
        out
    }

    /// Reference receiver: strips the final `.` line and one leading dot per line.
    fn unstuff(wire: &[u8]) -> Vec<u8> {
        let body = wire.strip_suffix(b".\r\n").expect("ends with the dot line");
        let mut out = Vec::new();
        for line in body.split_inclusive(|&b| b == b'\n') {
            assert!(line.ends_with(b"\r\n"), "every line ends in CRLF: {line:?}");
            assert!(
                !line[..line.len() - 2].contains(&b'\r'),
                "no bare CR: {line:?}"
            );
            assert!(line != b".\r\n", "no early end of data");
            out.extend_from_slice(line.strip_prefix(b".").unwrap_or(line));
        }
        out
    }

    /// xorshift64: deterministic, so a failure reproduces.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n as u64) as usize
        }
    }

    #[test]
    fn random_chunking_matches_one_shot_and_round_trips() {
        let bytes: Vec<&[u8]> = [
            b".", b"\r", b"\n", b"\r", b"\n", b"a", b".", b"\xff", b"\x00",
        ]
        .map(|b: &[u8; 1]| b.as_slice())
        .to_vec();
        random_messages(&bytes, 40, 0x5eed_1234_abcd_ef01);
    }

    /// Messages made of whole lines, mostly CRLF-ended ones, now and then a
    /// dot line, a bare CR, a bare LF or a line's start without its end:
    /// long runs of lines that go out unchanged, cut anywhere.
    #[test]
    fn random_runs_of_whole_lines_match_one_shot_and_round_trip() {
        let pieces: [&[u8]; 8] = [
            b"The quick brown fox\r\n",
            b"jumps\r\n",
            b"\r\n",
            b"over the lazy dog\r\n",
            b".dot line\r\n",
            b"bare LF\n",
            b"bare CR\r",
            b"no end ",
        ];
        random_messages(&pieces, 60, 0xc1ea_4e55_0dd5_0001);
    }

    /// Encodes 5,000 random messages of up to `max_pieces` pieces drawn
    /// from `pieces`, whole and cut at random, against the references.
    fn random_messages(pieces: &[&[u8]], max_pieces: usize, seed: u64) {
        let mut rng = Rng(seed);
        for _ in 0..5_000 {
            let input: Vec<u8> = (0..rng.below(max_pieces))
                .flat_map(|_| pieces[rng.below(pieces.len())])
                .copied()
                .collect();
            let len = input.len();
            let whole = encode(&[&input]);
            let mut cuts: Vec<usize> = (0..rng.below(6)).map(|_| rng.below(len + 1)).collect();
            cuts.sort_unstable();
            let mut chunks = Vec::new();
            let mut from = 0;
            for cut in cuts {
                chunks.push(&input[from..cut]);
                from = cut;
            }
            chunks.push(&input[from..]);
            assert_eq!(encode(&chunks), whole, "input {input:?} cut as {chunks:?}");
            assert_eq!(unstuff(&whole), normalise(&input), "input {input:?}");
            let mut bdat = DataEncoder::for_bdat();
            let mut chunked = Vec::new();
            for chunk in &chunks {
                bdat.encode(chunk, &mut chunked);
            }
            bdat.finish(&mut chunked);
            assert_eq!(chunked, normalise(&input), "BDAT: input {input:?}");
        }
    }
}
