//! `smokerd.yaml(5)`: the configuration file's manual, generated from the config key
//! table ([`crate::config::load::keys`]) and the built-in set ([`crate::builtin`]), so
//! it lists exactly what smokerd reads.

use roff::{Roff, bold, italic, roman};

use crate::config::load::keys::{self, Section};

/// Where each section's keys live, and what the section is.
const SECTIONS: [(Section, &str, &str); 10] = [
    (
        Section::Top,
        "TOP LEVEL",
        "Unknown top-level keys are ignored, with a warning when close to a known one.",
    ),
    (
        Section::Plugin,
        "PLUGINS AND TEMPLATES",
        "Keys of plugins.NAME, templates.NAME and BasePlugin. Other keys are parameters for %(Name)s substitution (a warning when one is unused and close to a known key).",
    ),
    (
        Section::Action,
        "ACTIONS",
        "Keys of actions.NAME; other keys are parameters of the action.",
    ),
    (
        Section::Nsca,
        "ACTIONS: NSCA",
        "actions.NAME.Nsca: send results to Nagios over NSCA.",
    ),
    (
        Section::Icinga2,
        "ACTIONS: ICINGA 2",
        "actions.NAME.Icinga2: send results to the Icinga 2 REST API.",
    ),
    (Section::Api, "API", "api: the REST API listener."),
    (
        Section::Metrics,
        "METRICS",
        "metrics: a separate Prometheus listener.",
    ),
    (
        Section::Nrpe,
        "NRPE",
        "nrpe: answer check_nrpe from an nrpe.cfg. With builtins: true, a command whose plugin and flags are all in the built-in set (and that uses no shell syntax, with no command_prefix) runs inside smokerd, answering check_nrpe as the plugin did.",
    ),
    (Section::Spool, "SPOOL", "spool: bounds of the NSCA spool."),
    (
        Section::Python,
        "PYTHON",
        "python: the shim running Module: and Parser:.",
    ),
];

/// The page's roff text.
pub fn page() -> Vec<u8> {
    let mut r = Roff::new();
    r.control("TH", ["smokerd.yaml", "5"]);
    r.control("SH", ["NAME"]);
    r.text([roman("smokerd.yaml - configuration of smokerd")]);
    r.control("SH", ["SYNOPSIS"]);
    r.text([bold("/etc/smokerd/smokerd.yaml")]);
    r.control("SH", ["DESCRIPTION"]);
    r.text([roman(
        "The YAML file smokerd reads (smokerd -c FILE; without one, the embedded default \
         config). smokerd check-config reports every error at once as FILE:LINE:COL; on \
         reload a bad file keeps the running config. Strict sections (api, metrics, nrpe, \
         spool, python, Nsca, Icinga2) reject unknown keys.",
    )]);
    r.control("PP", []);
    r.text([roman(
        "Commands take %(Key)s substitution from the plugin's parameters (escaped for the \
         shell in Command:, raw in Argv: and Builtin:). A % followed by neither ( nor % is \
         literal, so Nagios commands paste in unchanged (check_disk -w 10% -c 5%); %% also \
         means %.",
    )]);
    for (section, title, about) in SECTIONS {
        r.control("SH", [title]);
        r.text([roman(about)]);
        for key in keys::all().filter(|k| k.section == section) {
            r.control("TP", []);
            r.text([bold(key.name)]);
            r.text([roman(key.about)]);
        }
    }
    builtins(&mut r);
    r.control("SH", ["SEE ALSO"]);
    r.text([
        italic("smokerd"),
        roman("(1), "),
        italic("smokerd-check-config"),
        roman("(1), "),
        italic("smokerd-import-nrpe"),
        roman("(1), /usr/share/doc/smoker/examples/example-full.yaml"),
    ]);
    r.render().into_bytes()
}

fn builtins(r: &mut Roff) {
    r.control("SH", ["BUILT-IN CHECKS"]);
    r.text([roman(
        "Builtin: runs one of these monitoring plugins inside smokerd, with the plugin's \
         own name and flags (a list, or a string split like shell words without \
         expansion): no plugin package, no process. State, status line and perfdata \
         (labels, units, warn/crit/min/max) are those of monitoring-plugins 2.3. A flag \
         outside the set, a bad range, or uid/gid on a built-in is a config error. \
         Timeout applies; calls that can hang (statvfs, connect) run on their own threads.",
    )]);
    for entry in crate::builtin::catalogue() {
        r.control("TP", []);
        r.text([bold(entry.name)]);
        r.text([roman(entry.about)]);
        r.control("br", []);
        r.text([roman("Flags: "), roman(entry.flags)]);
    }
    r.control("PP", []);
    r.text([roman(
        "Example: root: {Builtin: \"check_disk -w 10% -c 5% -p /\", Interval: 300}",
    )]);
}

#[cfg(test)]
mod tests {
    #[test]
    fn lists_every_key_and_builtin() {
        let page = String::from_utf8(super::page()).unwrap();
        let entry = |name: &str| format!("\n\\fB{}\\fR\n", name.replace('-', "\\-"));
        for key in crate::config::load::keys::all() {
            assert!(page.contains(&entry(key.name)), "{}", key.name);
        }
        for name in crate::builtin::NAMES {
            assert!(page.contains(&entry(name)), "{name}");
        }
        assert!(page.contains("\\-m (\\-\\-metric)"), "{page}");
        assert!(page.contains("\\fBbuiltins\\fR"), "{page}");
    }
}
