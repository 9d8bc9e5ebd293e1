//! NSCA encryption (protocols.md §3.3, decisions.md D5): the methods smoker
//! supports, key and IV derivation, and the per-connection cipher state.
//!
//! Every mcrypt method runs in 8-bit CFB whose state continues across all
//! packets of one connection; XOR restarts at index 0 for every packet. Key =
//! password (up to its first NUL) truncated or NUL-padded to the algorithm's
//! maximum key size; IV = the first block-size bytes of the server's 128-byte IV.
//!
//! CAST-128, Blowfish and AES-256 use RustCrypto (`cfb8` over `cast5`,
//! `blowfish`, `aes`); DES and 3DES use the table-driven `nsca_des`, which is
//! ~4× faster than the `des` crate and checked against it in tests.

use std::{fmt, str::FromStr};

use cfb8::cipher::KeyIvInit;

use crate::nsca_des::{DesCfb8, DesKey};

/// Size of the server's IV in the NSCA init packet (the cipher takes its IV from it).
pub const IV_LEN: usize = 128;

/// An `encryption_method` smoker speaks (send_nsca.cfg numbering).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    None,
    Xor,
    Des,
    TripleDes,
    Cast128,
    Blowfish,
    /// mcrypt `rijndael-128` with its 32-byte key = AES-256.
    Aes256,
}

/// Why an encryption method cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MethodError {
    /// A method nsca knows but smoker does not implement (no interop test).
    #[error(
        "encryption method {number} ({name}) is not supported; use 0 none, 1 xor, 2 des, 3 3des, 4 cast128, 8 blowfish or 14 aes256"
    )]
    Unsupported { number: i64, name: &'static str },
    /// Not an nsca encryption method at all.
    #[error(
        "unknown encryption method {0:?}; use 0 none, 1 xor, 2 des, 3 3des, 4 cast128, 8 blowfish or 14 aes256"
    )]
    Unknown(String),
}

/// mcrypt names of the methods nsca lists but smoker does not implement.
fn unsupported_name(number: i64) -> Option<&'static str> {
    Some(match number {
        5 => "cast256",
        6 => "xtea",
        7 => "3way",
        9 => "twofish",
        10 => "loki97",
        11 => "rc2",
        12 => "arcfour",
        15 => "rijndael-192",
        16 => "rijndael-256",
        19 => "wake",
        20 => "serpent",
        22 => "enigma",
        23 => "gost",
        24 => "safer-sk64",
        25 => "safer-sk128",
        26 => "saferplus",
        _ => return None,
    })
}

impl Method {
    /// Every supported method, in number order.
    pub const ALL: [Method; 7] = [
        Method::None,
        Method::Xor,
        Method::Des,
        Method::TripleDes,
        Method::Cast128,
        Method::Blowfish,
        Method::Aes256,
    ];

    /// The `encryption_method` number.
    pub const fn number(self) -> u8 {
        match self {
            Method::None => 0,
            Method::Xor => 1,
            Method::Des => 2,
            Method::TripleDes => 3,
            Method::Cast128 => 4,
            Method::Blowfish => 8,
            Method::Aes256 => 14,
        }
    }

