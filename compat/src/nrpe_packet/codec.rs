//! The NRPE v2/v3/v4 packet codec: constants, header, CRC-checked decode, encode.

/// `packet_type` of a query.
pub const QUERY: i16 = 1;
/// `packet_type` of a response.
pub const RESPONSE: i16 = 2;
/// Common header: version, type, crc, result code.
pub const HEADER_LEN: usize = 10;
/// v3/v4 header: [`HEADER_LEN`] + alignment + buffer_length.
pub const V34_HEADER_LEN: usize = 16;
/// v2 buffer size (1023 chars + NUL).
pub const V2_BUFFER_LEN: usize = 1024;
/// A v2 packet is always this long.
pub const V2_PACKET_LEN: usize = 1036;
/// Largest v3/v4 `buffer_length` a receiver accepts.
pub const MAX_BUFFER_LEN: usize = 65536;
/// Most output bytes a v2 reply carries.
pub const V2_MAX_OUTPUT: usize = V2_BUFFER_LEN - 1;
/// Most output bytes a v3/v4 reply carries (64 KiB − 1).
pub const V34_MAX_OUTPUT: usize = MAX_BUFFER_LEN - 1;
/// Most `$ARGn$` arguments.
pub const MAX_ARGS: usize = 16;
/// Macro-expanded command lines are cut at this many bytes (2048 − 1).
pub const MAX_COMMAND_LINE: usize = 2047;
/// The version query command.
pub const NRPE_CHECK: &str = "_NRPE_CHECK";

/// A packet version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    V2,
    V3,
    V4,
}

impl Version {
    pub fn number(self) -> i16 {
        match self {
            Version::V2 => 2,
            Version::V3 => 3,
            Version::V4 => 4,
        }
    }

    fn from_number(n: i16) -> Option<Version> {
        match n {
            2 => Some(Version::V2),
            3 => Some(Version::V3),
            4 => Some(Version::V4),
            _ => None,
        }
    }

    /// Most output bytes a reply of this version carries.
    pub fn max_output(self) -> usize {
        match self {
            Version::V2 => V2_MAX_OUTPUT,
            Version::V3 | Version::V4 => V34_MAX_OUTPUT,
        }
    }
}

/// Why a packet was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PacketError {
    #[error("packet too short: {got} bytes, {need} needed")]
    Short { got: usize, need: usize },
    #[error("invalid packet version {0}")]
    Version(i16),
    #[error("invalid packet type {0}")]
    Type(i16),
    #[error("invalid buffer length {0}")]
    BufferLength(i32),
    #[error("CRC mismatch: packet says {got:#010x}, computed {want:#010x}")]
    Crc { got: u32, want: u32 },
}

/// The first [`HEADER_LEN`] bytes of a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub version: Version,
    pub packet_type: i16,
}

impl Header {
    /// Bytes still to read after the first [`HEADER_LEN`]: the whole rest
    /// of a v2 packet, or the 6 remaining v3/v4 header bytes.
    pub fn rest_len(&self) -> usize {
        match self.version {
            Version::V2 => V2_PACKET_LEN - HEADER_LEN,
            Version::V3 | Version::V4 => V34_HEADER_LEN - HEADER_LEN,
        }
    }
}

fn be16(b: &[u8], at: usize) -> i16 {
    match b.get(at..at + 2) {
        Some(&[x, y]) => i16::from_be_bytes([x, y]),
        _ => 0,
    }
}

fn be32(b: &[u8], at: usize) -> u32 {
    match b.get(at..at + 4) {
        Some(&[w, x, y, z]) => u32::from_be_bytes([w, x, y, z]),
        _ => 0,
    }
}

fn need(b: &[u8], n: usize) -> Result<(), PacketError> {
    if b.len() < n {
        Err(PacketError::Short {
            got: b.len(),
            need: n,
        })
    } else {
        Ok(())
    }
}

/// Checks version (2, 3, 4) and type (1, 2) of the first bytes of a packet.
pub fn parse_header(bytes: &[u8]) -> Result<Header, PacketError> {
    need(bytes, HEADER_LEN)?;
    let number = be16(bytes, 0);
    let version = Version::from_number(number).ok_or(PacketError::Version(number))?;
    let packet_type = be16(bytes, 2);
    if packet_type != QUERY && packet_type != RESPONSE {
        return Err(PacketError::Type(packet_type));
    }
    Ok(Header {
        version,
        packet_type,
    })
}

/// `buffer_length` from the first [`V34_HEADER_LEN`] bytes of a v3/v4 packet,
/// range-checked (0..=65536) so the caller can allocate it safely.
pub fn body_len(header: &[u8]) -> Result<usize, PacketError> {
    need(header, V34_HEADER_LEN)?;
    let n = be32(header, 12) as i32;
    match usize::try_from(n) {
        Ok(len) if len <= MAX_BUFFER_LEN => Ok(len),
        _ => Err(PacketError::BufferLength(n)),
    }
}

