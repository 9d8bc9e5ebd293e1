//! Packaging: the systemd unit (`contrib/smokerd.service`) and the cargo-deb metadata.
//!
//! Building the .deb itself is `scripts/build-deb` (a release build plus cargo-deb,
//! minutes on CI machines); `scripts/build-deb --install-check` also installs it with
//! `dpkg -i` and checks the installed `smokerd check-config` and unit. That stays out of
//! the suite: it changes the machine's package state, which concurrent runs share.
//! Here we check what it packages: the unit passes `systemd-analyze verify`, every
//! packaged file exists in the tree, every man page a page or the unit names is shipped,
//! the completions, and the README (its tables, paths and first-check example).

use std::{
    path::{Path, PathBuf},
    process::{Command, Stdio},
    thread,
    time::{Duration, Instant},
};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn unit_text() -> String {
    std::fs::read_to_string(repo().join("contrib/smokerd.service"))
        .expect("contrib/smokerd.service")
}

/// Active `Key=value` settings of a unit file (comments and section headers left out).
fn settings(unit: &str) -> Vec<(String, String)> {
    unit.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with(['#', ';', '[']))
        .filter_map(|line| line.split_once('='))
        .map(|(key, value)| (key.trim().to_string(), value.trim().to_string()))
        .collect()
}

/// Runs `command` to completion within `deadline`, returning (success, stdout + stderr).
fn run_with_deadline(command: &mut Command, deadline: Duration) -> (bool, String) {
    let out = tempfile::NamedTempFile::new().expect("temp file");
    let mut child = command
        .stdin(Stdio::null())
        .stdout(out.reopen().expect("reopen"))
        .stderr(out.reopen().expect("reopen"))
        .spawn()
        .expect("spawn");
    let until = Instant::now() + deadline;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > until {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{command:?} did not finish within {deadline:?}");
        }
        thread::sleep(Duration::from_millis(20));
    };
    (
        status.success(),
        std::fs::read_to_string(out.path()).expect("output"),
    )
}

fn find_in_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