    /// Canonical name (accepted by [`Method::from_str`]).
    pub const fn name(self) -> &'static str {
        match self {
            Method::None => "none",
            Method::Xor => "xor",
            Method::Des => "des",
            Method::TripleDes => "3des",
            Method::Cast128 => "cast128",
            Method::Blowfish => "blowfish",
            Method::Aes256 => "aes256",
        }
    }

    /// Maps an `encryption_method` number.
    pub fn from_number(number: i64) -> Result<Method, MethodError> {
        Method::ALL
            .into_iter()
            .find(|m| i64::from(m.number()) == number)
            .ok_or_else(|| match unsupported_name(number) {
                Some(name) => MethodError::Unsupported { number, name },
                None => MethodError::Unknown(number.to_string()),
            })
    }

    /// Key size in bytes (the mcrypt maximum); 0 for none and XOR.
    pub const fn key_len(self) -> usize {
        match self {
            Method::None | Method::Xor => 0,
            Method::Des => 8,
            Method::TripleDes => 24,
            Method::Cast128 => 16,
            Method::Blowfish => 56,
            Method::Aes256 => 32,
        }
    }

    /// Block (= IV) size in bytes; 0 for none and XOR.
    pub const fn block_len(self) -> usize {
        match self {
            Method::None | Method::Xor => 0,
            Method::Des | Method::TripleDes | Method::Cast128 | Method::Blowfish => 8,
            Method::Aes256 => 16,
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Method {
    type Err = MethodError;

    /// A number as in send_nsca.cfg, or a name (case-insensitive): `none`, `xor`,
    /// `des`, `3des`/`tripledes`, `cast128`/`cast-128`, `blowfish`,
    /// `aes256`/`rijndael-128`/`rijndael128`.
    fn from_str(s: &str) -> Result<Method, MethodError> {
        let t = s.trim();
        if let Ok(n) = t.parse::<i64>() {
            return Method::from_number(n);
        }
        let lower = t.to_ascii_lowercase();
        let m = match lower.as_str() {
            "none" => Method::None,
            "xor" => Method::Xor,
            "des" => Method::Des,
            "3des" | "tripledes" | "triple-des" => Method::TripleDes,
            "cast128" | "cast-128" | "cast5" => Method::Cast128,
            "blowfish" => Method::Blowfish,
            "aes256" | "aes-256" | "rijndael-128" | "rijndael128" => Method::Aes256,
            other => {
                let known = (0..=26).find(|n| unsupported_name(*n) == Some(other));
                return Err(match known {
                    Some(number) => MethodError::Unsupported {
                        number,
                        name: unsupported_name(number).unwrap_or(""),
                    },
                    None => MethodError::Unknown(s.to_string()),
                });
            }
        };
        Ok(m)
    }
}

/// The password bytes nsca uses: up to the first NUL (C string).
fn c_password(password: &[u8]) -> &[u8] {
    password.split(|b| *b == 0).next().unwrap_or(&[])
}

/// Password truncated / NUL-padded to `N` bytes.
fn key<const N: usize>(password: &[u8]) -> [u8; N] {
    let mut k = [0u8; N];
    let p = c_password(password);
    let n = p.len().min(N);
    k[..n].copy_from_slice(&p[..n]);
    k
}

/// XOR "encryption": IV then password, from index 0 for every packet.
#[derive(Clone)]
struct Xor {
    iv: [u8; IV_LEN],
    password: Vec<u8>,
}

impl Xor {
    fn apply(&self, buf: &mut [u8]) {
        for (b, k) in buf.iter_mut().zip(self.iv.iter().cycle()) {
            *b ^= k;
        }
        if !self.password.is_empty() {
            for (b, k) in buf.iter_mut().zip(self.password.iter().cycle()) {
                *b ^= k;
            }
        }
    }
}

macro_rules! cfb_state {
    ($name:ident, $mode:ident, $op:ident) => {
        enum $name {
            None,
            Xor(Xor),
            Des(DesCfb8),
            Cast128(Box<cfb8::$mode<cast5::Cast5>>),
            Blowfish(Box<cfb8::$mode<blowfish::Blowfish>>),
            Aes256(Box<cfb8::$mode<aes::Aes256>>),
        }

        impl $name {
            fn new(method: Method, password: &[u8], full_iv: &[u8; IV_LEN]) -> $name {
                let iv = &full_iv[..method.block_len()];
                match method {
                    Method::None => $name::None,
                    Method::Xor => $name::Xor(Xor {
                        iv: *full_iv,
                        password: c_password(password).to_vec(),
                    }),
                    Method::Des => {
                        $name::Des(DesCfb8::new(DesKey::des(key(password)), iv_array(iv)))
                    }
                    Method::TripleDes => {
                        $name::Des(DesCfb8::new(DesKey::tdes(key(password)), iv_array(iv)))
                    }
                    Method::Cast128 => $name::Cast128(Box::new(cfb8::$mode::new(
                        &key::<16>(password).into(),
                        iv8(iv),
                    ))),
                    Method::Blowfish => $name::Blowfish(Box::new(cfb8::$mode::new(
                        &key::<56>(password).into(),
                        iv8(iv),
                    ))),
                    Method::Aes256 => $name::Aes256(Box::new(cfb8::$mode::new(
                        &key::<32>(password).into(),
                        iv16(iv),
                    ))),
                }
            }

            fn apply(&mut self, buf: &mut [u8]) {
                match self {
                    $name::None => {}
                    $name::Xor(x) => x.apply(buf),
                    $name::Des(c) => c.$op(buf),
                    $name::Cast128(c) => c.$op(buf),
                    $name::Blowfish(c) => c.$op(buf),
                    $name::Aes256(c) => c.$op(buf),
                }
            }
        }
    };
}

cfb_state!(EncState, Encryptor, encrypt);
cfb_state!(DecState, Decryptor, decrypt);

fn iv_array(iv: &[u8]) -> [u8; 8] {
    <[u8; 8]>::try_from(iv).unwrap_or([0; 8])
}

/// The IV slice as the cipher's array; its length is fixed by `Method`, the
/// zero fallback only keeps this free of panics.
fn iv8(iv: &[u8]) -> &cfb8::cipher::Array<u8, cfb8::cipher::consts::U8> {
    const ZERO: [u8; 8] = [0; 8];
    <&[u8; 8]>::try_from(iv).unwrap_or(&ZERO).into()
}

fn iv16(iv: &[u8]) -> &cfb8::cipher::Array<u8, cfb8::cipher::consts::U16> {
    const ZERO: [u8; 16] = [0; 16];
    <&[u8; 16]>::try_from(iv).unwrap_or(&ZERO).into()
}

/// Sender side of one connection: encrypts packets in order.
pub struct Encryptor {
    method: Method,
    state: EncState,
}

impl Encryptor {
    /// Sets up the cipher once per connection from the init packet's IV.
    pub fn new(method: Method, password: &[u8], iv: &[u8; IV_LEN]) -> Encryptor {
        Encryptor {
            method,
            state: EncState::new(method, password, iv),
        }
    }

    pub fn method(&self) -> Method {
        self.method
    }

    /// Encrypts one whole packet in place. Call once per packet, in send order:
    /// CFB state carries over, XOR restarts at index 0.
    pub fn encrypt(&mut self, packet: &mut [u8]) {
        self.state.apply(packet);
    }
}

/// Receiver side of one connection (tests and a future server).
pub struct Decryptor {
    method: Method,
    state: DecState,
}

impl Decryptor {
    pub fn new(method: Method, password: &[u8], iv: &[u8; IV_LEN]) -> Decryptor {
        Decryptor {
            method,
            state: DecState::new(method, password, iv),
        }
    }

    pub fn method(&self) -> Method {
        self.method
    }

    /// Decrypts one whole packet in place, in receive order.
    pub fn decrypt(&mut self, packet: &mut [u8]) {
        self.state.apply(packet);
    }
}

impl fmt::Debug for Encryptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Encryptor")
            .field("method", &self.method)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Decryptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decryptor")
            .field("method", &self.method)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_by_number_and_name() {
        for m in Method::ALL {
            assert_eq!(Method::from_number(i64::from(m.number())), Ok(m));
            assert_eq!(m.name().parse::<Method>(), Ok(m));
            assert_eq!(m.number().to_string().parse::<Method>(), Ok(m));
        }
        assert_eq!("rijndael-128".parse::<Method>(), Ok(Method::Aes256));
        assert_eq!("3DES".parse::<Method>(), Ok(Method::TripleDes));
        assert_eq!(
            "9".parse::<Method>(),
            Err(MethodError::Unsupported {
                number: 9,
                name: "twofish"
            })
        );
        assert_eq!(
            "twofish".parse::<Method>(),
            Err(MethodError::Unsupported {
                number: 9,
                name: "twofish"
            })
        );
        assert_eq!(
            "13".parse::<Method>(),
            Err(MethodError::Unknown("13".into()))
        );
        assert!(
            "rot13"
                .parse::<Method>()
                .unwrap_err()
                .to_string()
                .contains("rot13")
        );
    }

    #[test]
    fn key_is_password_to_first_nul_padded() {
        assert_eq!(key::<8>(b"ab\0cd"), *b"ab\0\0\0\0\0\0");
        assert_eq!(key::<4>(b"abcdefg"), *b"abcd");
    }
}

#[cfg(test)]
mod proptests {
    use proptest::prelude::*;

    use super::*;

    const METHODS: [Method; 7] = [
        Method::None,
        Method::Xor,
        Method::Des,
        Method::TripleDes,
        Method::Cast128,
        Method::Blowfish,
        Method::Aes256,
    ];

    proptest! {
        /// Any password (also empty or longer than the key), IV and packets: a
        /// connection's packets decrypt to what was encrypted, in order, no panic.
        #[test]
        fn every_method_round_trips(
            method in 0usize..7,
            password in proptest::collection::vec(any::<u8>(), 0..80),
            iv_seed in any::<u8>(),
            packets in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..800), 1..4),
        ) {
            let method = METHODS[method];
            let iv: [u8; IV_LEN] = std::array::from_fn(|i| (i as u8).wrapping_mul(iv_seed));
            let mut enc = Encryptor::new(method, &password, &iv);
            let mut dec = Decryptor::new(method, &password, &iv);
            for packet in &packets {
                let mut wire = packet.clone();
                enc.encrypt(&mut wire);
                dec.decrypt(&mut wire);
                prop_assert_eq!(&wire, packet);
            }
        }
    }
}
