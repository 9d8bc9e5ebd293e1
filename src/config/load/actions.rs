//! The `actions:` section and `default_actions`. Each entry is read by the reader of
//! its kind, chosen in [`read_kind`] from [`KINDS`]: `Command` (a shell template),
//! `Module` (Python, through the shim), `Nsca` (native sender, see `nsca`) or `Icinga2`
//! (Icinga 2's REST API, see `icinga2`); an entry with none is an error. A new kind is
//! one reader plus one line in [`KINDS`] (and its keys in `keys`).

use std::time::Duration;

use indexmap::IndexMap;
use serde_json::{Value, json};

use super::{
    ctx::{Ctx, field, join},
    icinga2::read_icinga2,
    nsca::read_nsca,
    values::{expected, want_seconds, want_str, want_str_list},
};
use crate::config::{
    plan::{ActionKind, ActionSpec},
    subst,
    yaml::{Kind, Node},
};

/// The action maps by name, as written (for `parameters.Action` of plugins).
pub type ActionMaps<'a> = IndexMap<String, &'a Node>;

/// What a kind's reader made of its key.
enum Read {
    /// Empty or of the wrong type (reported): the key does not select this kind.
    Absent,
    /// Selects this kind but has errors (reported).
    Invalid,
    Kind(ActionKind),
}

/// A kind's reader: the key's node, its path, the action's `Timeout`.
type Reader = fn(&mut Ctx, &Node, &str, Duration) -> Read;

/// The action kinds, by the key that selects them, in the order a clash names them.
const KINDS: &[(&str, Reader)] = &[
    ("Command", read_command),
    ("Module", read_module),
    ("Nsca", read_nsca_kind),
    ("Icinga2", read_icinga2_kind),
];

/// `actions:`: the valid actions into `actions`; every map by name (valid or not).
pub fn read_actions<'a>(
    ctx: &mut Ctx,
    node: &'a Node,
    actions: &mut IndexMap<String, std::sync::Arc<ActionSpec>>,
) -> ActionMaps<'a> {
    let mut maps = ActionMaps::new();
    if node.as_map().is_none() {
        let what = expected("a mapping of action names to settings", node);
        ctx.err(&node.pos, "actions", what);
        return maps;
    }
    for (name, _k, value) in ctx.entries(node, "actions") {
        if let Some(spec) = read_action(ctx, name, value, &join("actions", name)) {
            actions.insert(name.to_string(), std::sync::Arc::new(spec));
        }
        maps.insert(name.to_string(), value);
    }
    maps
}