/// A decoded packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    pub version: Version,
    pub packet_type: i16,
    pub result_code: i16,
    /// The C string in the buffer (up to the first NUL, or the whole buffer).
    pub buffer: Vec<u8>,
}

fn crc_with_zeroed(bytes: &[u8], zero: &[(usize, usize)], extra_zeros: usize) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    let mut at = 0;
    for &(start, end) in zero {
        hasher.update(bytes.get(at..start).unwrap_or_default());
        hasher.update(&vec![0u8; end - start]);
        at = end;
    }
    hasher.update(bytes.get(at..).unwrap_or_default());
    hasher.update(&vec![0u8; extra_zeros]);
    hasher.finalize()
}

fn c_string(buffer: &[u8]) -> Vec<u8> {
    let end = buffer.iter().position(|&b| b == 0).unwrap_or(buffer.len());
    buffer[..end].to_vec()
}

/// Decodes a whole packet as read from the wire: v2 = the first 1036 bytes
/// (more are ignored); v3/v4 = 16 + buffer_length bytes (more are ignored; a
/// v3 CRC also covers 3 zero bytes after them). Checks the CRC; the
/// alignment field is not covered.
pub fn decode(bytes: &[u8]) -> Result<Packet, PacketError> {
    let header = parse_header(bytes)?;
    let got = be32(bytes, 4);
    let result_code = be16(bytes, 8);
    let (want, buffer) = match header.version {
        Version::V2 => {
            need(bytes, V2_PACKET_LEN)?;
            let packet = &bytes[..V2_PACKET_LEN];
            let want = crc_with_zeroed(packet, &[(4, 8)], 0);
            // The receiver forces the last buffer byte to NUL.
            (
                want,
                c_string(&packet[HEADER_LEN..HEADER_LEN + V2_BUFFER_LEN - 1]),
            )
        }
        Version::V3 | Version::V4 => {
            let len = body_len(bytes)?;
            need(bytes, V34_HEADER_LEN + len)?;
            let packet = &bytes[..V34_HEADER_LEN + len];
            let extra = if header.version == Version::V3 { 3 } else { 0 };
            let want = crc_with_zeroed(packet, &[(4, 8), (10, 12)], extra);
            (want, c_string(&packet[V34_HEADER_LEN..]))
        }
    };
    if got != want {
        return Err(PacketError::Crc { got, want });
    }
    Ok(Packet {
        version: header.version,
        packet_type: header.packet_type,
        result_code,
        buffer,
    })
}

/// Encodes a packet the way nrpe 4.x / check_nrpe 4.x do.
///
/// - v2: 1036 bytes, the buffer cut to 1023 bytes + NUL and zero-filled; the
///   two tail pad bytes are zero (nrpe leaves them random; only the CRC sees them).
/// - v3/v4 query: `buffer_length = max(len+1, 1020)` (v4) or `max(len+1, 1017)`
///   (v3); response: `len+1`. The buffer is cut to 65535 bytes.
/// - v3: 3 zero bytes follow the buffer, covered by the CRC and sent.
pub fn encode(version: Version, packet_type: i16, result_code: i16, buffer: &[u8]) -> Vec<u8> {
    let mut out = match version {
        Version::V2 => {
            let mut out = vec![0u8; V2_PACKET_LEN];
            let text = &buffer[..buffer.len().min(V2_MAX_OUTPUT)];
            out[HEADER_LEN..HEADER_LEN + text.len()].copy_from_slice(text);
            out
        }
        Version::V3 | Version::V4 => {
            let text = &buffer[..buffer.len().min(V34_MAX_OUTPUT)];
            let minimum = match (packet_type, version) {
                (QUERY, Version::V4) => 1020,
                (QUERY, _) => 1017,
                _ => 0,
            };
            let len = (text.len() + 1).max(minimum);
            let extra = if version == Version::V3 { 3 } else { 0 };
            let mut out = vec![0u8; V34_HEADER_LEN + len + extra];
            out[12..16].copy_from_slice(&(len as u32).to_be_bytes());
            out[V34_HEADER_LEN..V34_HEADER_LEN + text.len()].copy_from_slice(text);
            out
        }
    };
    out[0..2].copy_from_slice(&version.number().to_be_bytes());
    out[2..4].copy_from_slice(&packet_type.to_be_bytes());
    out[8..10].copy_from_slice(&result_code.to_be_bytes());
    let crc = crc32fast::hash(&out);
    out[4..8].copy_from_slice(&crc.to_be_bytes());
    out
}

/// A response packet with the output cut to the version's limit.
pub fn encode_response(version: Version, result_code: i16, output: &[u8]) -> Vec<u8> {
    encode(
        version,
        RESPONSE,
        result_code,
        &output[..output.len().min(version.max_output())],
    )
}

/// The reply text to `_NRPE_CHECK`.
pub fn version_reply(version: &str) -> String {
    format!("NRPE v{version}")
}
