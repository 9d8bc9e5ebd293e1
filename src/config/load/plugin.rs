//! Plugins: effective parameters (DEFAULTS ⊕ BasePlugin ⊕ Template ⊕ plugin map),
//! then every typed key read into a [`CheckSpec`], `%(Name)s` substituted.

use super::{
    sections::{action_params, check_principal, read_principal, unknown_action},
    values::*,
    *,
};

// ---------------------------------------------------------------------------------------
// Plugins

/// One effective parameter: its value and where it came from.
#[derive(Clone)]
pub(super) struct Eff<'a> {
    pub(super) value: Value,
    pub(super) node: Option<&'a Node>,
    /// 0 DEFAULTS, 1 BasePlugin, 2 Template, 3 plugin map.
    pub(super) layer: u8,
}

/// A plugin after template resolution, before its typed fields are read.
pub(super) struct PluginDraft<'a> {
    pub(super) name: String,
    pub(super) key: &'a Node,
    pub(super) map: &'a Node,
    pub(super) params: IndexMap<String, Eff<'a>>,
    /// Per layer (Base, Template, plugin): the map, for the Interval+Schedule check.
    pub(super) layers: Vec<&'a Node>,
    pub(super) actions: Option<Vec<String>>,
    pub(super) placeholders: Vec<String>,
}

pub(super) fn resolve_plugin<'a>(
    ctx: &mut Ctx,
    name: &str,
    key: &'a Node,
    map: &'a Node,
    templates: &IndexMap<String, &'a Node>,
    action_maps: &IndexMap<String, &'a Node>,
) -> Option<PluginDraft<'a>> {
    let path = join("plugins", name);
    let mut params: IndexMap<String, Eff<'a>> = IndexMap::new();
    for k in DEFAULT_KEYS {
        params.insert(
            k.to_string(),
            Eff {
                value: default_value(k),
                node: None,
                layer: 0,
            },
        );
    }
    let mut layers = Vec::new();
    let base = templates.get("BasePlugin").copied();
    let template_node = map
        .get("Template")
        .or_else(|| base.and_then(|b| b.get("Template")))
        .filter(|n| !n.is_null());
    let template = match template_node {
        None => None,
        Some(n) => match n.as_str() {
            Some(t) => match templates.get(t) {
                Some(m) => Some(*m),
                None => {
                    let known: Vec<&str> = templates.keys().map(String::as_str).collect();
                    let msg = if known.is_empty() {
                        format!("unknown template {t} (no templates: section)")
                    } else {
                        format!("unknown template {t} (known: {})", known.join(", "))
                    };
                    ctx.err(&n.pos, join(&path, "Template"), msg);
                    return None;
                }
            },
            None => {
                ctx.err(
                    &n.pos,
                    join(&path, "Template"),
                    expected("a template name", n),
                );
                return None;
            }
        },
    };
    for (layer, m) in [(1u8, base), (2, template), (3, Some(map))] {
        let Some(m) = m else { continue };
        layers.push(m);
        for (k, v) in m.as_map().unwrap_or_default() {
            let Some(key_name) = k.as_str() else { continue };
            params.insert(
                key_name.to_string(),
                Eff {
                    value: v.to_json(),
                    node: Some(v),
                    layer,
                },
            );
        }
    }

    // Enabled (Q12: honoured from templates too); only a boolean false disables.
    if let Some(Eff { node: Some(n), .. }) = params.get("Enabled") {
        match n.kind {
            Kind::Bool(false) => return None,
            Kind::Bool(true) | Kind::Null => {}
            _ => {
                ctx.err(&n.pos, join(&path, "Enabled"), expected("a boolean", n));
            }
        }
    }

    // Action: str | [str] | null; `[]` = none; replaced in parameters by the action map(s).
    let mut resolved_actions = None;
    if let Some(Eff { node: Some(n), .. }) = params.get("Action").cloned()
        && !n.is_null()
    {
        match want_str_list(n) {
            Ok(list) => {
                let mut shown = Vec::new();
                let mut names = Vec::new();
                for (a, item) in list {
                    match action_maps.get(&a) {
                        Some(m) => {
                            shown.push(Value::Object(action_params(m).into_iter().collect()));
                            names.push(a);
                        }
                        None => ctx.err(
                            &item.pos,
                            join(&path, "Action"),
                            unknown_action(&a, action_maps),
                        ),
                    }
                }
                let value = if matches!(n.kind, Kind::Str(_)) {
                    shown.pop().unwrap_or(Value::Null)
                } else {
                    Value::Array(shown)
                };
                if let Some(e) = params.get_mut("Action") {
                    e.value = value;
                }
                resolved_actions = Some(names);
            }
            Err(msg) => ctx.err(&n.pos, join(&path, "Action"), msg),
        }
    }

    let mut placeholders = Vec::new();
    if let Some(Eff {
        value: Value::String(c),
        ..
    }) = params.get("Command")
    {
        placeholders.extend(subst::placeholders(c));
    }
    if let Some(Eff {
        value: Value::Array(items),
        ..
    }) = params.get("Argv")
    {
        for i in items {
            if let Value::String(s) = i {
                placeholders.extend(subst::placeholders(s));
            }
        }
    }
    Some(PluginDraft {
        name: name.to_string(),
        key,
        map,
        params,
        layers,
        actions: resolved_actions,
        placeholders,
    })
}

