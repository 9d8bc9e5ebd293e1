//! The `python:` section (strict) and the load-time Python checks: every check that
//! runs Python gets the settings, the interpreter is resolved and probed with every
//! configured module, and problems become FILE:LINE:COL warnings (python.md §3.3,
//! §3.10, §3.11). The rest of the config runs; affected runs are UNKNOWN.

use std::{path::Path, sync::Arc};

use super::{
    ctx::{Ctx, field, join},
    keys::Section,
    values::{expected, want_path, want_seconds, want_size, want_str, want_uint},
};
use crate::{
    check::{Command, PythonPart},
    config::{
        plan::{ActionKind, Plan},
        yaml::{Node, Pos},
    },
    python::{probe, settings::PythonSettings},
};

/// `python:`, paths relative to `base_dir`.
pub fn read_python(ctx: &mut Ctx, node: &Node, base_dir: &Path) -> PythonSettings {
    let mut python = PythonSettings::default();
    if node.as_map().is_none() {
        ctx.err(&node.pos, "python", expected("a mapping", node));
        return python;
    }
    ctx.strict_keys(node, "python", Section::Python);
    let path = |key: &str| join("python", key);
    if let Some(n) = field(node, "interpreter")
        && let Some(s) = ctx.take(n, path("interpreter"), want_str(n, "a path or name"))
    {
        python.interpreter = s.into();
    }
    if let Some(n) = field(node, "path")
        && let Some(list) = ctx.take(n, path("path"), super::values::want_str_list(n))
    {
        python.path = list.into_iter().map(|(p, _)| base_dir.join(p)).collect();
    }
    if let Some(n) = field(node, "max_concurrent")
        && let Some(v) = ctx.take(n, path("max_concurrent"), want_uint(n, 1))
    {
        python = PythonSettings {
            max_concurrent: v as usize,
            permits: Arc::new(tokio::sync::Semaphore::new(v as usize)),
            ..python
        };
    }
    if let Some(n) = field(node, "max_memory")
        && let Some(v) = ctx.take(n, path("max_memory"), want_size(n))
    {
        python.max_memory = v;
    }
    if let Some(n) = field(node, "timeout_grace")
        && let Some(v) = ctx.take(n, path("timeout_grace"), want_seconds(n))
    {
        python.timeout_grace = std::time::Duration::from_secs_f64(v);
    }
    if let Some(n) = field(node, "shim_dir")
        && let Some(p) = ctx.take(n, path("shim_dir"), want_path(n))
    {
        python.shim_dir = Some(base_dir.join(p));
    }
    python
}

/// Gives every check that runs Python (a `Module:`, a `Parser:` or a `Module:` action)
/// the settings, then probes the set-up when any does.
pub fn attach(ctx: &mut Ctx, plan: &mut Plan, mut settings: PythonSettings, at: &Pos) {
    settings.state_dir = plan.state_dir.clone();
    let mut used = !ctx.python_uses.is_empty();
    for (name, action) in &plan.actions {
        if let ActionKind::Module { module, .. } = &action.kind {
            let path = join(&join("actions", name), "Module");
            ctx.python_uses.push((at.clone(), path, module.clone()));
            used = true;
        }
    }
    if !used {
        return;
    }
    check_setup(ctx, &mut settings, at);
    for check in &mut plan.checks {
        let module_action = check.actions.iter().any(|a| {
            plan.actions
                .get(a)
                .is_some_and(|s| matches!(s.kind, ActionKind::Module { .. }))
        });
        let python = matches!(check.command, Command::Python { .. })
            || check.python.is_some()
            || module_action;
        if python && let Some(spec) = Arc::get_mut(check) {
            let parser = spec.python.as_ref().and_then(|p| p.parser.clone());
            let settings = settings.clone();
            spec.python = Some(Arc::new(PythonPart { parser, settings }));
        }
    }
}

/// Resolves the interpreter, probes it with every module, warns on writable `path`s.
fn check_setup(ctx: &mut Ctx, settings: &mut PythonSettings, at: &Pos) {
    for problem in probe::writable_path_dirs(settings) {
        ctx.warn(at, "python.path", problem);
    }
    let uses = std::mem::take(&mut ctx.python_uses);
    let first = uses
        .first()
        .map(|(pos, path, _)| (pos.clone(), path.clone()));
    let interpreter = settings.interpreter.to_string_lossy().into_owned();
    match probe::resolve_interpreter(&interpreter) {
        Ok(found) => settings.interpreter = found,
        Err(problem) => {
            if let Some((pos, path)) = first {
                ctx.warn(&pos, &path, problem);
            }
            return;
        }
    }
    let modules: Vec<String> = uses.iter().map(|(_, _, m)| m.clone()).collect();
    match probe::run(settings, &modules) {
        Ok(found) => {
            for (pos, path, module) in &uses {
                if let Some((_, error)) = found.missing.iter().find(|(m, _)| m == module) {
                    ctx.warn(pos, path, error);
                } else if let Some(problem) = found.unsafe_file(module) {
                    let message =
                        format!("{problem}: anyone who can write it can run code in this check");
                    ctx.warn(pos, path, message);
                }
            }
        }
        Err(problem) => {
            if let Some((pos, path)) = first {
                ctx.warn(&pos, &path, problem);
            }
        }
    }
}
