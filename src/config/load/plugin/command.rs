//! What a plugin runs: `Command` (shell template), `Argv` (no shell), `Builtin`
//! (a check inside smokerd, see [`crate::builtin`]), `Module` and
//! `Parser` (Python, through the shim), their combinations, and the `%(Name)s`
//! substitution into the final [`Command`].

use serde_json::Value;

use super::draft::Fields;
use crate::{
    check::{Command, Params, State},
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
    builtin: Option<(Vec<String>, &'a Node)>,
}

/// Reads `Command`, `Module`, `Parser` and `Argv` and checks how they combine.
pub fn read_command<'a>(ctx: &mut Ctx, f: &Fields<'_, 'a>) -> CommandKeys<'a> {
    let keys = CommandKeys {
        command: non_empty_str(ctx, f, "Command"),
        module: non_empty_str(ctx, f, "Module"),
        parser: non_empty_str(ctx, f, "Parser"),
        argv: read_list(ctx, f, "Argv"),
        builtin: read_builtin(ctx, f),
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

/// `Builtin:` as a list, or a string split like shell words (no expansion).
fn read_builtin<'a>(ctx: &mut Ctx, f: &Fields<'_, 'a>) -> Option<(Vec<String>, &'a Node)> {
    let n = f.node("Builtin")?;
    let Kind::Str(text) = &n.kind else {
        return read_list(ctx, f, "Builtin");
    };
    match shlex::split(text) {
        Some(words) if !words.is_empty() => Some((words, n)),
        Some(_) => {
            ctx.err(&n.pos, f.path("Builtin"), "must not be empty");
            None
        }
        None => {
            ctx.err(&n.pos, f.path("Builtin"), "unbalanced quotes");
            None
        }
    }
}

fn read_list<'a>(ctx: &mut Ctx, f: &Fields<'_, 'a>, key: &str) -> Option<(Vec<String>, &'a Node)> {
    let n = f.node(key)?;
    let items = match &n.kind {
        Kind::Seq(items) if items.is_empty() => {
            ctx.err(&n.pos, f.path(key), "must not be empty");
            return None;
        }
        Kind::Seq(items) => items,
        _ => {
            let what = expected("a list of strings", n);
            ctx.err(&n.pos, f.path(key), what);
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
                f.path(key),
                format!("items must be strings, found {}", i.type_name()),
            ),
        }
    }
    Some((out, n))
}

/// Exactly one of Command, Argv, Builtin, Module; Parser only with a command.
fn check_combination(ctx: &mut Ctx, f: &Fields<'_, '_>, k: &CommandKeys<'_>) {
    let set: Vec<(&str, &Node)> = [
        ("Command", k.command.as_ref().map(|c| c.1)),
        ("Argv", k.argv.as_ref().map(|c| c.1)),
        ("Builtin", k.builtin.as_ref().map(|c| c.1)),
        ("Module", k.module.as_ref().map(|c| c.1)),
    ]
    .into_iter()
    .filter_map(|(key, n)| n.map(|n| (key, n)))
    .collect();
    if let [(first, _), (second, n), ..] = set.as_slice() {
        let message = if (*first, *second) == ("Command", "Module") {
            "Command and Module parameters cannot be set together".to_string()
        } else {
            format!("{first} and {second} cannot be set together")
        };
        ctx.err(&n.pos, f.path(second), message);
    } else if set.is_empty()
        && !["Command", "Argv", "Builtin", "Module"]
            .iter()
            .any(|key| f.present(key))
    {
        let message = "Command, Argv, Builtin or Module has to be set";
        ctx.err(&f.draft.key.pos, f.path.clone(), message);
    }
    if let Some((_, p)) = &k.parser
        && !f.present("Command")
        && !f.present("Argv")
    {
        let message = "Parser can be used only with Command";
        ctx.err(&p.pos, f.path("Parser"), message);
    }
    if k.builtin.is_some() {
        for key in ["uid", "gid"] {
            if let Some(n) = f.node(key) {
                let message = "a Builtin check runs inside smokerd; uid/gid cannot apply";
                ctx.err(&n.pos, f.path(key), message);
            }
        }
    }
}

/// The command with `%(Name)s` substituted; `None` after a fatal substitution error.
pub fn build_command(
    ctx: &mut Ctx,
    f: &Fields<'_, '_>,
    k: &CommandKeys<'_>,
    parameters: &Params,
) -> Option<Command> {
    let lookup = |key: &str| parameters.get_json(key);
    let mut command = Command::Invalid {
        state: State::Unknown,
        text: String::new(),
    };
    if let Some((template, n)) = &k.command {
        command = shell_command(ctx, f, template, n, &lookup)?;
    } else if let Some((items, n)) = &k.argv {
        command = argv_command(ctx, f, (items, n, "Argv"), &lookup);
    } else if let Some((items, n)) = &k.builtin {
        command = builtin_command(ctx, f, items, n, &lookup)?;
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
                .get(key.as_str())
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
    (items, n, key): (&[String], &Node, &str),
    lookup: &dyn Fn(&str) -> Option<Value>,
) -> Command {
    let mut out = Vec::new();
    for item in items {
        match subst::substitute_raw(item, lookup) {
            Ok(s) => out.push(s),
            Err(SubstError::Missing(name)) => return missing(ctx, f, n, key, &name),
            Err(e) => {
                ctx.err(&n.pos, f.path(key), e);
                break;
            }
        }
    }
    Command::Argv(out)
}

/// `Builtin:` substituted like `Argv:` (a lone `%` is literal in both, D4), then parsed: a bad flag or range is an error.
fn builtin_command(
    ctx: &mut Ctx,
    f: &Fields<'_, '_>,
    items: &[String],
    n: &Node,
    lookup: &dyn Fn(&str) -> Option<Value>,
) -> Option<Command> {
    let before = ctx.error_count();
    let argv = match argv_command(ctx, f, (items, n, "Builtin"), lookup) {
        Command::Argv(_) if ctx.error_count() != before => return None,
        Command::Argv(argv) => argv,
        other => return Some(other),
    };
    match crate::builtin::Builtin::parse(&argv) {
        Ok(check) => Some(Command::Builtin(argv, std::sync::Arc::new(check))),
        Err(e) => {
            ctx.err(&n.pos, f.path("Builtin"), e);
            None
        }
    }
}
