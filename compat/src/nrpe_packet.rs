//! NRPE packets v2/v3/v4 (protocols.md §1.1–1.3) and the pure parts of the
//! server's request pipeline (§1.4–1.6): query validation, `!` argument
//! splitting, `$ARGn$` macro expansion and result mapping.
//!
//! A server reads [`HEADER_LEN`] bytes, calls [`parse_header`], then reads
//! what [`Header::rest_len`] says (for v3/v4 after [`body_len`] on the 6 more
//! header bytes), and hands the whole packet to [`decode`]. Lengths are
//! checked before anything is allocated.

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

/// Server policy for queries (nrpe.cfg settings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryPolicy {
    pub nasty_metachars: String,
    pub dont_blame_nrpe: bool,
    pub allow_bash_command_substitution: bool,
}

/// Why a query was refused (the connection is closed without a reply).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("not a query packet (type {0})")]
    NotQuery(i16),
    #[error("empty query")]
    Empty,
    #[error("query is not valid UTF-8")]
    Encoding,
    #[error("query contains the nasty metacharacter {0:?}")]
    Metachar(char),
    #[error("command arguments are disabled (dont_blame_nrpe=0)")]
    ArgsNotAllowed,
    #[error("query contains a bash command substitution `$(`")]
    CommandSubstitution,
    #[error("query has no command name")]
    NoCommand,
}

impl Refusal {
    /// Short stable name for metrics labels.
    pub fn reason(&self) -> &'static str {
        match self {
            Refusal::NotQuery(_) => "packet_type",
            Refusal::Empty | Refusal::NoCommand => "empty",
            Refusal::Encoding => "encoding",
            Refusal::Metachar(_) => "metachars",
            Refusal::ArgsNotAllowed => "args",
            Refusal::CommandSubstitution => "command_substitution",
        }
    }
}

/// A validated query: command name and up to 16 arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub command: String,
    pub args: Vec<String>,
}

/// Validates a query packet per protocols.md §1.4 steps 4–7: type, non-empty,
/// nasty metacharacters anywhere, `!` only with `dont_blame_nrpe`, `$(` only
/// with `allow_bash_command_substitution`; then splits on `!` like `strtok`
/// (empty tokens vanish, tokens after the 16th argument are dropped).
pub fn validate_query(packet: &Packet, policy: &QueryPolicy) -> Result<Query, Refusal> {
    if packet.packet_type != QUERY {
        return Err(Refusal::NotQuery(packet.packet_type));
    }
    if packet.buffer.is_empty() {
        return Err(Refusal::Empty);
    }
    let text = std::str::from_utf8(&packet.buffer).map_err(|_| Refusal::Encoding)?;
    if let Some(c) = text.chars().find(|c| policy.nasty_metachars.contains(*c)) {
        return Err(Refusal::Metachar(c));
    }
    if text.contains('!') && !policy.dont_blame_nrpe {
        return Err(Refusal::ArgsNotAllowed);
    }
    if text.contains("$(") && !policy.allow_bash_command_substitution {
        return Err(Refusal::CommandSubstitution);
    }
    split_query(text).ok_or(Refusal::NoCommand)
}

/// `strtok(query, "!")`: command name, then at most 16 non-empty arguments.
pub fn split_query(text: &str) -> Option<Query> {
    let mut tokens = text.split('!').filter(|t| !t.is_empty());
    let command = tokens.next()?.to_string();
    let args = tokens.take(MAX_ARGS).map(String::from).collect();
    Some(Query { command, args })
}

