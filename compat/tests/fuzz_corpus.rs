//! Stable stand-in for cargo-fuzz (issue 10, decisions.md D11): replays every file of
//! `compat/fuzz/corpus/<target>/` through `smoker_compat::harness`, then thousands
//! of mutated and random inputs on top (fixed seed, so a failure reproduces).

use std::{
    panic::{AssertUnwindSafe, catch_unwind},
    path::PathBuf,
};

use smoker_compat::harness::TARGETS;

/// Mutated inputs per target on top of the corpus.
const MUTATIONS: usize = 4000;

/// xorshift64*: small, deterministic, no dependency.
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

fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
        .collect();
    files.sort();
    files
}

const INTERESTING: &[&[u8]] = &[
    b"\0",
    b"\xff",
    b"|",
    b";",
    b"=",
    b"'",
    b"''",
    b":",
    b"@",
    b"~",
    b"!",
    b"$ARG1$",
    b"$(",
    b"`",
    b"\n",
    b"\r\n",
    b"\t",
    b"\x17",
    b"%",
    b"-",
    b"1e308",
    b"nan",
    b"inf",
    b"-0",
    b"99999999999999999999",
    b"\xc3",
    b"\xe2\x82",
    b"include=",
    b"command[",
    b"!include ",
    b"{",
    b"[",
    b"*a",
    b"&a ",
];

fn mutate(rng: &mut Rng, input: &mut Vec<u8>, other: &[u8]) {
    for _ in 0..1 + rng.below(4) {
        match rng.below(8) {
            0 if !input.is_empty() => {
                let i = rng.below(input.len());
                input[i] ^= 1 << rng.below(8);
            }
            1 if !input.is_empty() => {
                let i = rng.below(input.len());
                input[i] = rng.next() as u8;
            }
            2 => input.truncate(rng.below(input.len() + 1)),
            3 => {
                let at = rng.below(input.len() + 1);
                let what = INTERESTING[rng.below(INTERESTING.len())];
                input.splice(at..at, what.iter().copied());
            }
            4 if !input.is_empty() => {
                let a = rng.below(input.len());
                let b = (a + rng.below(64)).min(input.len());
                input.drain(a..b);
            }
            5 if !other.is_empty() => {
                let a = rng.below(other.len());
                let b = (a + rng.below(256)).min(other.len());
                let at = rng.below(input.len() + 1);
                input.splice(at..at, other[a..b].iter().copied());
            }
            6 if !input.is_empty() => {
                // Repeat a chunk (deep nesting, long lines).
                let a = rng.below(input.len());
                let b = (a + 1 + rng.below(16)).min(input.len());
                let chunk = input[a..b].to_vec();
                for _ in 0..rng.below(64) {
                    input.splice(a..a, chunk.iter().copied());
                }
            }
            _ => input.push(rng.next() as u8),
        }
    }
    // Packets: half of the time make the CRC (bytes 4..8 of NRPE and NSCA) right
    // again, so mutations reach the decoder behind the checksum.
    if input.len() >= 8 && rng.below(2) == 0 {
        input[4..8].fill(0);
        let crc = crc32fast::hash(input);
        input[4..8].copy_from_slice(&crc.to_be_bytes());
    }
}

fn run(target: &str, f: fn(&[u8]), label: &str, input: &[u8]) {
    if catch_unwind(AssertUnwindSafe(|| f(input))).is_err() {
        let shown: String = input.iter().take(256).map(|b| format!("{b:02x}")).collect();
        panic!(
            "{target}: {label} panicked ({} bytes): {shown}",
            input.len()
        );
    }
}

#[test]
fn corpora_replay_and_mutations_never_panic() {
    for (target, f) in TARGETS {
        let files = corpus(target);
        assert!(!files.is_empty(), "{target}: empty corpus");
        for (name, data) in &files {
            run(target, *f, name, data);
        }
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ target.len() as u64);
        for i in 0..MUTATIONS {
            let (_, base) = &files[rng.below(files.len())];
            let (_, other) = &files[rng.below(files.len())];
            let mut input = base.clone();
            mutate(&mut rng, &mut input, other);
            run(target, *f, &format!("mutation {i}"), &input);
        }
        for len in [
            0, 1, 9, 10, 15, 16, 131, 132, 719, 720, 1035, 1036, 1037, 4303, 4304, 4305,
        ] {
            let input: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            run(target, *f, &format!("random {len}"), &input);
        }
        for i in 0..500 {
            let len = rng.below(2048);
            let input: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            run(target, *f, &format!("random {i}"), &input);
        }
    }
}

#[test]
fn fuzz_crate_lists_every_target_with_a_file() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    for (target, _) in TARGETS
        .iter()
        .chain(&[("config_yaml", (|_| {}) as fn(&[u8]))])
    {
        assert!(
            manifest.contains(&format!("name = \"{target}\"")),
            "fuzz/Cargo.toml lacks {target}"
        );
        assert!(root.join(format!("fuzz_targets/{target}.rs")).is_file());
        assert!(root.join(format!("corpus/{target}")).is_dir());
    }
    // Cargo itself accepts the manifest (nightly-only building aside).
    let out = std::process::Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--no-deps",
            "--offline",
            "--format-version",
            "1",
        ])
        .arg("--manifest-path")
        .arg(root.join("Cargo.toml"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"name\":\"config_yaml\""));
}
