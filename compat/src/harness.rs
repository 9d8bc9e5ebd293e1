//! Fuzz entry points (issue 10, decisions.md D11): one function per parser taking
//! arbitrary bytes. The cargo-fuzz targets in `compat/fuzz/` and the stable corpus
//! replay test (`compat/tests/fuzz_corpus.rs`) call exactly these, so what CI runs
//! on stable is what a fuzzer would run on nightly.
//!
//! Each one must return for every input; besides "no panic" they check cheap
//! invariants (encode/decode round trips, bounded outputs) with `assert!`, which a
//! fuzzer reports as a crash.

use crate::{nrpe_cfg, nrpe_packet, nsca, nsca_cipher, output, send_nsca_input};

/// One fuzz entry point.
pub type Target = fn(&[u8]);

/// Targets by name, as the fuzz crate and the corpus folders name them.
pub const TARGETS: &[(&str, Target)] = &[
    ("perfdata", perfdata),
    ("plugin_output", plugin_output),
    ("nrpe_cfg", nrpe_cfg),
    ("nrpe_packet", nrpe_packet),
    ("nsca_packet", nsca_packet),
    ("send_nsca_input", send_nsca_input),
];

/// Perfdata and threshold ranges.
pub fn perfdata(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    for datum in output::parse_perfdata(&text) {
        let _ = (datum.warn_range(), datum.crit_range(), datum.normalized());
        let _ = output::parse_perfdata(&datum.to_string());
    }
    if let Ok(range) = output::Range::parse(&text) {
        let _ = (
            range.alerts(0.0),
            range.alerts(f64::NAN),
            range.alerts(1e300),
        );
        let _ = output::Range::parse(&range.to_string());
        let _ = range.scaled(1024.0);
    }
    let _ = output::normalize_uom(1.0, &text);
}

/// Whole plugin output (first line, long text, perfdata).
pub fn plugin_output(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let parsed = output::parse(&text);
    assert!(parsed.output.len() <= text.len());
    assert!(!parsed.output.contains('\n'));
}

/// nrpe.cfg text (includes are not followed here: there is no filesystem).
pub fn nrpe_cfg(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(loaded) = nrpe_cfg::parse_str("/etc/nagios/nrpe.cfg", &text) {
        for command in &loaded.config.commands {
            let _ = command.uses_args();
        }
    }
    for entry in text.split(',') {
        let entry = entry.trim();
        if !entry.is_empty() {
            let _ = nrpe_cfg::parse_allowed_host(entry);
        }
    }
    let _ = nrpe_cfg::unescape_c(&text);
}

/// NRPE packets: decode, validate as a query, and re-encode what decoded.
pub fn nrpe_packet(data: &[u8]) {
    let _ = nrpe_packet::parse_header(data);
    let _ = nrpe_packet::body_len(data);
    let Ok(packet) = nrpe_packet::decode(data) else {
        return;
    };
    let policy = nrpe_packet::QueryPolicy {
        nasty_metachars: "|`&><'\\[]{};\r\n".into(),
        dont_blame_nrpe: true,
        allow_bash_command_substitution: false,
    };
    if let Ok(query) = nrpe_packet::validate_query(&packet, &policy) {
        let line = nrpe_packet::command_line(None, "check $ARG1$ $ARG2$", &query.args);
        for bad in ['`', '|', ';', '\n', '&', '>', '<'] {
            assert!(!line.contains(bad), "{bad:?} passed validation: {line:?}");
        }
        assert!(!line.contains("$("), "$( passed validation: {line:?}");
    }
    let text = String::from_utf8_lossy(data);
    let _ = nrpe_packet::split_query(&text);
}

/// NSCA init and data packets, plain and through the XOR cipher.
pub fn nsca_packet(data: &[u8]) {
    let _ = nsca::InitPacket::decode(data);
    if let Ok(packet) = nsca::decode_packet(data) {
        assert!(packet.host_name.len() < 64);
    }
    let iv = [0x5a; nsca::IV_LEN];
    let mut dec = nsca_cipher::Decryptor::new(nsca_cipher::Method::Xor, b"secret", &iv);
    let mut copy = data.to_vec();
    let _ = nsca::open_packet(&mut dec, &mut copy);
}

/// send_nsca's standard input (records) and its config file.
pub fn send_nsca_input(data: &[u8]) {
    for record in send_nsca_input::records(data, b'\t', 0x17) {
        let _ = record;
    }
    for record in send_nsca_input::records(data, b'\n', b'\n') {
        let _ = record;
    }
    let _ = send_nsca_input::parse_config(data, "send_nsca.cfg");
    let _ = send_nsca_input::parse_delimiter(data);
    let _ = send_nsca_input::atoi(data);
}