/// C `atoi`: leading whitespace, a sign, digits; 0 when there are none.
fn atoi(s: &str) -> i64 {
    let s = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (negative, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let mut n: i64 = 0;
    for b in digits.bytes().take_while(u8::is_ascii_digit) {
        n = n.saturating_mul(10).saturating_add(i64::from(b - b'0'));
    }
    if negative { -n } else { n }
}

fn push_capped(out: &mut String, s: &str) {
    let room = MAX_COMMAND_LINE.saturating_sub(out.len());
    if s.len() <= room {
        out.push_str(s);
    } else {
        let mut cut = room;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        out.push_str(&s[..cut]);
    }
}

/// nrpe's `process_macros` (protocols.md §1.6): segments between `$` alternate
/// between text and macro. `$ARGn$` (1 ≤ n ≤ 16, n read like `atoi`) → the raw
/// argument or nothing; `$$` → `$`; `$OTHER$` stays `$OTHER$`; a lone `$`
/// makes the rest a macro segment, which gains a trailing `$`. Segments that
/// do not fit in 2047 bytes are dropped, arguments are cut to fit.
pub fn expand_macros(line: &str, args: &[String]) -> String {
    let mut out = String::new();
    let mut in_macro = false;
    for segment in line.split('$') {
        let fits = out.len() + segment.len() < MAX_COMMAND_LINE;
        if !in_macro {
            if fits {
                push_capped(&mut out, segment);
            }
        } else if fits {
            if let Some(index) = segment.strip_prefix("ARG") {
                let n = atoi(index);
                if (1..=MAX_ARGS as i64).contains(&n) {
                    if let Some(arg) = args.get(n as usize - 1) {
                        push_capped(&mut out, arg);
                    }
                }
            } else if segment.is_empty() {
                push_capped(&mut out, "$");
            } else {
                push_capped(&mut out, "$");
                push_capped(&mut out, segment);
                push_capped(&mut out, "$");
            }
        }
        in_macro = !in_macro;
    }
    out
}

/// The full command line nrpe runs: `command_prefix + " " + line`, then macros.
pub fn command_line(prefix: Option<&str>, line: &str, args: &[String]) -> String {
    match prefix {
        Some(p) => expand_macros(&format!("{p} {line}"), args),
        None => expand_macros(line, args),
    }
}

/// How a command ended, as the server sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandEnd {
    Exited(i32),
    Signaled,
    /// `command_timeout` seconds passed.
    TimedOut {
        seconds: u32,
    },
    /// fork/exec failed, with errno when known.
    ForkFailed {
        errno: i32,
    },
}

