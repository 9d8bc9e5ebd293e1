//! The pure parts of nrpe's request pipeline on a decoded packet: query validation,
//! `!` argument splitting, `$ARGn$` macro expansion and result mapping.

use super::codec::*;

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
