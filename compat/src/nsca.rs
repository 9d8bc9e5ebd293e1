//! NSCA 2.x wire format (protocols.md §3): the 132-byte init packet and the
//! version-3 data packet (4304 bytes, or 720 in legacy 2.7 mode), CRC32, and
//! safe field truncation. Ciphers live in [`crate::nsca_cipher`].
//!
//! The crate has no RNG: the caller hands in a filler for the random padding
//! (send_nsca fills the packet with random bytes before copying the strings).

pub use crate::nsca_cipher::IV_LEN;
use crate::nsca_cipher::{Decryptor, Encryptor};

/// Size of the init packet: IV + u32 timestamp.
pub const INIT_PACKET_LEN: usize = IV_LEN + 4;
/// The only packet version smoker sends and accepts.
pub const PACKET_VERSION: i16 = 3;
/// Default NSCA TCP port.
pub const DEFAULT_PORT: u16 = 5667;

const HOST_OFF: usize = 14;
const HOST_LEN: usize = 64;
const SVC_OFF: usize = HOST_OFF + HOST_LEN;
const SVC_LEN: usize = 128;
const OUTPUT_OFF: usize = SVC_OFF + SVC_LEN;

/// Codec errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NscaError {
    #[error("init packet has {got} bytes, expected {INIT_PACKET_LEN}")]
    InitLength { got: usize },
    #[error("data packet has {got} bytes, expected 4304 or 720")]
    PacketLength { got: usize },
    #[error("data packet version {0}, expected 3")]
    Version(i16),
    #[error(
        "data packet CRC32 mismatch (packet says {packet:#010x}, computed {computed:#010x}): wrong password or encryption method?"
    )]
    Crc { packet: u32, computed: u32 },
}

/// The server's greeting: IV and its clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitPacket {
    pub iv: [u8; IV_LEN],
    /// Server `time()`; echoed unchanged in every data packet.
    pub timestamp: u32,
}

impl InitPacket {
    /// Decodes exactly [`INIT_PACKET_LEN`] bytes.
    pub fn decode(bytes: &[u8]) -> Result<InitPacket, NscaError> {
        let bytes: &[u8; INIT_PACKET_LEN] = bytes
            .try_into()
            .map_err(|_| NscaError::InitLength { got: bytes.len() })?;
        let mut iv = [0u8; IV_LEN];
        iv.copy_from_slice(&bytes[..IV_LEN]);
        let timestamp = u32::from_be_bytes([bytes[128], bytes[129], bytes[130], bytes[131]]);
        Ok(InitPacket { iv, timestamp })
    }

    pub fn encode(&self) -> [u8; INIT_PACKET_LEN] {
        let mut out = [0u8; INIT_PACKET_LEN];
        out[..IV_LEN].copy_from_slice(&self.iv);
        out[IV_LEN..].copy_from_slice(&self.timestamp.to_be_bytes());
        out
    }
}

/// Data packet size: 2.9+ (4096-byte output) or 2.7 legacy (512-byte output).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PacketFormat {
    #[default]
    V3,
    Legacy,
}

impl PacketFormat {
    /// Total packet length on the wire.
    pub const fn wire_len(self) -> usize {
        match self {
            PacketFormat::V3 => 4304,
            PacketFormat::Legacy => 720,
        }
    }

    /// Size of the output field (max string length is one less).
    pub const fn output_field(self) -> usize {
        self.wire_len() - OUTPUT_OFF - 2
    }

    pub fn from_len(len: usize) -> Option<PacketFormat> {
        match len {
            4304 => Some(PacketFormat::V3),
            720 => Some(PacketFormat::Legacy),
            _ => None,
        }
    }
}

/// One passive check result to send. Fields are raw bytes; they are cut at the
/// first NUL and to the field size (63 / 127 / 4095 or 511 bytes), at a UTF-8
/// character boundary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Passive<'a> {
    pub host_name: &'a [u8],
    /// Empty = host check.
    pub service: &'a [u8],
    pub return_code: i16,
    pub output: &'a [u8],
}

/// A decoded (decrypted, CRC-checked) data packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataPacket {
    pub format: PacketFormat,
    pub timestamp: u32,
    pub return_code: i16,
    pub host_name: Vec<u8>,
    pub service: Vec<u8>,
    pub output: Vec<u8>,
}

/// `bytes` up to the first NUL, then at most `max` bytes, never splitting a
/// UTF-8 sequence (a multi-byte character that does not fit is dropped whole).
pub fn cut_field(bytes: &[u8], max: usize) -> &[u8] {
    let s = bytes.split(|b| *b == 0).next().unwrap_or(&[]);
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    // Step back over continuation bytes to the start of the character that
    // straddles the cut (at most 3 steps for UTF-8).
    let mut steps = 0;
    while end > 0 && steps < 3 && s[end] & 0xC0 == 0x80 {
        end -= 1;
        steps += 1;
    }
    if s[end] & 0xC0 == 0x80 {
        // Not UTF-8 here: a plain byte cut.
        end = max;
    }
    &s[..end]
}