/// `default_actions`: names of `actions:` entries.
pub fn read_default_actions(ctx: &mut Ctx, node: &Node, maps: &ActionMaps<'_>) -> Vec<String> {
    let Some(names) = ctx.take(node, "default_actions", want_str_list(node)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (name, n) in names {
        if !maps.contains_key(&name) {
            ctx.err(&n.pos, "default_actions", unknown_action(&name, maps));
        }
        out.push(name);
    }
    out
}

/// `unknown action NAME (known: …)`.
pub fn unknown_action(name: &str, actions: &ActionMaps<'_>) -> String {
    if actions.is_empty() {
        format!("unknown action {name} (no actions: section)")
    } else {
        let known: Vec<&str> = actions.keys().map(String::as_str).collect();
        format!("unknown action {name} (known: {})", known.join(", "))
    }
}

/// The action map as `parameters.Action` shows it: `{Command: null, Module: null, Timeout: 60}` ⊕ map.
pub fn action_params(map: &Node) -> IndexMap<String, Value> {
    let mut params = IndexMap::new();
    params.insert("Command".to_string(), Value::Null);
    params.insert("Module".to_string(), Value::Null);
    params.insert("Timeout".to_string(), json!(60));
    if let Some(entries) = map.as_map() {
        for (k, v) in entries {
            params.insert(k.key_text(), v.to_json());
        }
    }
    params
}

/// The `%(Name)s` an action's templates use (such keys are parameters, not typos).
pub fn placeholders(kind: &ActionKind) -> Vec<String> {
    match kind {
        ActionKind::Command { template, .. } => subst::placeholders(template),
        ActionKind::Nsca(n) => subst::placeholders(&n.service),
        ActionKind::Icinga2(i) => subst::placeholders(&i.service),
        ActionKind::Module { .. } => Vec::new(),
    }
}

fn read_action(ctx: &mut Ctx, name: &str, node: &Node, path: &str) -> Option<ActionSpec> {
    let empty;
    let node = if node.is_null() {
        empty = Node {
            pos: node.pos.clone(),
            kind: Kind::Map(Vec::new()),
        };
        &empty
    } else {
        node
    };
    if node.as_map().is_none() {
        let what = expected("a mapping with Command, Module, Nsca or Icinga2", node);
        ctx.err(&node.pos, path, what);
        return None;
    }
    let errors_before = ctx.error_count();
    let mut timeout = Duration::from_secs(60);
    if let Some(n) = field(node, "Timeout") {
        match ctx.take(n, join(path, "Timeout"), want_seconds(n)) {
            Some(0.0) => ctx.err(&n.pos, join(path, "Timeout"), "must be greater than 0"),
            Some(s) => timeout = Duration::from_secs_f64(s),
            None => {}
        }
    }
    let kind = read_kind(ctx, node, path, timeout)?;
    (ctx.error_count() == errors_before).then(|| ActionSpec {
        name: name.to_string(),
        kind,
        parameters: action_params(node),
    })
}

/// The one place a kind is chosen: every kind key set is read; more than one is an
/// error at the second; none is an error naming the kinds.
fn read_kind(ctx: &mut Ctx, node: &Node, path: &str, timeout: Duration) -> Option<ActionKind> {
    let mut set: Vec<(&str, &Node, Option<ActionKind>)> = Vec::new();
    for (key, reader) in KINDS {
        let Some(n) = field(node, key) else { continue };
        match reader(ctx, n, &join(path, key), timeout) {
            Read::Absent => {}
            Read::Invalid => set.push((key, n, None)),
            Read::Kind(kind) => set.push((key, n, Some(kind))),
        }
    }
    if set.len() > 1 {
        let names: Vec<&str> = set.iter().map(|(k, _, _)| *k).collect();
        let (key, n, _) = &set[1];
        let message = format!("{} cannot be set together", names.join(" and "));
        ctx.err(&n.pos, join(path, key), message);
    }
    match set.pop() {
        None => {
            no_kind(ctx, node, path);
            None
        }
        Some((_, _, kind)) => kind,
    }
}

/// An action without a kind would fail every run: an error naming the known kinds, at
/// the key that is nearest to one of them (`Nscaa:`) when there is one.
fn no_kind(ctx: &mut Ctx, node: &Node, path: &str) {
    let kinds: Vec<&str> = KINDS.iter().map(|(k, _)| *k).collect();
    let known = kinds.join(", ");
    let near = node.as_map().into_iter().flatten().find_map(|(k, _)| {
        let name = k.as_str()?;
        let kind = kinds
            .iter()
            .find(|kind| name != **kind && strsim::levenshtein(name, kind) <= 2)?;
        Some((k, name, *kind))
    });
    match near {
        Some((k, name, kind)) => ctx.err(
            &k.pos,
            join(path, name),
            format!("unknown action kind; did you mean {kind}? (known kinds: {known})"),
        ),
        None => ctx.err(
            &node.pos,
            path,
            format!("no action kind set: give one of {known} (a non-empty value)"),
        ),
    }
}

/// A non-empty string (an empty one selects nothing).
fn non_empty<'a>(ctx: &mut Ctx, n: &'a Node, path: &str, what: &'static str) -> Option<&'a str> {
    ctx.take(n, path, want_str(n, what))
        .filter(|s| !s.trim().is_empty())
}

fn read_command(ctx: &mut Ctx, n: &Node, path: &str, timeout: Duration) -> Read {
    let Some(template) = non_empty(ctx, n, path, "a command string") else {
        return Read::Absent;
    };
    match subst::check_syntax(template) {
        Ok(()) => Read::Kind(ActionKind::Command {
            template: template.to_string(),
            timeout,
        }),
        Err(e) => {
            ctx.err(&n.pos, path, e);
            Read::Invalid
        }
    }
}

fn read_module(ctx: &mut Ctx, n: &Node, path: &str, timeout: Duration) -> Read {
    match non_empty(ctx, n, path, "a module path") {
        Some(module) => Read::Kind(ActionKind::Module {
            module: module.to_string(),
            timeout,
        }),
        None => Read::Absent,
    }
}

fn read_nsca_kind(ctx: &mut Ctx, n: &Node, path: &str, _timeout: Duration) -> Read {
    match read_nsca(ctx, n, path) {
        Some(settings) => Read::Kind(ActionKind::Nsca(settings)),
        None => Read::Invalid,
    }
}

fn read_icinga2_kind(ctx: &mut Ctx, n: &Node, path: &str, _timeout: Duration) -> Read {
    match read_icinga2(ctx, n, path) {
        Some(settings) => Read::Kind(ActionKind::Icinga2(Box::new(settings))),
        None => Read::Invalid,
    }
}
