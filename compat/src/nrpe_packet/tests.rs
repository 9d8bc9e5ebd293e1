//! Tests of the NRPE packet codec and the query pipeline.

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