#[test]
fn unit_passes_systemd_analyze_verify() {
    let Some(analyze) = find_in_path("systemd-analyze") else {
        // Documented: scripts/install-deps installs `systemd` (which has systemd-analyze).
        eprintln!("systemd-analyze not installed; unit verification skipped");
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    // verify insists that ExecStart= exists: point it at the binary under test.
    let unit = unit_text().replace("/usr/bin/smokerd", env!("CARGO_BIN_EXE_smokerd"));
    let path = dir.path().join("smokerd.service");
    std::fs::write(&path, unit).expect("write unit");
    let (ok, output) = run_with_deadline(
        Command::new(&analyze)
            .arg("verify")
            .arg("--man=no")
            .arg(&path),
        Duration::from_secs(60),
    );
    // verify exits 0 on unknown keys and bad values; it only warns. Any output is a finding.
    assert!(
        ok && output.trim().is_empty(),
        "systemd-analyze verify:\n{output}"
    );

    // It does catch mistakes: the same check on a broken copy reports them.
    let broken = dir.path().join("broken.service");
    std::fs::write(
        &broken,
        "[Service]\nType=notify\nExecStart=/bin/true\nProtectSystem=bogus\n",
    )
    .expect("write");
    let (_, output) = run_with_deadline(
        Command::new(&analyze)
            .arg("verify")
            .arg("--man=no")
            .arg(&broken),
        Duration::from_secs(60),
    );
    assert!(
        output.contains("bogus"),
        "a bad value goes unnoticed:\n{output}"
    );
}

#[test]
fn unit_is_notify_type_hardened_and_keeps_uid_switching_possible() {
    let unit = unit_text();
    let settings = settings(&unit);
    let get = |key: &str| {
        settings
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(get("Type"), Some("notify"));
    assert_eq!(
        get("ExecStart"),
        Some("/usr/bin/smokerd -c /etc/smokerd/smokerd.yaml")
    );
    assert_eq!(get("ExecReload"), Some("/bin/kill -HUP $MAINPID"));
    assert!(get("WatchdogSec").is_some());
    assert_eq!(get("StateDirectory"), Some("smokerd"));
    assert_eq!(get("ProtectSystem"), Some("strict"));
    assert!(get("ProtectHome").is_some());
    assert_eq!(get("PrivateTmp"), Some("yes"));
    assert_eq!(
        get("RestartPreventExitStatus"),
        Some("2"),
        "config errors (exit 2) must not restart-loop"
    );
    // Per-check uid switching and setuid plugins: no NoNewPrivileges, no User=, no
    // capability bounding set (dropping CAP_SYS_ADMIN would imply NoNewPrivileges).
    for key in [
        "NoNewPrivileges",
        "User",
        "DynamicUser",
        "CapabilityBoundingSet",
        "PrivateDevices",
        "ProtectClock",
    ] {
        assert_eq!(
            get(key),
            None,
            "{key} must stay unset (see the comments in the unit)"
        );
    }
    assert!(
        unit.contains("# NoNewPrivileges=yes:"),
        "the choice is explained in the unit"
    );
}

/// Source paths of `[package.metadata.deb] assets` (the first string of each entry).
fn deb_asset_sources(manifest: &str) -> Vec<String> {
    let section = manifest
        .split("[package.metadata.deb]")
        .nth(1)
        .expect("[package.metadata.deb] in Cargo.toml");
    let assets = section.split("assets = [").nth(1).expect("assets");
    let assets = &assets[..assets.find("\n]").expect("end of assets")];
    assets
        .lines()
        .filter_map(|line| line.trim().strip_prefix("[\""))
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_string)
        .collect()
}

#[test]
fn every_packaged_file_exists() {
    let manifest = std::fs::read_to_string(repo().join("Cargo.toml")).expect("Cargo.toml");
    let sources = deb_asset_sources(&manifest);
    for binary in ["smokerd", "smokercli", "check_smoker"] {
        assert!(
            sources.contains(&format!("target/release/{binary}")),
            "{binary} is not packaged"
        );
    }
    let mut wanted = vec![
        "config/smokerd.yaml".to_string(),
        "contrib/completions/smokercli.bash".to_string(),
    ];
    // Every generated man page (smokerd, smokercli, check_smoker and their subcommands).
    for page in std::fs::read_dir(repo().join("contrib/man")).expect("contrib/man") {
        let name = page.expect("entry").file_name();
        wanted.push(format!("contrib/man/{}", name.to_string_lossy()));
    }
    for wanted in &wanted {
        assert!(
            sources.iter().any(|source| source == wanted),
            "{wanted} is not packaged"
        );
    }
    for source in sources
        .iter()
        .filter(|source| !source.starts_with("target/release/"))
    {
        assert!(
            repo().join(source).is_file(),
            "packaged file {source} does not exist"
        );
    }
    assert!(manifest.contains(r#"unit-name = "smokerd", unit-scripts = "contrib""#));
    assert!(repo().join("contrib/smokerd.service").is_file());
    let build_deb = repo().join("scripts/build-deb");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&build_deb)
            .expect("build-deb")
            .permissions(),
    );
    assert!(mode & 0o111 != 0, "scripts/build-deb is not executable");
}

/// `NAME(1)` references of a man page or unit that name one of our programs.
fn our_page_refs(text: &str) -> Vec<String> {
    let text = text
        .replace("\\-", "-")
        .replace("\\fB", "")
        .replace("\\fR", "");
    let mut refs = Vec::new();
    for (i, _) in text.match_indices("(1)") {
        let start = text[..i]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
            .map_or(0, |s| s + 1);
        let name = &text[start..i];
        if ["smokerd", "smokercli", "check_smoker"]
            .iter()
            .any(|p| name.starts_with(p))
        {
            refs.push(name.to_string());
        }
    }
    refs
}

#[test]
fn man_pages_cover_every_program_and_subcommand_and_every_reference_is_shipped() {
    let man = repo().join("contrib/man");
    for page in [
        "smokerd",
        "smokerd-check-config",
        "smokerd-run",
        "smokerd-import-nrpe",
        "smokerd-print-default-config",
        "smokercli",
        "smokercli-history",
        "smokercli-output",
        "smokercli-send-nsca",
        "check_smoker",
    ] {
        assert!(man.join(format!("{page}.1")).is_file(), "no {page}(1)");
    }
    assert!(man.join("smokerd.yaml.5").is_file(), "no smokerd.yaml(5)");
    let mut texts = vec![("contrib/smokerd.service".to_string(), unit_text())];
    for page in std::fs::read_dir(&man).expect("contrib/man") {
        let path = page.expect("entry").path();
        let text = std::fs::read_to_string(&path).expect("man page");
        texts.push((path.display().to_string(), text));
    }
    let mut seen = 0;
    for (file, text) in &texts {
        for name in our_page_refs(text) {
            seen += 1;
            assert!(
                man.join(format!("{name}.1")).is_file(),
                "{file} refers to {name}(1), which is not shipped"
            );
        }
    }
    assert!(seen >= 5, "too few references checked ({seen})");
    assert!(unit_text().contains("man:smokerd(1)"));
}

#[test]
fn completions_offer_send_nsca_and_hide_generate_assets() {
    let dir = repo().join("contrib/completions");
    for file in ["smokercli.bash", "_smokercli", "smokercli.fish"] {
        let text = std::fs::read_to_string(dir.join(file)).expect("completion");
        assert!(text.contains("send-nsca"), "{file} lacks send-nsca");
        assert!(
            !text.contains("generate-assets"),
            "{file} offers generate-assets"
        );
    }
    for file in ["smokerd.bash", "_smokerd", "smokerd.fish"] {
        let text = std::fs::read_to_string(dir.join(file)).expect("completion");
        assert!(text.contains("check-config"), "{file} lacks check-config");
    }
}

fn readme() -> String {
    std::fs::read_to_string(repo().join("README.md")).expect("README.md")
}

#[test]
fn readme_tables_are_unbroken_and_its_source_paths_exist() {
    let text = readme();
    let lines: Vec<&str> = text.lines().collect();
    // A table row right after a blank line that follows a row: a blank line broke a table.
    for (i, window) in lines.windows(3).enumerate() {
        if window[0].starts_with('|') && window[1].trim().is_empty() && window[2].starts_with('|') {
            panic!("README.md:{}: a blank line splits a table", i + 2);
        }
    }
    let plugin_keys = text
        .split("Our additions, per plugin")
        .nth(1)
        .expect("plugin keys table");
    let table: Vec<&str> = plugin_keys
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .collect();
    for key in [
        "Argv", "Splay", "Schedule", "TimeZone", "CatchUp", "Overlap", "ActionOn",
    ] {
        assert!(
            table
                .iter()
                .any(|row| row.starts_with(&format!("| `{key}"))),
            "{key} is not in the plugin keys table"
        );
    }
    // Every path of the source tree the README names exists.
    let mut named = 0;
    for piece in text.split('`').skip(1).step_by(2) {
        let prefixes = ["config/", "contrib/", "scripts/", ".ci/", "ARCHITECTURE.md"];
        if prefixes.iter().any(|p| piece.starts_with(p)) && !piece.contains(' ') {
            named += 1;
            assert!(
                repo().join(piece).exists(),
                "README names {piece}, which does not exist"
            );
        }
    }
    assert!(named >= 5, "{named}");
}

#[test]
fn readme_first_check_loads_with_the_real_smokerd() {
    let text = readme();
    let section = text.split("## A first check").nth(1).expect("first check");
    let yaml = section
        .split("```yaml\n")
        .nth(1)
        .and_then(|s| s.split("```").next())
        .expect("yaml block");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("smokerd.yaml");
    std::fs::write(&path, yaml).expect("write");
    let (ok, output) = run_with_deadline(
        Command::new(env!("CARGO_BIN_EXE_smokerd"))
            .args(["check-config", "--strict", "-c"])
            .arg(&path),
        Duration::from_secs(60),
    );
    assert!(ok, "{output}");
    let promised = "OK: 1 plugins (1 scheduled), 0 actions, nrpe: 0 commands";
    assert_eq!(output.trim(), promised);
    assert!(
        section.contains(promised),
        "the README shows another summary"
    );
}