/// nrpe's result mapping (protocols.md §1.4 steps 10–11): the reply's result
/// code and text from how the command ended and its stdout (capped to
/// `max_output` bytes, one trailing `\n` stripped).
pub fn map_result(end: CommandEnd, stdout: &[u8], max_output: usize) -> (i16, Vec<u8>) {
    let out = &stdout[..stdout.len().min(max_output)];
    let (rc, text): (i16, Vec<u8>) = match end {
        CommandEnd::ForkFailed { errno } => (
            3,
            format!("NRPE: Call to fork() failed (errno={errno})").into_bytes(),
        ),
        // Even after partial output (as Debian's nrpe 4.1.0 answers).
        CommandEnd::TimedOut { seconds } => (
            3,
            format!("NRPE: Command timed out after {seconds} seconds").into_bytes(),
        ),
        _ if out.is_empty() => (3, b"NRPE: Unable to read output".to_vec()),
        CommandEnd::Signaled => (2, out.to_vec()),
        CommandEnd::Exited(code) => (
            if (0..=3).contains(&code) {
                code as i16
            } else {
                3
            },
            out.to_vec(),
        ),
    };
    let text = match text.strip_suffix(b"\n") {
        Some(stripped) => stripped.to_vec(),
        None => text,
    };
    (rc, text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn policy(args: bool) -> QueryPolicy {
        QueryPolicy {
            nasty_metachars: crate::nrpe_cfg::DEFAULT_NASTY_METACHARS.into(),
            dont_blame_nrpe: args,
            allow_bash_command_substitution: false,
        }
    }

    fn query(text: &str) -> Packet {
        Packet {
            version: Version::V4,
            packet_type: QUERY,
            result_code: 0,
            buffer: text.as_bytes().to_vec(),
        }
    }

    #[test]
    fn crc_reference() {
        assert_eq!(crc32fast::hash(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn v2_layout() {
        let p = encode(Version::V2, QUERY, 0, b"check_load");
        assert_eq!(p.len(), 1036);
        assert_eq!(&p[0..4], &[0, 2, 0, 1]);
        assert_eq!(&p[10..20], b"check_load");
        assert!(p[20..].iter().all(|&b| b == 0));
        let d = decode(&p).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(d.buffer, b"check_load");
        // Extra bytes after 1036 are ignored.
        let mut longer = p.clone();
        longer.extend_from_slice(b"junk");
        assert_eq!(decode(&longer), Ok(d));
        // Shorter → refused.
        assert!(matches!(decode(&p[..1035]), Err(PacketError::Short { .. })));
        assert!(matches!(decode(&p[..10]), Err(PacketError::Short { .. })));
    }

    #[test]
    fn v2_output_truncated_to_1023() {
        let p = encode_response(Version::V2, 0, &[b'x'; 2000]);
        assert_eq!(p.len(), 1036);
        let d = decode(&p).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(d.buffer.len(), 1023);
        assert_eq!(p[1033], 0);
    }

    #[test]
    fn v2_no_nul_is_forced_at_1023() {
        let mut p = encode(Version::V2, QUERY, 0, b"");
        p[10..1034].fill(b'a');
        p[4..8].fill(0);
        let crc = crc32fast::hash(&p);
        p[4..8].copy_from_slice(&crc.to_be_bytes());
        assert_eq!(decode(&p).map(|d| d.buffer.len()), Ok(1023));
    }

    #[test]
    fn v2_tail_pad_is_covered_by_crc() {
        let mut p = encode(Version::V2, QUERY, 0, b"x");
        p[1035] ^= 1;
        assert!(matches!(decode(&p), Err(PacketError::Crc { .. })));
        let mut p = encode(Version::V2, QUERY, 0, b"x");
        p[10] ^= 1;
        assert!(matches!(decode(&p), Err(PacketError::Crc { .. })));
    }

    #[test]
    fn v4_layout() {
        let q = encode(Version::V4, QUERY, 0, b"check_users");
        assert_eq!(q.len(), 16 + 1020);
        assert_eq!(body_len(&q), Ok(1020));
        let r = encode_response(Version::V4, 0, b"NRPE v4.1.0");
        assert_eq!(r.len(), 28);
        let d = decode(&r).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (d.packet_type, d.result_code, d.buffer.as_slice()),
            (RESPONSE, 0, &b"NRPE v4.1.0"[..])
        );
        let long = encode(Version::V4, QUERY, 0, &[b'a'; 3000]);
        assert_eq!(body_len(&long), Ok(3001));
    }

    #[test]
    fn v4_output_cap() {
        let r = encode_response(Version::V4, 0, &[b'x'; 70000]);
        assert_eq!(body_len(&r), Ok(65536));
        assert_eq!(decode(&r).map(|d| d.buffer.len()), Ok(65535));
    }

    #[test]
    fn alignment_is_ignored_by_crc() {
        let mut q = encode(Version::V4, QUERY, 0, b"check_users");
        q[10] = 0xAB;
        q[11] = 0xCD;
        assert!(decode(&q).is_ok());
        q[20] ^= 0x01;
        assert!(matches!(decode(&q), Err(PacketError::Crc { .. })));
    }

    #[test]
    fn v3_pad_bytes() {
        let q = encode(Version::V3, QUERY, 0, b"check_users");
        assert_eq!(q.len(), 16 + 1017 + 3);
        // The receiver reads 16 + buffer_length and adds the 3 zeros itself.
        let len = body_len(&q).unwrap_or_default();
        assert_eq!(
            decode(&q[..16 + len]).map(|d| d.buffer),
            Ok(b"check_users".to_vec())
        );
        assert!(decode(&q).is_ok());
        // CRC over the bytes without the 3 pad bytes does not match a v3 receiver.
        let mut wrong = q[..16 + len].to_vec();
        wrong[4..8].fill(0);
        let crc = crc32fast::hash(&wrong);
        wrong[4..8].copy_from_slice(&crc.to_be_bytes());
        assert!(matches!(decode(&wrong), Err(PacketError::Crc { .. })));
    }

    #[test]
    fn buffer_length_range_checked() {
        let mut h = encode(Version::V4, QUERY, 0, b"x");
        for (n, ok) in [
            (-1i32, false),
            (65537, false),
            (0x7fff_ffff, false),
            (65536, true),
            (0, true),
        ] {
            h[12..16].copy_from_slice(&n.to_be_bytes());
            assert_eq!(body_len(&h).is_ok(), ok, "{n}");
        }
        assert!(matches!(
            decode(&h[..16]),
            Err(PacketError::Short { .. }) | Err(PacketError::Crc { .. })
        ));
        assert!(body_len(&h[..15]).is_err());
    }

    #[test]
    fn header_checks() {
        for (v, ok) in [
            (1i16, false),
            (2, true),
            (3, true),
            (4, true),
            (5, false),
            (-1, false),
        ] {
            let mut h = [0u8; 10];
            h[0..2].copy_from_slice(&v.to_be_bytes());
            h[3] = 1;
            assert_eq!(parse_header(&h).is_ok(), ok, "{v}");
        }
        let mut h = [0u8, 4, 0, 3, 0, 0, 0, 0, 0, 0];
        assert_eq!(parse_header(&h), Err(PacketError::Type(3)));
        h[3] = 2;
        assert_eq!(parse_header(&h).map(|h| h.rest_len()), Ok(6));
        assert!(parse_header(&h[..9]).is_err());
    }

    #[test]
    fn packet_type_two_is_refused() {
        let mut p = query("check_users");
        p.packet_type = RESPONSE;
        assert_eq!(validate_query(&p, &policy(true)), Err(Refusal::NotQuery(2)));
    }

    #[test]
    fn v4_no_nul_and_empty() {
        let mut q = encode(Version::V4, QUERY, 0, b"");
        let n = body_len(&q).unwrap_or_default();
        q[16..16 + n].fill(b'a');
        q[4..8].fill(0);
        let crc = crc32fast::hash(&q);
        q[4..8].copy_from_slice(&crc.to_be_bytes());
        assert_eq!(decode(&q).map(|d| d.buffer.len()), Ok(1020));
        assert_eq!(
            validate_query(&query(""), &policy(false)),
            Err(Refusal::Empty)
        );
    }

    // §6 item 9.
    #[test]
    fn args() {
        let split = |s: &str| validate_query(&query(s), &policy(true));
        assert_eq!(
            validate_query(&query("cmd!a"), &policy(false)),
            Err(Refusal::ArgsNotAllowed)
        );
        assert_eq!(
            split("cmd!a!!b"),
            Ok(Query {
                command: "cmd".into(),
                args: vec!["a".into(), "b".into()]
            })
        );
        assert_eq!(split("cmd!").map(|q| q.args.len()), Ok(0));
        assert_eq!(split("!!cmd!x").map(|q| q.command), Ok("cmd".into()));
        assert_eq!(split("!!!"), Err(Refusal::NoCommand));
        let many: String = (1..=17).map(|i| format!("!a{i}")).collect();
        let q = split(&format!("cmd{many}")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(q.args.len(), 16);
        assert_eq!(q.args[15], "a16");
        assert_eq!(split("cmd!$(id)"), Err(Refusal::CommandSubstitution));
        let mut allow = policy(true);
        allow.allow_bash_command_substitution = true;
        assert!(validate_query(&query("cmd!$(id)"), &allow).is_ok());
        for c in "|`&><'\\[]{};\r\n".chars() {
            assert_eq!(
                split(&format!("cmd!a{c}b")),
                Err(Refusal::Metachar(c)),
                "{c:?}"
            );
            assert_eq!(
                split(&format!("c{c}md")),
                Err(Refusal::Metachar(c)),
                "{c:?}"
            );
        }
        assert_eq!(
            split("cmd!$HOME").map(|q| q.args),
            Ok(vec!["$HOME".to_string()])
        );
        assert_eq!(Refusal::Metachar(';').reason(), "metachars");
        let bad = Packet {
            buffer: vec![0xff, 0xfe],
            ..query("")
        };
        assert_eq!(validate_query(&bad, &policy(true)), Err(Refusal::Encoding));
    }

    fn a(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    // §6 item 10.
    #[test]
    fn macros() {
        let args = a(&["one", "two"]);
        assert_eq!(
            expand_macros("echo $ARG1$ $ARG2$ $ARG3$", &args),
            "echo one two "
        );
        assert_eq!(expand_macros("echo $ARG0$ $ARG17$", &args), "echo  ");
        assert_eq!(expand_macros("echo $ARG1", &args), "echo one");
        assert_eq!(expand_macros("echo $$", &args), "echo $");
        assert_eq!(expand_macros("echo a$b c", &args), "echo a$b c$");
        assert_eq!(expand_macros("echo $USER1$/x", &args), "echo $USER1$/x");
        assert_eq!(expand_macros("echo $HOME$", &args), "echo $HOME$");
        assert_eq!(
            expand_macros("echo $ARG01$ $ARG 2$ $ARGx$", &args),
            "echo one two "
        );
        assert_eq!(expand_macros("$", &args), "$");
        assert_eq!(expand_macros("a$$$ARG1$", &args), "a$one");
        assert_eq!(expand_macros("plain", &[]), "plain");
        // Raw arguments, no quoting (injection is stopped by the metachar check).
        assert_eq!(
            expand_macros("echo $ARG1$", &a(&["a b $HOME"])),
            "echo a b $HOME"
        );
        assert_eq!(
            command_line(Some("/usr/bin/sudo"), "check $ARG1$", &args),
            "/usr/bin/sudo check one"
        );
    }

    #[test]
    fn macro_output_is_capped() {
        let long = "x".repeat(3000);
        assert_eq!(
            expand_macros("echo $ARG1$", std::slice::from_ref(&long)).len(),
            2047
        );
        // A text segment that does not fit is dropped whole.
        assert_eq!(expand_macros(&format!("echo {long}"), &[]), "");
        assert!(expand_macros(&"é$ARG1$".repeat(600), &["ü".repeat(40)]).len() <= 2047);
    }

    // §6 item 11.
    #[test]
    fn result_mapping() {
        let m = |end, out: &[u8]| {
            let (rc, text) = map_result(end, out, V34_MAX_OUTPUT);
            (rc, String::from_utf8_lossy(&text).into_owned())
        };
        assert_eq!(m(CommandEnd::Exited(1), b"WARN x\n"), (1, "WARN x".into()));
        assert_eq!(m(CommandEnd::Exited(4), b"odd\n"), (3, "odd".into()));
        assert_eq!(m(CommandEnd::Exited(255), b"odd"), (3, "odd".into()));
        assert_eq!(m(CommandEnd::Exited(-1), b"odd"), (3, "odd".into()));
        assert_eq!(m(CommandEnd::Signaled, b"partial\n"), (2, "partial".into()));
        assert_eq!(
            m(CommandEnd::Signaled, b""),
            (3, "NRPE: Unable to read output".into())
        );
        assert_eq!(
            m(CommandEnd::Exited(0), b""),
            (3, "NRPE: Unable to read output".into())
        );
        assert_eq!(
            m(CommandEnd::TimedOut { seconds: 5 }, b""),
            (3, "NRPE: Command timed out after 5 seconds".into())
        );
        assert_eq!(
            m(CommandEnd::TimedOut { seconds: 5 }, b"started\n"),
            (3, "NRPE: Command timed out after 5 seconds".into())
        );
        assert_eq!(m(CommandEnd::Exited(0), b"two\n\n"), (0, "two\n".into()));
        assert_eq!(
            m(CommandEnd::ForkFailed { errno: 11 }, b""),
            (3, "NRPE: Call to fork() failed (errno=11)".into())
        );
        let (_, text) = map_result(CommandEnd::Exited(0), &[b'y'; 5000], V2_MAX_OUTPUT);
        assert_eq!(text.len(), 1023);
    }

    #[test]
    fn version_text() {
        assert_eq!(version_reply("4.1.0"), "NRPE v4.1.0");
    }

    proptest! {
        #[test]
        fn round_trip(
            version in prop_oneof![Just(Version::V2), Just(Version::V3), Just(Version::V4)],
            packet_type in prop_oneof![Just(QUERY), Just(RESPONSE)],
            rc in any::<i16>(),
            text in proptest::collection::vec(1u8..=255, 0..2000),
        ) {
            let wire = encode(version, packet_type, rc, &text);
            let packet = decode(&wire).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let cap = version.max_output().min(text.len());
            prop_assert_eq!(packet.version, version);
            prop_assert_eq!(packet.packet_type, packet_type);
            prop_assert_eq!(packet.result_code, rc);
            prop_assert_eq!(&packet.buffer[..], &text[..cap]);
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..1100)) {
            let _ = decode(&bytes);
            let _ = body_len(&bytes);
            let _ = parse_header(&bytes);
        }

        #[test]
        fn flipped_bit_is_detected(text in "[a-z_]{1,30}", bit in 0usize..(1036 * 8)) {
            let mut wire = encode(Version::V2, QUERY, 0, text.as_bytes());
            let byte = bit / 8;
            prop_assume!(!(4..8).contains(&byte) && byte >= 4);
            wire[byte] ^= 1 << (bit % 8);
            prop_assert!(decode(&wire).is_err());
        }

        #[test]
        fn macros_never_panic(line in "[$A-Z0-9 a-z]{0,60}", args in proptest::collection::vec("[ -~]{0,10}", 0..20)) {
            let out = expand_macros(&line, &args);
            prop_assert!(out.len() <= MAX_COMMAND_LINE);
            let _ = split_query(&line);
        }
    }
}
