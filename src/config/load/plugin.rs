//! `templates:` and `plugins:`: each plugin's effective parameters (see `draft`), the
//! typo warnings for their keys (D4), then every group of keys read by its reader
//! (`command`, `execution`, `output`, `schedule`) into a [`CheckSpec`].

mod command;
pub mod draft;
mod execution;
mod output;
mod schedule;

use std::{collections::HashSet, sync::Arc};

use serde_json::Value;

use self::{
    command::{build_command, read_command},
    draft::{Fields, PluginDraft, Templates, resolve_plugin},
    execution::read_execution,
    output::read_output,
    schedule::read_schedule,
};
use super::{
    actions::ActionMaps,
    ctx::{Ctx, join},
    keys::{self, Section},
    values::expected,
};
use crate::{
    check::{CheckSpec, Params, PythonPart},
    config::yaml::{Kind, Node},
    python::settings::PythonSettings,
};

/// `templates:`; `empty` stands for a null template.
pub fn read_templates<'a>(ctx: &mut Ctx, node: &'a Node, empty: &'a Node) -> Templates<'a> {
    let mut templates = Templates::new();
    if node.as_map().is_none() {
        let what = expected("a mapping of template names to settings", node);
        ctx.err(&node.pos, "templates", what);
        return templates;
    }
    for (name, _k, value) in ctx.entries(node, "templates") {
        match &value.kind {
            Kind::Map(_) => {
                templates.insert(name.to_string(), value);
            }
            Kind::Null => {
                templates.insert(name.to_string(), empty);
            }
            _ => ctx.err(
                &value.pos,
                join("templates", name),
                expected("a mapping", value),
            ),
        }
    }
    templates
}

/// `plugins:`: the drafts of the enabled plugins whose templates resolve.
pub fn read_plugins<'a>(
    ctx: &mut Ctx,
    node: &'a Node,
    templates: &Templates<'a>,
    action_maps: &ActionMaps<'a>,
) -> Vec<PluginDraft<'a>> {
    if node.as_map().is_none() {
        let what = expected("a mapping of plugin names to settings", node);
        ctx.err(&node.pos, "plugins", what);
        return Vec::new();
    }
    let mut drafts = Vec::new();
    for (name, k, value) in ctx.entries(node, "plugins") {
        if value.as_map().is_none() {
            let what = expected("a mapping of plugin settings", value);
            ctx.err(&value.pos, join("plugins", name), what);
            continue;
        }
        if let Some(draft) = resolve_plugin(ctx, (name, k, value), templates, action_maps) {
            drafts.push(draft);
        }
    }
    drafts
}

/// D4: a template or plugin key that is no known key, used by no `%(Name)s`, and
/// within edit distance 2 of a known key is probably a typo: a warning, or an error
/// when it is a near miss of a schedule key of a plugin that would then never be
/// scheduled (`Intervall: 60` and no `Interval` or `Schedule`).
pub fn warn_typos(
    ctx: &mut Ctx,
    templates: &Templates<'_>,
    drafts: &[PluginDraft<'_>],
    names_used: &HashSet<String>,
) {
    let mut maps: Vec<(String, &Node, bool)> = templates
        .iter()
        .map(|(n, m)| (join("templates", n), *m, false))
        .collect();
    maps.extend(
        drafts
            .iter()
            .map(|d| (join("plugins", &d.name), d.map, !is_scheduled(d))),
    );
    for (path, map, unscheduled) in maps {
        for (key, k, _) in ctx.entries(map, &path) {
            if keys::is_known(Section::Plugin, key) || names_used.contains(key) {
                continue;
            }
            let Some(c) = keys::closest(key, Section::Plugin) else {
                continue;
            };
            if unscheduled && SCHEDULE_KEYS.contains(&c) {
                let message = format!(
                    "unknown key; did you mean {c}? Without Interval or Schedule the check \
                     never runs on its own"
                );
                ctx.err(&k.pos, join(&path, key), message);
            } else {
                let message = format!("unknown key, used as a parameter; did you mean {c}?");
                ctx.warn(&k.pos, &join(&path, key), message);
            }
        }
    }
}

/// The keys that make a plugin run on its own.
const SCHEDULE_KEYS: &[&str] = &["Interval", "Schedule"];

/// Whether a draft has an effective `Interval` or `Schedule` (of any value: a wrong
/// one is reported by its reader).
fn is_scheduled(d: &PluginDraft<'_>) -> bool {
    SCHEDULE_KEYS.iter().any(|key| {
        d.params
            .get(*key)
            .is_some_and(|e| !e.value.is_null() && e.value != Value::Bool(false) && e.value != 0)
    })
}

/// The check of a draft, or `None` when any of its keys has an error (all reported).
pub fn finish_plugin(
    ctx: &mut Ctx,
    d: PluginDraft<'_>,
    default_actions: &[String],
) -> Option<CheckSpec> {
    let before = ctx.error_count();
    let f = Fields::new(&d);
    let command_keys = read_command(ctx, &f);
    let execution = read_execution(ctx, &f);
    let output = read_output(ctx, &f);
    let schedule_keys = read_schedule(ctx, &f);
    // Effective parameters (JSON) for the API and for substitution.
    let parameters =
        Params::from_unique(d.params.iter().map(|(k, e)| (k.clone(), e.value.clone())));
    let command = build_command(ctx, &f, &command_keys, &parameters)?;
    if ctx.error_count() != before {
        return None;
    }
    let (catch_up, overlap) = (schedule_keys.catch_up, schedule_keys.overlap);
    let schedule = schedule_keys.schedule(&f);
    Some(CheckSpec {
        name: d.name.clone(),
        command,
        schedule,
        timeout: execution.timeout,
        timeout_state: output.timeout_state,
        history: output.history,
        exit_codes: output.exit_codes,
        max_output: execution.max_output as usize,
        env: execution.env,
        uid: execution.uid,
        gid: execution.gid,
        working_dir: execution.working_dir,
        actions: d
            .actions
            .clone()
            .unwrap_or_else(|| default_actions.to_vec()),
        action_on: output.action_on,
        parameters,
        catch_up,
        overlap,
        python: command_keys.parser().map(|parser| {
            Arc::new(PythonPart {
                parser: Some(parser.to_string()),
                settings: PythonSettings::default(),
            })
        }),
    })
}
