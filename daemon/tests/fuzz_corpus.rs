//! The fuzz targets' oracles (fuzz/src/oracles.rs) on the stable toolchain, in every test run:
//! each file of the committed corpus (fuzz/corpus/<target>/), then seeded mutations of them
//! (bit flips, byte changes, insertions, deletions, truncations, splices), a bounded number per
//! target. This is a property test, not coverage-guided fuzzing: `cargo fuzz` (tests/run-all.sh
//! runs it for a bounded time when it is installed) explores further.

#[path = "../../fuzz/src/oracles.rs"]
mod oracles;

use std::path::PathBuf;

/// Mutated inputs per target.
const MUTATIONS: usize = 100_000;

fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .collect();
    files.sort();
    let inputs: Vec<Vec<u8>> = files
        .iter()
        .map(|p| std::fs::read(p).expect("read corpus file"))
        .collect();
    assert!(
        inputs.len() >= 5,
        "the {target} corpus has only {} files",
        inputs.len()
    );
    inputs
}

/// xorshift64*: a failure reproduces from the printed input.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Bytes that matter to the parsers, so mutations hit the interesting cases often.
const INTERESTING: &[u8] = b"\r\n.\0 -0123456789\xfb\xfc\xfd\xff";

fn mutate(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut m = seeds[rng.below(seeds.len())].clone();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(m.len() + 1);
        match rng.below(7) {
            0 if !m.is_empty() => {
                let i = at.min(m.len() - 1);
                m[i] ^= 1 << rng.below(8);
            }
            1 if !m.is_empty() => {
                let i = at.min(m.len() - 1);
                m[i] = INTERESTING[rng.below(INTERESTING.len())];
            }
            2 => m.insert(at, INTERESTING[rng.below(INTERESTING.len())]),
            3 if at < m.len() => {
                m.remove(at);
            }
            4 => m.truncate(at),
            5 => {
                let other = &seeds[rng.below(seeds.len())];
                let from = rng.below(other.len() + 1);
                m.splice(at..at, other[from..].iter().copied());
            }
            _ => {
                let n = rng.below(64);
                let b = INTERESTING[rng.below(INTERESTING.len())];
                m.splice(at..at, std::iter::repeat_n(b, n));
            }
        }
    }
    m
}

fn run(target: &str, oracle: fn(&[u8])) {
    let seeds = corpus(target);
    for (i, input) in seeds.iter().enumerate() {
        let r = std::panic::catch_unwind(|| oracle(input));
        assert!(
            r.is_ok(),
            "{target}: corpus file #{i} {:?} broke the oracle",
            input.escape_ascii().to_string()
        );
    }
    let mut rng = Rng(0x5eed_f022 ^ target.len() as u64);
    for n in 0..MUTATIONS {
        let input = mutate(&mut rng, &seeds);
        let r = std::panic::catch_unwind(|| oracle(&input));
        assert!(
            r.is_ok(),
            "{target}: mutation {n} {:?} broke the oracle",
            input.escape_ascii().to_string()
        );
    }
    println!(
        "{target}: {} corpus inputs and {MUTATIONS} mutations passed",
        seeds.len()
    );
}

#[test]
fn frame_decoder_corpus_and_mutations() {
    // The round-trip property only bites on frames that decode: most seeds must.
    let decodable = corpus("frame_decoder")
        .iter()
        .filter(|f| {
            let (mut r, mut scratch) = (&f[..], Vec::new());
            let client = smtp32_protocol::codec::read_frame::<_, smtp32_protocol::ClientFrame>(
                &mut r,
                1 << 16,
                &mut scratch,
            );
            let daemon = f
                .get(4..)
                .map(smtp32_protocol::codec::decode_body::<smtp32_protocol::DaemonFrame>);
            client.is_ok() || matches!(daemon, Some(Ok(_)))
        })
        .count();
    assert!(decodable >= 12, "only {decodable} frame seeds decode");
    run("frame_decoder", oracles::frame);
}

#[test]
fn reply_parser_corpus_and_mutations() {
    run("reply_parser", oracles::reply);
}

#[test]
fn dot_stuffer_corpus_and_mutations() {
    run("dot_stuffer", oracles::dot_stuff);
}