pub(super) fn finish_plugin(
    ctx: &mut Ctx,
    d: PluginDraft<'_>,
    default_actions: &[String],
) -> Option<CheckSpec> {
    let path = join("plugins", &d.name);
    let before = ctx.errors.len();
    // A set (non-null) parameter node.
    let node = |key: &str| {
        d.params
            .get(key)
            .and_then(|e| e.node)
            .filter(|n| !n.is_null())
    };
    let kpath = |key: &str| join(&path, key);

    let non_empty_str = |ctx: &mut Ctx, key: &str| -> Option<(String, &Node)> {
        let n = node(key)?;
        match &n.kind {
            Kind::Str(s) if s.trim().is_empty() => None,
            Kind::Str(s) => Some((s.clone(), n)),
            _ => {
                ctx.err(&n.pos, kpath(key), expected("a string", n));
                None
            }
        }
    };
    let command = non_empty_str(ctx, "Command");
    let module = non_empty_str(ctx, "Module");
    let parser = non_empty_str(ctx, "Parser");
    let argv: Option<(Vec<String>, &Node)> = node("Argv").and_then(|n| match &n.kind {
        Kind::Seq(items) if items.is_empty() => {
            ctx.err(&n.pos, kpath("Argv"), "must not be empty");
            None
        }
        Kind::Seq(items) => {
            let mut out = Vec::new();
            for i in items {
                match &i.kind {
                    Kind::Str(s) => out.push(s.clone()),
                    Kind::Int(_) | Kind::Float(_) | Kind::Bool(_) => out.push(i.key_text()),
                    _ => ctx.err(
                        &i.pos,
                        kpath("Argv"),
                        format!("items must be strings, found {}", i.type_name()),
                    ),
                }
            }
            Some((out, n))
        }
        _ => {
            ctx.err(&n.pos, kpath("Argv"), expected("a list of strings", n));
            None
        }
    });

    // Set at all (a wrong type is reported on its own, not as "missing").
    let present = |key: &str| {
        node(key).is_some_and(|n| !matches!(&n.kind, Kind::Str(s) if s.trim().is_empty()))
    };
    match (&command, &argv, &module) {
        (Some(_), Some((_, a)), _) => ctx.err(
            &a.pos,
            kpath("Argv"),
            "Command and Argv cannot be set together",
        ),
        (Some(_), None, Some((_, m))) => {
            ctx.err(
                &m.pos,
                kpath("Module"),
                "Command and Module parameters cannot be set together",
            );
        }
        (None, Some(_), Some((_, m))) => ctx.err(
            &m.pos,
            kpath("Module"),
            "Argv and Module cannot be set together",
        ),
        (None, None, None) if !present("Command") && !present("Argv") && !present("Module") => ctx
            .err(
                &d.key.pos,
                path.clone(),
                "Command, Argv or Module has to be set",
            ),
        _ => {}
    }
    if let Some((_, p)) = &parser
        && !present("Command")
        && !present("Argv")
    {
        ctx.err(
            &p.pos,
            kpath("Parser"),
            "Parser can be used only with Command",
        );
    }

    let mut spec_timeout = Duration::from_secs(1800);
    if let Some(n) = node("Timeout") {
        match want_seconds(n) {
            Ok(0.0) => ctx.err(&n.pos, kpath("Timeout"), "must be greater than 0"),
            Ok(s) => spec_timeout = Duration::from_secs_f64(s),
            Err(msg) => ctx.err(&n.pos, kpath("Timeout"), msg),
        }
    }
    let mut interval = 0.0;
    if let Some(n) = node("Interval") {
        match &n.kind {
            Kind::Bool(false) => {}
            _ => match want_seconds(n) {
                Ok(s) => interval = s,
                Err(msg) => ctx.err(&n.pos, kpath("Interval"), msg),
            },
        }
    }
    let mut history = 10;
    if let Some(n) = node("History") {
        match want_uint(n, 1) {
            Ok(h) => history = h as usize,
            Err(msg) => ctx.err(&n.pos, kpath("History"), msg),
        }
    }
    let mut principal = |key: &str| -> Option<Principal> {
        let n = node(key)?;
        read_principal(n)
            .and_then(|p| check_principal(key, p))
            .unwrap_or_else(|msg| {
                ctx.err(&n.pos, kpath(key), msg);
                None
            })
    };
    let uid = principal("uid");
    let gid = principal("gid");
    let mut timeout_state = State::Unknown;
    if let Some(n) = node("TimeoutState") {
        match n
            .as_str()
            .and_then(|s| State::parse(&s.to_ascii_uppercase()))
        {
            Some(s) => timeout_state = s,
            None => ctx.err(
                &n.pos,
                kpath("TimeoutState"),
                "must be one of OK, WARNING, CRITICAL, UNKNOWN",
            ),
        }
    }
    let mut exit_codes = ExitCodes::Nagios;
    if let Some(n) = node("ExitCodes") {
        match n.as_str().map(str::to_ascii_lowercase).as_deref() {
            Some("nagios") => exit_codes = ExitCodes::Nagios,
            Some("smoker") => exit_codes = ExitCodes::Smoker,
            _ => ctx.err(&n.pos, kpath("ExitCodes"), "must be nagios or smoker"),
        }
    }
    let mut max_output = DEFAULT_MAX_OUTPUT;
    if let Some(n) = node("MaxOutput") {
        match want_size(n) {
            Ok(0) => ctx.err(&n.pos, kpath("MaxOutput"), "must be greater than 0"),
            Ok(v) if v > 1 << 30 => ctx.err(&n.pos, kpath("MaxOutput"), "must be at most 1GiB"),
            Ok(v) => max_output = v,
            Err(msg) => ctx.err(&n.pos, kpath("MaxOutput"), msg),
        }
    }
    let mut splay = None;
    if let Some(n) = node("Splay") {
        match want_seconds(n) {
            Ok(s) => splay = Some(Duration::from_secs_f64(s)),
            Err(msg) => ctx.err(&n.pos, kpath("Splay"), msg),
        }
    }
    let mut env = Vec::new();
    if let Some(n) = node("Env") {
        match n.as_map() {
            Some(entries) => {
                for (k, v) in entries {
                    let Some(name) = k
                        .as_str()
                        .filter(|s| !s.is_empty() && !s.contains(['=', '\0']))
                    else {
                        ctx.err(
                            &k.pos,
                            kpath("Env"),
                            "variable names must be non-empty strings without '='",
                        );
                        continue;
                    };
                    let value = match &v.kind {
                        Kind::Str(s) => s.clone(),
                        Kind::Null => String::new(),
                        Kind::Bool(b) => b.to_string(),
                        Kind::Int(_) | Kind::Float(_) => v.key_text(),
                        _ => {
                            ctx.err(&v.pos, join(&kpath("Env"), name), expected("a scalar", v));
                            continue;
                        }
                    };
                    if value.contains('\0') {
                        ctx.err(&v.pos, join(&kpath("Env"), name), "must not contain NUL");
                        continue;
                    }
                    env.retain(|(k, _): &(String, String)| k != name);
                    env.push((name.to_string(), value));
                }
            }
            None => ctx.err(
                &n.pos,
                kpath("Env"),
                expected("a mapping of variable names to values", n),
            ),
        }
    }
    let working_dir = node("WorkingDir").and_then(|n| {
        want_path(n)
            .map_err(|msg| ctx.err(&n.pos, kpath("WorkingDir"), msg))
            .ok()
    });
    let mut action_on = Vec::new();
    if let Some(n) = node("ActionOn") {
        match want_str_list(n) {
            Ok(list) => {
                for (t, item) in list {
                    match t.to_ascii_uppercase().as_str() {
                        "CHANGE" => action_on.push(ActionTrigger::Change),
                        "ERROR" => {
                            action_on.push(ActionTrigger::State(State::Critical));
                            action_on.push(ActionTrigger::State(State::Unknown));
                        }
                        other => match State::parse(other) {
                            Some(s) => action_on.push(ActionTrigger::State(s)),
                            None => ctx.err(
                                &item.pos,
                                kpath("ActionOn"),
                                format!("unknown trigger {t:?} (use change, OK, WARN, ERROR, WARNING, CRITICAL, UNKNOWN)"),
                            ),
                        },
                    }
                }
            }
            Err(msg) => ctx.err(&n.pos, kpath("ActionOn"), msg),
        }
    }
    action_on.dedup();
    let mut catch_up = false;
    if let Some(n) = node("CatchUp") {
        match want_bool(n) {
            Ok(b) => catch_up = b,
            Err(msg) => ctx.err(&n.pos, kpath("CatchUp"), msg),
        }
    }
    let mut overlap = Overlap::Skip;
    if let Some(n) = node("Overlap") {
        match n.as_str().map(str::to_ascii_lowercase).as_deref() {
            Some("skip") => overlap = Overlap::Skip,
            Some("queue") => overlap = Overlap::Queue,
            Some("kill") => overlap = Overlap::Kill,
            _ => ctx.err(&n.pos, kpath("Overlap"), "must be skip, queue or kill"),
        }
    }
    let mut time_zone = None;
    if let Some(n) = node("TimeZone") {
        match want_str(n, "a time zone name") {
            Ok(tz) if valid_time_zone(tz) => time_zone = Some(tz.to_string()),
            Ok(tz) => ctx.err(
                &n.pos,
                kpath("TimeZone"),
                format!("unknown time zone {tz:?}"),
            ),
            Err(msg) => ctx.err(&n.pos, kpath("TimeZone"), msg),
        }
    }
    let mut cron = None;
    if let Some(n) = node("Schedule") {
        match want_str(n, "a cron expression") {
            Ok(expr) => match check_cron(expr) {
                Ok(()) => cron = Some((expr.to_string(), n)),
                Err(msg) => ctx.err(&n.pos, kpath("Schedule"), msg),
            },
            Err(msg) => ctx.err(&n.pos, kpath("Schedule"), msg),
        }
    }
    // Interval + Schedule: an error in one map; across layers the more specific wins.
    for layer in &d.layers {
        let interval_set = layer
            .get("Interval")
            .is_some_and(|n| !matches!(n.kind, Kind::Null | Kind::Int(0) | Kind::Bool(false)));
        if interval_set && let Some(s) = layer.get("Schedule").filter(|n| !n.is_null()) {
            ctx.err(
                &s.pos,
                kpath("Schedule"),
                "Interval and Schedule cannot be set together",
            );
        }
    }
    if time_zone.is_some() && cron.is_none() {
        let n = node("TimeZone").map_or(&d.key.pos, |n| &n.pos);
        ctx.err(n, kpath("TimeZone"), "TimeZone needs Schedule");
    }

    // Effective parameters (JSON) for the API and for substitution.
    let parameters: IndexMap<String, Value> = d
        .params
        .iter()
        .map(|(k, e)| (k.clone(), e.value.clone()))
        .collect();
    let lookup = |key: &str| parameters.get(key).cloned();
    let mut spec_command = Command::Invalid {
        state: State::Unknown,
        text: String::new(),
    };
    if let Some((template, n)) = &command {
        spec_command = match subst::substitute(template, &lookup) {
            Ok(text) => Command::Shell(text),
            Err(subst::SubstError::Missing(key)) => {
                ctx.warn(
                    &n.pos,
                    &kpath("Command"),
                    format!("%({key})s names no parameter; every run will be ERROR"),
                );
                Command::Invalid {
                    state: State::Critical,
                    text: format!("Missing parameter {key}"),
                }
            }
            Err(subst::SubstError::Newline(key)) => {
                let pos = d
                    .params
                    .get(&key)
                    .and_then(|e| e.node)
                    .map_or(&n.pos, |v| &v.pos);
                ctx.err(
                    pos,
                    kpath(&key),
                    "contains a newline, which cannot be substituted into Command",
                );
                return None;
            }
            Err(e) => {
                ctx.err(&n.pos, kpath("Command"), e.to_string());
                return None;
            }
        };
    } else if let Some((items, n)) = &argv {
        let mut out = Vec::new();
        let mut invalid = None;
        for item in items {
            match subst::substitute_raw(item, &lookup) {
                Ok(s) => out.push(s),
                Err(subst::SubstError::Missing(key)) => {
                    ctx.warn(
                        &n.pos,
                        &kpath("Argv"),
                        format!("%({key})s names no parameter; every run will be ERROR"),
                    );
                    invalid = Some(Command::Invalid {
                        state: State::Critical,
                        text: format!("Missing parameter {key}"),
                    });
                    break;
                }
                Err(e) => {
                    ctx.err(&n.pos, kpath("Argv"), e.to_string());
                    break;
                }
            }
        }
        spec_command = invalid.unwrap_or(Command::Argv(out));
    }
    if module.is_some() || parser.is_some() {
        spec_command = Command::Invalid {
            state: State::Unknown,
            text: "Python modules are not supported, use Command".into(),
        };
    }

    if ctx.errors.len() != before {
        return None;
    }
    // Across layers the more specific one wins: a plugin's Interval beats a template's Schedule.
    let layer_of = |key: &str| {
        d.params
            .get(key)
            .filter(|e| e.node.is_some_and(|n| !n.is_null()))
            .map(|e| e.layer)
    };
    if interval > 0.0 && layer_of("Interval") > layer_of("Schedule") {
        cron = None;
    }
    let schedule = match cron {
        Some((expr, _)) => Schedule::Cron { expr, time_zone },
        None if interval > 0.0 => {
            let every = Duration::from_secs_f64(interval);
            Schedule::Interval {
                every,
                splay: splay.unwrap_or_else(|| every.min(Duration::from_secs(60))),
            }
        }
        None => Schedule::OnDemand,
    };
    Some(CheckSpec {
        name: d.name,
        command: spec_command,
        schedule,
        timeout: spec_timeout,
        timeout_state,
        history,
        exit_codes,
        max_output: max_output as usize,
        env,
        uid,
        gid,
        working_dir,
        actions: d.actions.unwrap_or_else(|| default_actions.to_vec()),
        action_on,
        parameters,
        catch_up,
        overlap,
    })
}

pub(super) fn check_cron(expr: &str) -> Result<(), String> {
    if expr.trim().eq_ignore_ascii_case("@reboot") {
        return Ok(());
    }
    croner::Cron::from_str(expr)
        .map(|_| ())
        .map_err(|e| format!("invalid cron expression {expr:?}: {e}"))
}

pub(super) fn valid_time_zone(tz: &str) -> bool {
    if matches!(tz, "UTC" | "Local") {
        return true;
    }
    !tz.is_empty()
        && !tz.split('/').any(|p| p.is_empty() || p == "." || p == "..")
        && Path::new("/usr/share/zoneinfo").join(tz).is_file()
}