/// Appends the plaintext packet for `p` to `out`: random fill, fields, the
/// init `timestamp`, and the CRC32 computed with the CRC field zeroed.
pub fn encode_packet(
    p: &Passive<'_>,
    timestamp: u32,
    format: PacketFormat,
    fill: &mut dyn FnMut(&mut [u8]),
    out: &mut Vec<u8>,
) {
    let start = out.len();
    out.resize(start + format.wire_len(), 0);
    let pkt = &mut out[start..];
    fill(pkt);
    pkt[0..2].copy_from_slice(&PACKET_VERSION.to_be_bytes());
    pkt[4..8].fill(0);
    pkt[8..12].copy_from_slice(&timestamp.to_be_bytes());
    pkt[12..14].copy_from_slice(&p.return_code.to_be_bytes());
    put_cstr(&mut pkt[HOST_OFF..HOST_OFF + HOST_LEN], p.host_name);
    put_cstr(&mut pkt[SVC_OFF..SVC_OFF + SVC_LEN], p.service);
    put_cstr(
        &mut pkt[OUTPUT_OFF..OUTPUT_OFF + format.output_field()],
        p.output,
    );
    let crc = crc32fast::hash(pkt);
    pkt[4..8].copy_from_slice(&crc.to_be_bytes());
}

/// Encodes `p` and encrypts it with the connection's `enc`, appending the wire
/// bytes to `out`.
pub fn seal_packet(
    enc: &mut Encryptor,
    p: &Passive<'_>,
    timestamp: u32,
    format: PacketFormat,
    fill: &mut dyn FnMut(&mut [u8]),
    out: &mut Vec<u8>,
) {
    let start = out.len();
    encode_packet(p, timestamp, format, fill, out);
    enc.encrypt(&mut out[start..]);
}

/// Copies `value` (cut to field size − 1) and a terminating NUL; the bytes
/// after the NUL keep the fill, as send_nsca's `strcpy` leaves them.
fn put_cstr(field: &mut [u8], value: &[u8]) {
    let v = cut_field(value, field.len().saturating_sub(1));
    field[..v.len()].copy_from_slice(v);
    if let Some(nul) = field.get_mut(v.len()) {
        *nul = 0;
    }
}

fn get_cstr(field: &[u8]) -> Vec<u8> {
    field.split(|b| *b == 0).next().unwrap_or(&[]).to_vec()
}

/// Decodes one plaintext packet (4304 or 720 bytes): version and CRC checked.
pub fn decode_packet(pkt: &[u8]) -> Result<DataPacket, NscaError> {
    let format =
        PacketFormat::from_len(pkt.len()).ok_or(NscaError::PacketLength { got: pkt.len() })?;
    let version = i16::from_be_bytes([pkt[0], pkt[1]]);
    if version != PACKET_VERSION {
        return Err(NscaError::Version(version));
    }
    let packet_crc = u32::from_be_bytes([pkt[4], pkt[5], pkt[6], pkt[7]]);
    let mut h = crc32fast::Hasher::new();
    h.update(&pkt[..4]);
    h.update(&[0; 4]);
    h.update(&pkt[8..]);
    let computed = h.finalize();
    if computed != packet_crc {
        return Err(NscaError::Crc {
            packet: packet_crc,
            computed,
        });
    }
    Ok(DataPacket {
        format,
        timestamp: u32::from_be_bytes([pkt[8], pkt[9], pkt[10], pkt[11]]),
        return_code: i16::from_be_bytes([pkt[12], pkt[13]]),
        host_name: get_cstr(&pkt[HOST_OFF..HOST_OFF + HOST_LEN]),
        service: get_cstr(&pkt[SVC_OFF..SVC_OFF + SVC_LEN]),
        output: get_cstr(&pkt[OUTPUT_OFF..OUTPUT_OFF + format.output_field()]),
    })
}

