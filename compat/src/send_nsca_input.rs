//! send_nsca 2.10's input formats (protocols.md §3.6): the stdin records
//! (block delimiter 0x17, `strtok` field splitting, host checks, `atoi` return
//! codes, the 5120-byte record limit), the `-d`/`-ds` argument rule, and the
//! `send_nsca.cfg` parser with its exact error messages.
//!
//! Everything here works on bytes with C string semantics (a NUL ends a
//! string), because that is what send_nsca does.

use crate::nsca::Passive;

/// A record of this many bytes or more is an error.
pub const MAX_RECORD_LEN: usize = 5120;
pub const DEFAULT_FIELD_DELIMITER: u8 = b'\t';
pub const DEFAULT_BLOCK_DELIMITER: u8 = 0x17;
/// `fgets` buffer of the config reader: longer lines are read in pieces.
const CONFIG_CHUNK: usize = MAX_RECORD_LEN - 2;

/// The C string prefix of `b` (up to the first NUL).
fn c_str(b: &[u8]) -> &[u8] {
    b.split(|c| *c == 0).next().unwrap_or(&[])
}

fn is_c_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// C `strtol(s, NULL, base)` with base 0 or 10, saturating like glibc.
fn strtol(s: &[u8], base0: bool) -> i64 {
    let s = c_str(s);
    let mut i = s.iter().take_while(|c| is_c_space(**c)).count();
    let neg = match s.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let mut radix = 10u32;
    if base0 && s.get(i) == Some(&b'0') {
        let hex = matches!(s.get(i + 1), Some(b'x' | b'X'))
            && s.get(i + 2).is_some_and(|c| c.is_ascii_hexdigit());
        if hex {
            radix = 16;
            i += 2;
        } else {
            radix = 8;
        }
    }
    let mut v: i64 = 0;
    let mut overflow = false;
    for &c in &s[i..] {
        let Some(d) = (c as char).to_digit(radix) else {
            break;
        };
        match v
            .checked_mul(i64::from(radix))
            .and_then(|x| x.checked_add(i64::from(d)))
        {
            Some(n) => v = n,
            None => overflow = true,
        }
    }
    match (overflow, neg) {
        (true, false) => i64::MAX,
        (true, true) => i64::MIN,
        (false, true) => -v,
        (false, false) => v,
    }
}

/// C `atoi`: leading spaces, sign, decimal digits; garbage gives 0.
pub fn atoi(s: &[u8]) -> i32 {
    // glibc's atoi is (int)strtol(s, NULL, 10): keep the low 32 bits.
    strtol(s, false) as i32
}

/// The byte a `-d`/`-ds` argument means: a single character literally; longer
/// text starting with a digit, `+` or `-` as a `strtol(.., 0)` number (`0x09`);
/// otherwise its first character. 0 means "no delimiter" (empty argument).
pub fn parse_delimiter(arg: &[u8]) -> u8 {
    match arg {
        [] => 0,
        [c] => *c,
        [c, ..] if c.is_ascii_digit() || *c == b'+' || *c == b'-' => strtol(arg, true) as u8,
        [c, ..] => *c,
    }
}

/// One result read from stdin. Fields are as read (not yet cut to the packet's
/// field sizes; the encoder does that).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub host_name: Vec<u8>,
    /// Empty = host check.
    pub service: Vec<u8>,
    pub return_code: i16,
    pub output: Vec<u8>,
}

impl Record {
    pub fn passive(&self) -> Passive<'_> {
        Passive {
            host_name: &self.host_name,
            service: &self.service,
            return_code: self.return_code,
            output: &self.output,
        }
    }
}

/// Input that send_nsca refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    /// Exit code 255 in send_nsca; earlier records were already sent.
    #[error("Input set is longer than max allowed.")]
    TooLong,
}

