//! What a plugin runs: `Command` (shell template), `Argv` (no shell), `Module` and
//! `Parser` (Python, through the shim), their combinations, and the `%(Name)s`
//! substitution into the final [`Command`].

use indexmap::IndexMap;
use serde_json::Value;

use super::draft::Fields;
use crate::{
    check::{Command, State},
    config::{
        load::{
            ctx::Ctx,
            values::{expected, want_str},
        },
        subst::{self, SubstError},
        yaml::{Kind, Node},
    },
};

/// The command keys as read (each with its node).
pub struct CommandKeys<'a> {
    command: Option<(String, &'a Node)>,
    module: Option<(String, &'a Node)>,
    parser: Option<(String, &'a Node)>,
    argv: Option<(Vec<String>, &'a Node)>,
}

/// Reads `Command`, `Module`, `Parser` and `Argv` and checks how they combine.
pub fn read_command<'a>(ctx: &mut Ctx, f: &Fields<'_, 'a>) -> CommandKeys<'a> {
    let keys = CommandKeys {
        command: non_empty_str(ctx, f, "Command"),
        module: non_empty_str(ctx, f, "Module"),
        parser: non_empty_str(ctx, f, "Parser"),
        argv: read_argv(ctx, f),
    };
    check_combination(ctx, f, &keys);
    keys
}

fn non_empty_str<'a>(ctx: &mut Ctx, f: &Fields<'_, 'a>, key: &str) -> Option<(String, &'a Node)> {
    let n = f.node(key)?;
    match &n.kind {
        Kind::Str(s) if s.trim().is_empty() => None,
        Kind::Str(s) => Some((s.clone(), n)),
        _ => {
            let e = want_str(n, "a string").err();
            ctx.err(
                &n.pos,
                f.path(key),
                e.unwrap_or_else(|| expected("a string", n)),
            );
            None
        }
    }
}

fn read_argv<'a>(ctx: &mut Ctx, f: &Fields<'_, 'a>) -> Option<(Vec<String>, &'a Node)> {
    let n = f.node("Argv")?;
    let items = match &n.kind {
        Kind::Seq(items) if items.is_empty() => {
            ctx.err(&n.pos, f.path("Argv"), "must not be empty");
            return None;
        }
        Kind::Seq(items) => items,
        _ => {
            let what = expected("a list of strings", n);
            ctx.err(&n.pos, f.path("Argv"), what);
            return None;
        }
    };
    let mut out = Vec::new();
    for i in items {
        match &i.kind {
            Kind::Str(s) => out.push(s.clone()),
            Kind::Int(_) | Kind::Float(_) | Kind::Bool(_) => out.push(i.key_text()),
            _ => ctx.err(
                &i.pos,
                f.path("Argv"),
                format!("items must be strings, found {}", i.type_name()),
            ),
        }
    }
    Some((out, n))
}

/// Exactly one of Command, Argv, Module; Parser only with a command.
fn check_combination(ctx: &mut Ctx, f: &Fields<'_, '_>, k: &CommandKeys<'_>) {
    let clash = match (&k.command, &k.argv, &k.module) {
        (Some(_), Some((_, a)), _) => Some((
            Some("Argv"),
            &a.pos,
            "Command and Argv cannot be set together",
        )),
        (Some(_), None, Some((_, m))) => Some((
            Some("Module"),
            &m.pos,
            "Command and Module parameters cannot be set together",
        )),
        (None, Some(_), Some((_, m))) => Some((
            Some("Module"),
            &m.pos,
            "Argv and Module cannot be set together",
        )),
        (None, None, None)
            if !f.present("Command") && !f.present("Argv") && !f.present("Module") =>
        {
            let message = "Command, Argv or Module has to be set";
            Some((None, &f.draft.key.pos, message))
        }
        _ => None,
    };
    if let Some((key, pos, message)) = clash {
        let path = key.map_or_else(|| f.path.clone(), |key| f.path(key));
        ctx.err(pos, path, message);
    }
    if let Some((_, p)) = &k.parser
        && !f.present("Command")
        && !f.present("Argv")
    {
        let message = "Parser can be used only with Command";
        ctx.err(&p.pos, f.path("Parser"), message);
    }
}

/// The command with `%(Name)s` substituted; `None` after a fatal substitution error.
pub fn build_command(
    ctx: &mut Ctx,
    f: &Fields<'_, '_>,
    k: &CommandKeys<'_>,
    parameters: &IndexMap<String, Value>,
) -> Option<Command> {
    let lookup = |key: &str| parameters.get(key).cloned();
    let mut command = Command::Invalid {
        state: State::Unknown,
        text: String::new(),
    };
    if let Some((template, n)) = &k.command {
        command = shell_command(ctx, f, template, n, &lookup)?;
    } else if let Some((items, n)) = &k.argv {
        command = argv_command(ctx, f, items, n, &lookup);
    }
    for (key, found) in [("Module", &k.module), ("Parser", &k.parser)] {
        if let Some((module, n)) = found {
            let used = (n.pos.clone(), f.path(key), module.clone());
            ctx.python_uses.push(used);
        }
    }
    if let Some((module, _)) = &k.module {
        command = Command::Python {
            module: module.clone(),
        };
    }
    Some(command)
}

impl CommandKeys<'_> {
    /// The `Parser:` module, if any.
    pub fn parser(&self) -> Option<&str> {
        self.parser.as_ref().map(|(p, _)| p.as_str())
    }
}

/// A `%(Name)s` naming no parameter: a warning, and every run is an error.
fn missing(ctx: &mut Ctx, f: &Fields<'_, '_>, n: &Node, key: &str, name: &str) -> Command {
    let message = format!("%({name})s names no parameter; every run will be ERROR");
    ctx.warn(&n.pos, &f.path(key), message);
    Command::Invalid {
        state: State::Critical,
        text: format!("Missing parameter {name}"),
    }
}

fn shell_command(
    ctx: &mut Ctx,
    f: &Fields<'_, '_>,
    template: &str,
    n: &Node,
    lookup: &dyn Fn(&str) -> Option<Value>,
) -> Option<Command> {
    match subst::substitute(template, lookup) {
        Ok(text) => Some(Command::Shell(text)),
        Err(SubstError::Missing(key)) => Some(missing(ctx, f, n, "Command", &key)),
        Err(SubstError::Newline(key)) => {
            let pos = f
                .draft
                .params
                .get(&key)
                .and_then(|e| e.node)
                .map_or(&n.pos, |v| &v.pos);
            let message = "contains a newline, which cannot be substituted into Command";
            ctx.err(pos, f.path(&key), message);
            None
        }
        Err(e) => {
            ctx.err(&n.pos, f.path("Command"), e);
            None
        }
    }
}

fn argv_command(
    ctx: &mut Ctx,
    f: &Fields<'_, '_>,
    items: &[String],
    n: &Node,
    lookup: &dyn Fn(&str) -> Option<Value>,
) -> Command {
    let mut out = Vec::new();
    for item in items {
        match subst::substitute_raw(item, lookup) {
            Ok(s) => out.push(s),
            Err(SubstError::Missing(key)) => return missing(ctx, f, n, "Argv", &key),
            Err(e) => {
                ctx.err(&n.pos, f.path("Argv"), e);
                break;
            }
        }
    }
    Command::Argv(out)
}