/// Decrypts one packet in place with the connection's `dec`, then decodes it.
pub fn open_packet(dec: &mut Decryptor, pkt: &mut [u8]) -> Result<DataPacket, NscaError> {
    if PacketFormat::from_len(pkt.len()).is_none() {
        return Err(NscaError::PacketLength { got: pkt.len() });
    }
    dec.decrypt(pkt);
    decode_packet(pkt)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::nsca_cipher::Method;

    fn iv() -> [u8; IV_LEN] {
        std::array::from_fn(|i| (i as u8).wrapping_mul(7).wrapping_add(3))
    }

    fn fill_a(b: &mut [u8]) {
        b.fill(b'A');
    }

    #[test]
    fn init_roundtrip_and_length() {
        let init = InitPacket {
            iv: iv(),
            timestamp: 0x0102_0304,
        };
        let bytes = init.encode();
        assert_eq!(&bytes[128..], &[1, 2, 3, 4]);
        assert_eq!(InitPacket::decode(&bytes).unwrap(), init);
        assert_eq!(
            InitPacket::decode(&bytes[..131]),
            Err(NscaError::InitLength { got: 131 })
        );
    }

    #[test]
    fn layout_matches_send_nsca() {
        let p = Passive {
            host_name: b"web-1",
            service: b"disk",
            return_code: 2,
            output: b"DISK CRITICAL",
        };
        let mut out = Vec::new();
        encode_packet(&p, 1234567, PacketFormat::V3, &mut fill_a, &mut out);
        assert_eq!(out.len(), 4304);
        assert_eq!(&out[0..4], &[0, 3, b'A', b'A']);
        assert_eq!(&out[8..14], &[0x00, 0x12, 0xD6, 0x87, 0, 2]);
        assert_eq!(&out[14..20], b"web-1\0");
        assert_eq!(out[20], b'A');
        assert_eq!(&out[78..83], b"disk\0");
        assert_eq!(&out[206..220], b"DISK CRITICAL\0");
        assert_eq!(&out[4302..], b"AA");
        let mut z = out.clone();
        z[4..8].fill(0);
        assert_eq!(
            u32::from_be_bytes(out[4..8].try_into().unwrap()),
            crc32fast::hash(&z)
        );
        let d = decode_packet(&out).unwrap();
        assert_eq!(
            (d.host_name.as_slice(), d.service.as_slice(), d.return_code),
            (&b"web-1"[..], &b"disk"[..], 2)
        );
        assert_eq!(d.timestamp, 1234567);
    }

    #[test]
    fn legacy_layout() {
        let p = Passive {
            host_name: b"h",
            service: b"",
            return_code: -1,
            output: &[b'x'; 600],
        };
        let mut out = Vec::new();
        encode_packet(&p, 0, PacketFormat::Legacy, &mut fill_a, &mut out);
        assert_eq!(out.len(), 720);
        let d = decode_packet(&out).unwrap();
        assert_eq!(d.output.len(), 511);
        assert_eq!(d.return_code, -1);
        assert!(d.service.is_empty());
    }

    #[test]
    fn cuts_at_utf8_boundary_and_nul() {
        assert_eq!(cut_field("aé".as_bytes(), 2), b"a");
        assert_eq!(cut_field("aé".as_bytes(), 3), "aé".as_bytes());
        assert_eq!(cut_field("a€b".as_bytes(), 3), b"a");
        assert_eq!(cut_field(b"ab\0cd", 10), b"ab");
        assert_eq!(cut_field(&[0x80, 0x80, 0x80, 0x80, 0x80], 2), &[0x80, 0x80]);
        let host = "é".repeat(40);
        let p = Passive {
            host_name: host.as_bytes(),
            service: b"",
            return_code: 0,
            output: b"",
        };
        let mut out = Vec::new();
        encode_packet(&p, 0, PacketFormat::V3, &mut fill_a, &mut out);
        let d = decode_packet(&out).unwrap();
        assert_eq!(d.host_name, "é".repeat(31).as_bytes());
    }

    #[test]
    fn rejects_bad_packets() {
        let p = Passive {
            host_name: b"h",
            service: b"s",
            return_code: 0,
            output: b"o",
        };
        let mut out = Vec::new();
        encode_packet(&p, 0, PacketFormat::V3, &mut fill_a, &mut out);
        let mut bad = out.clone();
        bad[300] ^= 1;
        assert!(matches!(decode_packet(&bad), Err(NscaError::Crc { .. })));
        let mut v2 = out.clone();
        v2[1] = 2;
        assert_eq!(decode_packet(&v2), Err(NscaError::Version(2)));
        assert_eq!(
            decode_packet(&out[..100]),
            Err(NscaError::PacketLength { got: 100 })
        );
    }

    /// Packets captured from the real send_nsca 2.10.2 for every supported
    /// method (two per connection, so CFB state continuation is covered).
    #[test]
    fn decrypts_real_send_nsca_packets() {
        let iv: [u8; IV_LEN] = std::array::from_fn(|i| i as u8);
        let fixture = include_str!("testdata/send_nsca-legacy.txt");
        let mut seen = 0;
        for line in fixture.lines().filter(|l| !l.starts_with('#')) {
            let (m, hex) = line.split_once(' ').unwrap();
            let method = m.parse::<Method>().unwrap();
            let mut wire: Vec<u8> = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                .collect();
            let mut dec = Decryptor::new(method, b"secret", &iv);
            let (a, b) = wire.split_at_mut(720);
            let p1 = open_packet(&mut dec, a).unwrap();
            let p2 = open_packet(&mut dec, b).unwrap();
            assert_eq!(p1.timestamp, 1234567);
            assert_eq!(p1.host_name, b"web-1");
            assert_eq!(p1.service, b"disk /");
            assert_eq!(p1.return_code, 2);
            assert_eq!(
                p1.output,
                "DISK CRITICAL - 3% free | /=97%;80;90\nline2 \\ é".as_bytes()
            );
            assert_eq!(
                (p2.service.as_slice(), p2.return_code, p2.output.as_slice()),
                (&b""[..], 0, &b"PING OK"[..])
            );
            seen += 1;
        }
        assert_eq!(seen, Method::ALL.len());
    }

    #[test]
    fn xor_restarts_per_packet_and_cfb_continues() {
        let mut a = [7u8; 8];
        let mut b = [7u8; 8];
        let mut x = Encryptor::new(Method::Xor, b"pw", &iv());
        x.encrypt(&mut a);
        x.encrypt(&mut b);
        assert_eq!(a, b);
        assert_eq!(a[0], 7 ^ iv()[0] ^ b'p');
        let mut c = [7u8; 8];
        let mut d = [7u8; 8];
        let mut e = Encryptor::new(Method::Aes256, b"pw", &iv());
        e.encrypt(&mut c);
        e.encrypt(&mut d);
        assert_ne!(c, d);
        // One call over 16 bytes = two calls over 8: the state continues.
        let mut whole = [7u8; 16];
        Encryptor::new(Method::Aes256, b"pw", &iv()).encrypt(&mut whole);
        assert_eq!(&whole[..8], &c);
        assert_eq!(&whole[8..], &d);
    }

    fn method() -> impl Strategy<Value = Method> {
        proptest::sample::select(Method::ALL.to_vec())
    }

    proptest! {
        #[test]
        fn seal_open_roundtrip(
            m in method(),
            pw in proptest::collection::vec(any::<u8>(), 0..80),
            ivb in proptest::collection::vec(any::<u8>(), IV_LEN),
            ts in any::<u32>(),
            legacy in any::<bool>(),
            results in proptest::collection::vec(
                (proptest::collection::vec(1u8..=255, 0..70), proptest::collection::vec(1u8..=255, 0..130),
                 any::<i16>(), proptest::collection::vec(1u8..=255, 0..600)), 1..4),
            seed in any::<u8>(),
        ) {
            let iv: [u8; IV_LEN] = ivb.try_into().unwrap();
            let format = if legacy { PacketFormat::Legacy } else { PacketFormat::V3 };
            let mut enc = Encryptor::new(m, &pw, &iv);
            let mut dec = Decryptor::new(m, &pw, &iv);
            let mut s = seed;
            let mut fill = |b: &mut [u8]| for x in b { s = s.wrapping_mul(31).wrapping_add(17); *x = s; };
            let mut wire = Vec::new();
            for (h, sv, rc, o) in &results {
                let p = Passive { host_name: h, service: sv, return_code: *rc, output: o };
                seal_packet(&mut enc, &p, ts, format, &mut fill, &mut wire);
            }
            for (chunk, (h, sv, rc, o)) in wire.chunks_mut(format.wire_len()).zip(&results) {
                let d = open_packet(&mut dec, chunk).unwrap();
                prop_assert_eq!(d.timestamp, ts);
                prop_assert_eq!(d.return_code, *rc);
                prop_assert_eq!(&d.host_name[..], cut_field(h, 63));
                prop_assert_eq!(&d.service[..], cut_field(sv, 127));
                prop_assert_eq!(&d.output[..], cut_field(o, format.output_field() - 1));
            }
        }

        #[test]
        fn decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..5000), m in method()) {
            let _ = InitPacket::decode(&bytes);
            let _ = decode_packet(&bytes);
            let mut b = bytes.clone();
            let _ = open_packet(&mut Decryptor::new(m, b"x", &[0; IV_LEN]), &mut b);
            if bytes.len() >= 4304 {
                let _ = decode_packet(&bytes[..4304]);
                let _ = decode_packet(&bytes[..720]);
            }
        }

        #[test]
        fn cut_field_is_a_prefix(bytes in proptest::collection::vec(any::<u8>(), 0..100), max in 0usize..100) {
            let c = cut_field(&bytes, max);
            prop_assert!(c.len() <= max);
            prop_assert!(bytes.starts_with(c));
            if let Ok(s) = std::str::from_utf8(&bytes) {
                prop_assert!(std::str::from_utf8(c).is_ok());
                prop_assert!(c.len() + 3 >= max.min(s.split('\0').next().unwrap_or("").len()));
            }
        }
    }
}