/// C `strtok` with a one-byte delimiter set (`0` = the empty set).
fn strtok<'a>(rest: &mut &'a [u8], delim: u8) -> Option<&'a [u8]> {
    let s = *rest;
    let start = if delim == 0 {
        0
    } else {
        s.iter().position(|c| *c != delim).unwrap_or(s.len())
    };
    let s = &s[start..];
    if s.is_empty() {
        *rest = s;
        return None;
    }
    match s.iter().position(|c| delim != 0 && *c == delim) {
        Some(end) => {
            *rest = &s[end + 1..];
            Some(&s[..end])
        }
        None => {
            *rest = &s[s.len()..];
            Some(s)
        }
    }
}

/// Parses one record (without its block delimiter) as send_nsca does:
/// `None` when it is skipped (empty after stripping, or fewer than 3 fields).
pub fn parse_record(raw: &[u8], field_delim: u8) -> Option<Record> {
    let mut s = c_str(raw);
    while let [head @ .., b' ' | b'\r' | b'\n' | b'\t'] = s {
        s = head;
    }
    let mut rest = s;
    let f1 = strtok(&mut rest, field_delim)?;
    let f2 = strtok(&mut rest, field_delim)?;
    let f3 = strtok(&mut rest, field_delim)?;
    // strtok(NULL, "\0"): the rest of the record, delimiters and all.
    let f4 = if rest.is_empty() { None } else { Some(rest) };
    let (service, rc, output) = match f4 {
        None => (&[][..], f2, f3),
        Some(out) => (f2, f3, out),
    };
    Some(Record {
        host_name: f1.to_vec(),
        service: service.to_vec(),
        return_code: atoi(rc) as i16,
        output: output.to_vec(),
    })
}

/// Iterator over the records of send_nsca's stdin. After an error it ends.
#[derive(Debug, Clone)]
pub struct Records<'a> {
    input: &'a [u8],
    field_delim: u8,
    block_delim: u8,
    done: bool,
}

/// Splits `input` into records by `block_delim` and parses each with
/// `field_delim` (see [`parse_delimiter`]); skipped records are left out.
pub fn records(input: &[u8], field_delim: u8, block_delim: u8) -> Records<'_> {
    Records {
        input,
        field_delim,
        block_delim,
        done: false,
    }
}

impl Iterator for Records<'_> {
    type Item = Result<Record, InputError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done && !self.input.is_empty() {
            let (raw, rest) = match self.input.iter().position(|c| *c == self.block_delim) {
                Some(i) => (&self.input[..i], &self.input[i + 1..]),
                None => (self.input, &self.input[self.input.len()..]),
            };
            self.input = rest;
            if raw.len() >= MAX_RECORD_LEN {
                self.done = true;
                return Some(Err(InputError::TooLong));
            }
            if let Some(r) = parse_record(raw, self.field_delim) {
                return Some(Ok(r));
            }
        }
        None
    }
}

/// Settings read from `send_nsca.cfg`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendNscaConfig {
    pub password: Vec<u8>,
    /// As written (validated against send_nsca's list, not smoker's).
    pub encryption_method: i32,
    /// `Some` when the file says true/yes or false/no; it wins over the flag.
    pub legacy_2_7_mode: Option<bool>,
}

impl Default for SendNscaConfig {
    fn default() -> Self {
        SendNscaConfig {
            password: Vec::new(),
            encryption_method: 1,
            legacy_2_7_mode: None,
        }
    }
}

/// A `send_nsca.cfg` error, worded as send_nsca prints it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("No variable name specified in config file '{file}' - Line {line}")]
    NoName { file: String, line: usize },
    #[error("No variable value specified in config file '{file}' - Line {line}")]
    NoValue { file: String, line: usize },
    #[error("Invalid encryption method ({method}) in config file '{file}' - Line {line}")]
    InvalidMethod {
        method: i32,
        file: String,
        line: usize,
    },
    #[error("Unknown option specified in config file '{file}' - Line {line}")]
    UnknownOption { file: String, line: usize },
}

