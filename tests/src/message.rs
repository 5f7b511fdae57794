//! What a message should look like when it arrives, and messages to send.
//!
//! [`expected_on_arrival`] is the reference for the send path: every line ending (CRLF, bare
//! LF, bare CR) becomes CRLF and a final CRLF is added when the message does not end with one.
//! An empty message stays empty (DATA, then the lone dot). Dot-stuffing is invisible here: the
//! receiving server removes it again, so what arrives must equal this function's output.

/// The bytes a server must store for a message sent as `input` (the concatenation of every
/// chunk passed to the client).
pub fn expected_on_arrival(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() + input.len() / 32 + 2);
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'\r' => {
                out.extend_from_slice(b"\r\n");
                if input.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
            }
            b'\n' => out.extend_from_slice(b"\r\n"),
            b => out.push(b),
        }
        i += 1;
    }
    if !out.is_empty() && !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// A deterministic pseudo-random generator (xorshift64*), so big messages need no RNG crate
/// and a failure can be reproduced from its seed.
pub struct Xorshift(u64);

impl Xorshift {
    /// A generator from a non-zero seed.
    pub fn new(seed: u64) -> Xorshift {
        Xorshift(seed.max(1))
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A value in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// A message of at least `size` bytes whose lines (each under 1000 bytes, as RFC 5321 and
/// aiosmtpd require) mix CRLF, bare LF and bare CR endings, leading dots, lone-dot lines and
/// 8-bit bytes; it ends without a final newline.
pub fn generated_message(size: usize, seed: u64) -> Vec<u8> {
    let mut rng = Xorshift::new(seed);
    let mut out = Vec::with_capacity(size + 1024);
    while out.len() < size {
        match rng.below(16) {
            0 => out.push(b'.'),
            1 => out.extend_from_slice(b".."),
            _ => {}
        }
        let len = rng.below(200) as usize;
        for _ in 0..len {
            let r = rng.below(100);
            out.push(match r {
                0 => 0xC3,
                1 => 0xA9,
                2 => 0xFF,
                3 => b'.',
                _ => b' ' + (rng.below(95) as u8),
            });
        }
        out.extend_from_slice(match rng.below(10) {
            0 => b"\n",
            1 => b"\r",
            _ => b"\r\n",
        });
    }
    // No final newline: the daemon must add the CRLF.
    while matches!(out.last(), Some(b'\r' | b'\n')) {
        out.pop();
    }
    out.extend_from_slice(b"end");
    out
}

/// The header line that names a chaos-test message.
pub const CHAOS_ID_HEADER: &str = "X-Chaos-Id: ";

/// The chaos test's message `id` (e.g. `3-117`) under `seed`: a header naming it, then a body
/// of 200 to 6,000 bytes from [`generated_message`] (mixed line endings, leading dots, 8-bit
/// bytes, no final newline). Sender and checker both call this, so the checker knows the
/// exact bytes that must have arrived ([`expected_on_arrival`]).
pub fn chaos_message(seed: u64, id: &str) -> Vec<u8> {
    let mut h = seed ^ 0xC4A0_5EED;
    for b in id.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01B3);
    }
    let mut rng = Xorshift::new(h);
    let size = 200 + rng.below(5_800) as usize;
    let mut out = format!("{CHAOS_ID_HEADER}{id}\r\nSubject: chaos {id}\r\n\r\n").into_bytes();
    out.extend_from_slice(&generated_message(size, rng.next_u64()));
    out
}

/// The id in a stored chaos message's first line, if it has one.
pub fn chaos_id(stored: &[u8]) -> Option<String> {
    let first = stored.split(|&b| b == b'\r').next()?;
    let id = std::str::from_utf8(first)
        .ok()?
        .strip_prefix(CHAOS_ID_HEADER)?;
    Some(id.to_string())
}

/// A short readable description of where two byte strings first differ, for assert messages
/// about big messages.
pub fn first_difference(got: &[u8], want: &[u8]) -> String {
    let at = got
        .iter()
        .zip(want)
        .position(|(a, b)| a != b)
        .unwrap_or(got.len().min(want.len()));
    let from = at.saturating_sub(40);
    format!(
        "lengths got {} want {}; first difference at byte {at}: got {:?} want {:?}",
        got.len(),
        want.len(),
        String::from_utf8_lossy(&got[from..(at + 40).min(got.len())]),
        String::from_utf8_lossy(&want[from..(at + 40).min(want.len())]),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_ending_becomes_crlf_and_a_final_one_is_added() {
        assert_eq!(
            expected_on_arrival(b"a\nb\rc\r\nd"),
            b"a\r\nb\r\nc\r\nd\r\n"
        );
        assert_eq!(expected_on_arrival(b"a\r\r\n"), b"a\r\n\r\n");
        assert_eq!(expected_on_arrival(b"a\n\r"), b"a\r\n\r\n");
        assert_eq!(expected_on_arrival(b""), b"");
        assert_eq!(expected_on_arrival(b"\r"), b"\r\n");
        assert_eq!(expected_on_arrival(b".\r\n"), b".\r\n");
    }

    #[test]
    fn chaos_messages_carry_their_id_and_follow_the_seed() {
        let m = chaos_message(9, "3-117");
        assert_eq!(chaos_id(&expected_on_arrival(&m)).as_deref(), Some("3-117"));
        assert_eq!(m, chaos_message(9, "3-117"));
        assert_ne!(m, chaos_message(9, "3-118"));
        assert_eq!(chaos_id(b"Subject: x\r\n"), None);
    }

    #[test]
    fn generated_lines_stay_short_and_the_seed_decides() {
        let m = expected_on_arrival(&generated_message(200_000, 7));
        assert!(m.len() >= 200_000);
        assert!(m.split(|&b| b == b'\n').all(|l| l.len() < 1000));
        assert_eq!(generated_message(10_000, 7), generated_message(10_000, 7));
        assert_ne!(generated_message(10_000, 7), generated_message(10_000, 8));
    }
}
