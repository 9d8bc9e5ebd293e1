//! Table-driven DES and 3DES (EDE3) in 8-bit CFB for NSCA.
//!
//! Why not the `des` crate: NSCA's CFB8 costs one block encryption per byte
//! (4304 per packet). RustCrypto's constant-time DES needed ~3.3 ms of CPU per
//! 3DES packet, more than twice send_nsca's libmcrypt (~1.4 ms per packet with
//! everything else); this one needs ~1.0 ms. It is the
//! classic SP-table DES (S-boxes merged with the P permutation, byte-wise IP/FP
//! tables, the IP/FP pairs between the three 3DES stages cancelled), checked
//! bit for bit against the `des` crate in the tests. It is not constant time;
//! NSCA's keys are shared passwords and its threat model is obfuscation.

/// Initial permutation (1-based bit numbers, bit 1 = MSB).
const IP: [u8; 64] = [
    58, 50, 42, 34, 26, 18, 10, 2, 60, 52, 44, 36, 28, 20, 12, 4, 62, 54, 46, 38, 30, 22, 14, 6,
    64, 56, 48, 40, 32, 24, 16, 8, 57, 49, 41, 33, 25, 17, 9, 1, 59, 51, 43, 35, 27, 19, 11, 3, 61,
    53, 45, 37, 29, 21, 13, 5, 63, 55, 47, 39, 31, 23, 15, 7,
];

/// Permutation after the S-boxes.
const P: [u8; 32] = [
    16, 7, 20, 21, 29, 12, 28, 17, 1, 15, 23, 26, 5, 18, 31, 10, 2, 8, 24, 14, 32, 27, 3, 9, 19,
    13, 30, 6, 22, 11, 4, 25,
];

const PC1: [u8; 56] = [
    57, 49, 41, 33, 25, 17, 9, 1, 58, 50, 42, 34, 26, 18, 10, 2, 59, 51, 43, 35, 27, 19, 11, 3, 60,
    52, 44, 36, 63, 55, 47, 39, 31, 23, 15, 7, 62, 54, 46, 38, 30, 22, 14, 6, 61, 53, 45, 37, 29,
    21, 13, 5, 28, 20, 12, 4,
];

const PC2: [u8; 48] = [
    14, 17, 11, 24, 1, 5, 3, 28, 15, 6, 21, 10, 23, 19, 12, 4, 26, 8, 16, 7, 27, 20, 13, 2, 41, 52,
    31, 37, 47, 55, 30, 40, 51, 45, 33, 48, 44, 49, 39, 56, 34, 53, 46, 42, 50, 36, 29, 32,
];

const SHIFTS: [u32; 16] = [1, 1, 2, 2, 2, 2, 2, 2, 1, 2, 2, 2, 2, 2, 2, 1];

/// S-boxes as printed in FIPS 46-3, one hex digit per entry, row after row
/// (`S[i]` row `r` column `c` is the digit at `17 * r + c`).
const S: [&str; 8] = [
    "e4d12fb83a6c5907 0f74e2d1a6cb9538 41e8d62bfc973a50 fc8249175b3ea06d",
    "f18e6b34972dc05a 3d47f28ec01a69b5 0e7ba4d158c6932f d8a13f42b67c05e9",
    "a09e63f51dc7b428 d709346a285ecbf1 d6498f30b12c5ae7 1ad069874fe3b52c",
    "7de3069a1285bc4f d8b56f03472c1ae9 a690cb7df13e5284 3f06a1d8945bc72e",
    "2c417ab6853fd0e9 eb2c47d150fa3986 421bad78f9c5630e b8c71e2d6f09a453",
    "c1af92680d34e75b af427c9561de0b38 9ef528c3704a1db6 432c95fabe17608d",
    "4b2ef08d3c975a61 d0b7491ae35c2f86 14bdc37eaf680592 6bd814a7950fe23c",
    "d2846fb1a93e50c7 1fd8a374c56b0e92 7b419ce206adf358 21e74a8dfc90356b",
];

/// `S[i][row][column]`.
const fn sbox(i: usize, row: usize, column: usize) -> u64 {
    let digit = S[i].as_bytes()[17 * row + column];
    (if digit <= b'9' {
        digit - b'0'
    } else {
        digit - b'a' + 10
    }) as u64
}

/// Bit `n` (1-based from the MSB) of a `width`-bit value.
const fn bit(x: u64, n: u8, width: u32) -> u64 {
    (x >> (width - n as u32)) & 1
}