/// Methods send_nsca 2.10 accepts in its config (with mcrypt).
fn send_nsca_knows(method: i32) -> bool {
    matches!(method, 0..=12 | 14..=16 | 19 | 20 | 22..=26)
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The `fgets` lines of `text`: pieces of at most [`CONFIG_CHUNK`] bytes,
/// each ending after a newline when there is one.
fn fgets_lines(text: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let limit = rest.len().min(CONFIG_CHUNK);
        let end = rest[..limit]
            .iter()
            .position(|c| *c == b'\n')
            .map_or(limit, |i| i + 1);
        let (line, tail) = rest.split_at(end);
        rest = tail;
        Some(line)
    })
}

/// Parses `send_nsca.cfg` (`file` names it in messages): keys match by
/// substring (`password`, `encryption_method`, `legacy_2_7_mode`), values run
/// to the end of the line (spaces and CR kept), the first error stops.
pub fn parse_config(text: &[u8], file: &str) -> Result<SendNscaConfig, ConfigError> {
    let mut cfg = SendNscaConfig::default();
    for (n, raw) in fgets_lines(text).enumerate() {
        let line = n + 1;
        let at = || (file.to_string(), line);
        let buf = c_str(raw);
        if matches!(buf.first(), None | Some(b'#' | b'\n')) {
            continue;
        }
        let mut rest = buf;
        let Some(name) = strtok(&mut rest, b'=') else {
            let (file, line) = at();
            return Err(ConfigError::NoName { file, line });
        };
        let Some(value) = strtok(&mut rest, b'\n') else {
            let (file, line) = at();
            return Err(ConfigError::NoValue { file, line });
        };
        if contains(name, b"password") {
            cfg.password = value.to_vec();
        } else if contains(name, b"encryption_method") {
            let method = atoi(value);
            if !send_nsca_knows(method) {
                let (file, line) = at();
                return Err(ConfigError::InvalidMethod { method, file, line });
            }
            cfg.encryption_method = method;
        } else if contains(name, b"legacy_2_7_mode") {
            if contains(value, b"true") || contains(value, b"yes") {
                cfg.legacy_2_7_mode = Some(true);
            } else if contains(value, b"false") || contains(value, b"no") {
                cfg.legacy_2_7_mode = Some(false);
            }
        } else {
            let (file, line) = at();
            return Err(ConfigError::UnknownOption { file, line });
        }
    }
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn rec(h: &str, s: &str, rc: i16, o: &str) -> Record {
        Record {
            host_name: h.into(),
            service: s.into(),
            return_code: rc,
            output: o.into(),
        }
    }

    fn all(input: &[u8]) -> Vec<Result<Record, InputError>> {
        records(input, b'\t', 0x17).collect()
    }

    /// Cases observed with Debian's send_nsca 2.10.2 against a capturing server.
    #[test]
    fn records_like_send_nsca() {
        let input = b"\th1\t\tsvc\t3abc\t\tout\t\n\x17h2\tx\x17h3\x17h4\t7\x17  \x17h5\t70000\tout";
        assert_eq!(
            all(input),
            vec![
                Ok(rec("h1", "svc", 3, "\tout")),
                Ok(rec("h5", "", 4464, "out"))
            ]
        );
        let multi = b"h1\tsvc one\t2\tline1 a\\b\nline2\x17h2\t1\thostout\x17";
        assert_eq!(
            all(multi),
            vec![
                Ok(rec("h1", "svc one", 2, "line1 a\\b\nline2")),
                Ok(rec("h2", "", 1, "hostout"))
            ]
        );
        assert_eq!(
            records(b"h1,s,1,o,x", b',', 0x17).collect::<Vec<_>>(),
            vec![Ok(rec("h1", "s", 1, "o,x"))]
        );
        assert_eq!(
            records(b"h1\ts\t1\toA\nh2\t2\tob", b'\t', b'\n').collect::<Vec<_>>(),
            vec![Ok(rec("h1", "s", 1, "oA")), Ok(rec("h2", "", 2, "ob"))]
        );
        assert!(records(b"h1\ts\t1\to", 0, 0x17).next().is_none());
        assert_eq!(all(b""), vec![]);
    }

    #[test]
    fn record_limit_is_5119_bytes() {
        let ok = [b"h\ts\t1\t".as_slice(), &[b'b'; 5119 - 6]].concat();
        assert_eq!(all(&ok).len(), 1);
        let long = [
            b"h0\ts\t1\tok\x17h\ts\t1\t".as_slice(),
            &[b'b'; 5120 - 6],
            b"\x17h2\ts\t1\tok",
        ]
        .concat();
        assert_eq!(
            all(&long),
            vec![Ok(rec("h0", "s", 1, "ok")), Err(InputError::TooLong)]
        );
    }

    #[test]
    fn delimiters_like_send_nsca() {
        assert_eq!(parse_delimiter(b"0x2c"), b',');
        assert_eq!(parse_delimiter(b"9"), b'9');
        assert_eq!(parse_delimiter(b"+9"), b'\t');
        assert_eq!(parse_delimiter(b"300"), b',');
        assert_eq!(parse_delimiter(b"44x"), b',');
        assert_eq!(parse_delimiter(b"-1"), 0xff);
        assert_eq!(parse_delimiter(b"0"), b'0');
        assert_eq!(parse_delimiter(b"ab"), b'a');
        assert_eq!(parse_delimiter(b",,"), b',');
        assert_eq!(parse_delimiter(b"011"), 9);
        assert_eq!(parse_delimiter(b""), 0);
    }

    #[test]
    fn atoi_like_c() {
        assert_eq!(atoi(b"  -3x"), -3);
        assert_eq!(atoi(b"abc"), 0);
        assert_eq!(atoi(b"0x10"), 0);
        assert_eq!(atoi(b"99999999999999999999999"), -1);
    }

    fn cfg(text: &str) -> Result<SendNscaConfig, ConfigError> {
        parse_config(text.as_bytes(), "t.cfg")
    }

    #[test]
    fn config_like_send_nsca() {
        assert_eq!(cfg("").unwrap(), SendNscaConfig::default());
        let c = cfg("# c\n\npassword= a b \r\nencryption_method=3\nlegacy_2_7_mode= yes").unwrap();
        assert_eq!(c.password, b" a b \r");
        assert_eq!(c.encryption_method, 3);
        assert_eq!(c.legacy_2_7_mode, Some(true));
        assert_eq!(
            cfg("legacy_2_7_mode=xno\n").unwrap().legacy_2_7_mode,
            Some(false)
        );
        assert_eq!(cfg("legacy_2_7_mode=0\n").unwrap().legacy_2_7_mode, None);
        assert_eq!(cfg("encryption_method=abc\n").unwrap().encryption_method, 0);
        assert_eq!(cfg("xpasswordx=abc\n").unwrap().password, b"abc");
        assert_eq!(
            cfg("foo=1\n").unwrap_err().to_string(),
            "Unknown option specified in config file 't.cfg' - Line 1"
        );
        assert_eq!(
            cfg("\nencryption_method=13\n").unwrap_err().to_string(),
            "Invalid encryption method (13) in config file 't.cfg' - Line 2"
        );
        for bad in ["password\n", "=x\n", "password=\n", " # c\n"] {
            assert!(
                matches!(cfg(bad), Err(ConfigError::NoValue { line: 1, .. })),
                "{bad:?}"
            );
        }
        assert!(matches!(cfg("="), Err(ConfigError::NoName { line: 1, .. })));
    }

    proptest! {
        #[test]
        fn input_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..12000), d in any::<u8>(), b in any::<u8>()) {
            for r in records(&bytes, d, b).flatten() {
                prop_assert!(!r.host_name.is_empty());
            }
            let _ = parse_config(&bytes, "f");
            let _ = parse_delimiter(&bytes[..bytes.len().min(8)]);
        }
    }
}
