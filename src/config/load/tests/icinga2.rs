//! Unit tests of the `Icinga2` action reader (D15).

use super::{errors, load};
use crate::config::ActionKind;

#[test]
fn icinga2_reads_every_key_and_defaults() {
    let loaded = load(
        "actions:\n  i: {Icinga2: {url: 'https://icinga:5665/', user: smoker, password: pw}}\n\
         plugins: {a: {Command: x, Action: [i]}}\n",
    )
    .unwrap();
    let ActionKind::Icinga2(s) = &loaded.plan.actions["i"].kind else {
        panic!("not Icinga2")
    };
    assert_eq!(s.url, "https://icinga:5665");
    assert_eq!(
        (s.user.as_deref(), s.password.as_deref()),
        (Some("smoker"), Some("pw"))
    );
    assert_eq!(
        (s.service.as_str(), s.host_name.as_deref()),
        ("%(name)s", None)
    );
    assert!(!s.insecure && s.ca_pem.is_none() && s.identity.is_none());
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);

    let loaded = load(
        "actions:\n  i: {Icinga2: {url: 'https://i', user: u, password: p, insecure: true, service: ''}}\n\
         plugins: {a: {Command: x}}\n",
    )
    .unwrap();
    let ActionKind::Icinga2(s) = &loaded.plan.actions["i"].kind else {
        panic!("not Icinga2")
    };
    assert!(s.insecure);
    assert_eq!(s.service, "");
    assert_eq!(
        loaded
            .warnings
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        [
            "t.yaml:2:67: actions.i.Icinga2.insecure: TLS certificate verification is off: anyone on \
          the path can read the password and forge Icinga's answers"
        ]
    );
}

#[test]
fn icinga2_errors_are_positioned() {
    let dir = tempfile::tempdir().unwrap();
    let bad_ca = dir.path().join("bad.pem");
    std::fs::write(&bad_ca, "not a certificate\n").unwrap();
    assert_eq!(
        errors(&format!(
            "actions: {{i: {{Icinga2: {{url: 'http://i', user: u, ca_file: {}, colour: red}}}}}}\n",
            bad_ca.display()
        )),
        [
            "t.yaml:1:24: actions.i.Icinga2: user needs password or password_file".to_string(),
            "t.yaml:1:30: actions.i.Icinga2.url: must be an https:// URL with a host, got \"http://i\""
                .to_string(),
            format!(
                "t.yaml:1:60: actions.i.Icinga2.ca_file: {} is not a PEM certificate: no certificate in it",
                bad_ca.display()
            ),
            "t.yaml:1:85: actions.i.Icinga2.colour: unknown key (allowed: url, user, password, \
             password_file, cert, key, ca_file, insecure, host_name, service)"
                .to_string(),
        ]
    );
    assert_eq!(
        errors("actions: {i: {Icinga2: {url: 'https://i'}}}\n"),
        ["t.yaml:1:24: actions.i.Icinga2: set user and password, or cert and key"]
    );
    assert_eq!(
        errors("actions: {i: {Icinga2: {user: u, password: p}}}\n"),
        ["t.yaml:1:24: actions.i.Icinga2.url: is required (e.g. https://icinga.example:5665)"]
    );
    assert_eq!(
        errors("actions: {i: {Icinga2: {url: 'https://i', cert: /nonexistent.pem}}}\n"),
        [
            "t.yaml:1:49: actions.i.Icinga2.cert: cannot read /nonexistent.pem: No such file or directory (os error 2)",
            "t.yaml:1:49: actions.i.Icinga2.key: is required with cert",
        ]
    );
}