/// `SP[i][x]` = P(S_i(x) in its nibble) rotated left by one, for the 6-bit input `x`.
static SP: [[u32; 64]; 8] = {
    let mut t = [[0u32; 64]; 8];
    let mut i = 0;
    while i < 8 {
        let mut x = 0;
        while x < 64 {
            let row = ((x >> 4) & 2) | (x & 1);
            let col = (x >> 1) & 0xf;
            let s = sbox(i, row, col);
            let before = s << (28 - 4 * i);
            let mut after = 0u64;
            let mut b = 0;
            while b < 32 {
                after |= bit(before, P[b], 32) << (31 - b);
                b += 1;
            }
            // Kept rotated left by one, like the round halves (see `rounds`).
            t[i][x] = (after as u32).rotate_left(1);
            x += 1;
        }
        i += 1;
    }
    t
};

/// Byte-wise tables of a 64-bit permutation: `T[k][v]` = the image of byte `k`
/// (0 = most significant) having value `v`.
const fn perm_tables(table: &[u8; 64]) -> [[u64; 256]; 8] {
    let mut t = [[0u64; 256]; 8];
    let mut k = 0;
    while k < 8 {
        let mut v = 0;
        while v < 256 {
            let x = (v as u64) << (56 - 8 * k);
            let mut out = 0u64;
            let mut b = 0;
            while b < 64 {
                out |= bit(x, table[b], 64) << (63 - b);
                b += 1;
            }
            t[k][v] = out;
            v += 1;
        }
        k += 1;
    }
    t
}

const FP: [u8; 64] = {
    let mut fp = [0u8; 64];
    let mut i = 0;
    while i < 64 {
        fp[IP[i] as usize - 1] = i as u8 + 1;
        i += 1;
    }
    fp
};

static IP_T: [[u64; 256]; 8] = perm_tables(&IP);
static FP_T: [[u64; 256]; 8] = perm_tables(&FP);

fn permute(t: &[[u64; 256]; 8], x: u64) -> u64 {
    let b = x.to_be_bytes();
    t[0][b[0] as usize]
        | t[1][b[1] as usize]
        | t[2][b[2] as usize]
        | t[3][b[3] as usize]
        | t[4][b[4] as usize]
        | t[5][b[5] as usize]
        | t[6][b[6] as usize]
        | t[7][b[7] as usize]
}

/// 16 round keys, each packed as (S1,S3,S5,S7 inputs; S2,S4,S6,S8 inputs), one
/// byte each, matching the byte positions of the rotated half in `rounds`.
type Schedule = [(u32, u32); 16];

fn schedule(key: [u8; 8]) -> Schedule {
    let k = u64::from_be_bytes(key);
    let mut cd = 0u64;
    for (i, &n) in PC1.iter().enumerate() {
        cd |= bit(k, n, 64) << (55 - i);
    }
    let (mut c, mut d) = ((cd >> 28) as u32, (cd & 0x0fff_ffff) as u32);
    let mut out = [(0u32, 0u32); 16];
    for (round, shift) in SHIFTS.iter().enumerate() {
        c = ((c << shift) | (c >> (28 - shift))) & 0x0fff_ffff;
        d = ((d << shift) | (d >> (28 - shift))) & 0x0fff_ffff;
        let cd = (u64::from(c) << 28) | u64::from(d);
        let mut k48 = 0u64;
        for (i, &n) in PC2.iter().enumerate() {
            k48 |= bit(cd, n, 56) << (47 - i);
        }
        let k = |i: u32| ((k48 >> (42 - 6 * i)) & 0x3f) as u32;
        out[round] = (
            (k(0) << 24) | (k(2) << 16) | (k(4) << 8) | k(6),
            (k(1) << 24) | (k(3) << 16) | (k(5) << 8) | k(7),
        );
    }
    out
}

/// The 16 rounds on an IP-permuted block; `rev` runs the schedule backwards
/// (decryption). The result has the halves swapped back, ready for FP.
///
/// Both halves are kept rotated left by one bit: then the six input bits of
/// S-boxes 2, 4, 6, 8 sit in the low six bits of each byte of `R`, and those of
/// S-boxes 1, 3, 5, 7 in each byte of `R` rotated right by four, so the E
/// expansion is one rotation and two XORs with the packed round key.
#[inline(always)]
fn rounds(x: u64, ks: &Schedule, rev: bool) -> u64 {
    let (mut l, mut r) = (((x >> 32) as u32).rotate_left(1), (x as u32).rotate_left(1));
    for i in 0..16 {
        let (odd, even) = if rev { ks[15 - i] } else { ks[i] };
        let w = r.rotate_right(4) ^ odd;
        let v = r ^ even;
        let f = SP[0][(w >> 24) as usize & 0x3f]
            | SP[2][(w >> 16) as usize & 0x3f]
            | SP[4][(w >> 8) as usize & 0x3f]
            | SP[6][w as usize & 0x3f]
            | SP[1][(v >> 24) as usize & 0x3f]
            | SP[3][(v >> 16) as usize & 0x3f]
            | SP[5][(v >> 8) as usize & 0x3f]
            | SP[7][v as usize & 0x3f];
        let t = r;
        r = l ^ f;
        l = t;
    }
    (u64::from(r.rotate_right(1)) << 32) | u64::from(l.rotate_right(1))
}

/// DES or EDE3 with precomputed schedules.
#[derive(Clone)]
pub(crate) enum DesKey {
    Single(Box<Schedule>),
    Triple(Box<[Schedule; 3]>),
}

impl DesKey {
    pub(crate) fn des(key: [u8; 8]) -> DesKey {
        DesKey::Single(Box::new(schedule(key)))
    }

    pub(crate) fn tdes(key: [u8; 24]) -> DesKey {
        let part = |i: usize| {
            let mut k = [0u8; 8];
            k.copy_from_slice(&key[8 * i..8 * i + 8]);
            schedule(k)
        };
        DesKey::Triple(Box::new([part(0), part(1), part(2)]))
    }

    /// Encrypts one block (big-endian u64).
    pub(crate) fn encrypt(&self, block: u64) -> u64 {
        let x = permute(&IP_T, block);
        let x = match self {
            DesKey::Single(k) => rounds(x, k, false),
            // E(k1), D(k2), E(k3); the FP/IP pairs in between cancel.
            DesKey::Triple(k) => rounds(rounds(rounds(x, &k[0], false), &k[1], true), &k[2], false),
        };
        permute(&FP_T, x)
    }
}

/// 8-bit CFB over [`DesKey`]: the register continues across calls.
#[derive(Clone)]
pub(crate) struct DesCfb8 {
    key: DesKey,
    register: u64,
}

impl DesCfb8 {
    pub(crate) fn new(key: DesKey, iv: [u8; 8]) -> DesCfb8 {
        DesCfb8 {
            key,
            register: u64::from_be_bytes(iv),
        }
    }

    pub(crate) fn encrypt(&mut self, buf: &mut [u8]) {
        for b in buf {
            let ks = (self.key.encrypt(self.register) >> 56) as u8;
            *b ^= ks;
            self.register = (self.register << 8) | u64::from(*b);
        }
    }

    pub(crate) fn decrypt(&mut self, buf: &mut [u8]) {
        for b in buf {
            let ks = (self.key.encrypt(self.register) >> 56) as u8;
            let c = *b;
            *b ^= ks;
            self.register = (self.register << 8) | u64::from(c);
        }
    }
}

#[cfg(test)]
mod tests {
    use cfb8::cipher::{BlockCipherEncrypt, KeyInit, KeyIvInit};
    use proptest::prelude::*;

    use super::*;

    /// FIPS 81 / the classic "Now is the time for all " example.
    #[test]
    fn known_answer() {
        let k = DesKey::des(0x0123_4567_89ab_cdefu64.to_be_bytes());
        assert_eq!(k.encrypt(0x4e6f_7720_6973_2074), 0x3fa4_0e8a_984d_4815);
    }

    proptest! {
        #[test]
        fn des_matches_rustcrypto(key in any::<[u8; 8]>(), block in any::<u64>()) {
            let mut b = block.to_be_bytes().into();
            des::Des::new(&key.into()).encrypt_block(&mut b);
            prop_assert_eq!(DesKey::des(key).encrypt(block), u64::from_be_bytes(b.into()));
        }

        #[test]
        fn tdes_cfb8_matches_rustcrypto(key in any::<[u8; 24]>(), iv in any::<[u8; 8]>(),
                                        data in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut ours = data.clone();
            let mut theirs = data.clone();
            let mut enc = DesCfb8::new(DesKey::tdes(key), iv);
            enc.encrypt(&mut ours[..data.len() / 2]);
            enc.encrypt(&mut ours[data.len() / 2..]);
            cfb8::Encryptor::<des::TdesEde3>::new(&key.into(), &iv.into()).encrypt(&mut theirs);
            prop_assert_eq!(&ours, &theirs);
            DesCfb8::new(DesKey::tdes(key), iv).decrypt(&mut ours);
            prop_assert_eq!(ours, data);
        }
    }
}
