//! A plugin's effective parameters (DEFAULTS ⊕ BasePlugin ⊕ Template ⊕ plugin map, as
//! the original merges them), with `Enabled` and `Action` resolved: the [`PluginDraft`]
//! the key readers work on, and [`Fields`], their view of it.

use std::sync::Arc;

use indexmap::IndexMap;
use serde_json::{Value, json};

use crate::{
    check::{Interner, Param},
    config::{
        load::{
            actions::{ActionMaps, action_params, unknown_action},
            ctx::{Ctx, join},
            values::{expected, want_str_list},
        },
        subst,
        yaml::{Kind, Node},
    },
};

/// DEFAULTS of the original, in API `parameters` order.
const DEFAULT_KEYS: [&str; 10] = [
    "Command", "Module", "Parser", "Interval", "Timeout", "History", "uid", "gid", "Template",
    "Action",
];

fn default_value(key: &str) -> Value {
    match key {
        "Interval" => json!(0),
        "Timeout" => json!(1800),
        "History" => json!(10),
        "uid" | "gid" => json!("default"),
        _ => Value::Null,
    }
}

/// The templates by name (a null template is an empty map).
pub type Templates<'a> = IndexMap<String, &'a Node>;

/// One effective parameter: its value (in the form the check keeps) and where it
/// came from.
#[derive(Clone)]
pub struct Eff<'a> {
    pub value: Param,
    pub node: Option<&'a Node>,
    /// 0 DEFAULTS, 1 BasePlugin, 2 Template, 3 plugin map.
    pub layer: u8,
}

/// A plugin after template resolution, before its typed fields are read.
pub struct PluginDraft<'a> {
    pub name: String,
    pub key: &'a Node,
    pub map: &'a Node,
    pub params: IndexMap<Arc<str>, Eff<'a>>,
    /// Per layer (Base, Template, plugin): the map, for the Interval+Schedule check.
    pub layers: Vec<&'a Node>,
    pub actions: Option<Vec<String>>,
    pub placeholders: Vec<String>,
}

/// The draft's parameters as the key readers see them.
pub struct Fields<'d, 'a> {
    pub draft: &'d PluginDraft<'a>,
    /// `plugins.NAME`.
    pub path: String,
}

impl<'a> Fields<'_, 'a> {
    pub fn new<'d>(draft: &'d PluginDraft<'a>) -> Fields<'d, 'a> {
        Fields {
            draft,
            path: join("plugins", &draft.name),
        }
    }

    /// A set (non-null) parameter node.
    pub fn node(&self, key: &str) -> Option<&'a Node> {
        self.draft
            .params
            .get(key)
            .and_then(|e| e.node)
            .filter(|n| !n.is_null())
    }

    /// `plugins.NAME.key`.
    pub fn path(&self, key: &str) -> String {
        join(&self.path, key)
    }

    /// Set at all (a wrong type is reported on its own, not as "missing").
    pub fn present(&self, key: &str) -> bool {
        self.node(key)
            .is_some_and(|n| !matches!(&n.kind, Kind::Str(s) if s.trim().is_empty()))
    }

    /// The layer a set key comes from.
    pub fn layer(&self, key: &str) -> Option<u8> {
        self.draft
            .params
            .get(key)
            .filter(|e| e.node.is_some_and(|n| !n.is_null()))
            .map(|e| e.layer)
    }

    /// The key read by `read` when set, or its error reported under the key.
    pub fn read<T, E: std::fmt::Display>(
        &self,
        ctx: &mut Ctx,
        key: &str,
        read: impl FnOnce(&Node) -> Result<T, E>,
    ) -> Option<T> {
        let n = self.node(key)?;
        ctx.take(n, self.path(key), read(n))
    }
}

/// The plugin's effective parameters, or `None` when disabled or its template is unknown.
pub fn resolve_plugin<'a>(
    ctx: &mut Ctx,
    (name, key, map): (&str, &'a Node, &'a Node),
    templates: &Templates<'a>,
    action_maps: &ActionMaps<'a>,
) -> Option<PluginDraft<'a>> {
    let path = join("plugins", name);
    let base = templates.get("BasePlugin").copied();
    let template = find_template(ctx, &path, map, base, templates)?;
    let layer_maps = [(1u8, base), (2, template), (3, Some(map))];
    let set_keys: usize = layer_maps
        .iter()
        .filter_map(|(_, m)| m.and_then(Node::as_map))
        .map(<[_]>::len)
        .sum();
    let strings = &mut ctx.strings;
    let mut params = IndexMap::with_capacity(DEFAULT_KEYS.len() + set_keys);
    for k in DEFAULT_KEYS {
        params.insert(strings.intern(k), eff(default_value(k), None, 0, strings));
    }
    let mut layers = Vec::new();
    for (layer, m) in layer_maps {
        let Some(m) = m else { continue };
        layers.push(m);
        for (k, v) in m.as_map().unwrap_or_default() {
            let Some(key_name) = k.as_str() else { continue };
            let value = eff(v.to_json(), Some(v), layer, strings);
            params.insert(strings.intern(key_name), value);
        }
    }
    if !enabled(ctx, &path, &params) {
        return None;
    }
    let actions = resolve_actions(ctx, &path, &mut params, action_maps);
    let placeholders = command_placeholders(&params);
    Some(PluginDraft {
        name: name.to_string(),
        key,
        map,
        params,
        layers,
        actions,
        placeholders,
    })
}

fn eff<'a>(value: Value, node: Option<&'a Node>, layer: u8, strings: &mut Interner) -> Eff<'a> {
    Eff {
        value: Param::new(value, strings),
        node,
        layer,
    }
}

/// The plugin's (or BasePlugin's) `Template`; `Some(None)` when none is set.
fn find_template<'a>(
    ctx: &mut Ctx,
    path: &str,
    map: &'a Node,
    base: Option<&'a Node>,
    templates: &Templates<'a>,
) -> Option<Option<&'a Node>> {
    let Some(n) = map
        .get("Template")
        .or_else(|| base.and_then(|b| b.get("Template")))
        .filter(|n| !n.is_null())
    else {
        return Some(None);
    };
    let Some(t) = n.as_str() else {
        ctx.err(
            &n.pos,
            join(path, "Template"),
            expected("a template name", n),
        );
        return None;
    };
    if let Some(m) = templates.get(t) {
        return Some(Some(*m));
    }
    let known: Vec<&str> = templates.keys().map(String::as_str).collect();
    let msg = if known.is_empty() {
        format!("unknown template {t} (no templates: section)")
    } else {
        format!("unknown template {t} (known: {})", known.join(", "))
    };
    ctx.err(&n.pos, join(path, "Template"), msg);
    None
}

/// `Enabled` (Q12: honoured from templates too); only a boolean false disables.
fn enabled(ctx: &mut Ctx, path: &str, params: &IndexMap<Arc<str>, Eff<'_>>) -> bool {
    if let Some(Eff { node: Some(n), .. }) = params.get("Enabled") {
        match n.kind {
            Kind::Bool(false) => return false,
            Kind::Bool(true) | Kind::Null => {}
            _ => ctx.err(&n.pos, join(path, "Enabled"), expected("a boolean", n)),
        }
    }
    true
}

/// `Action`: str | [str] | null; `[]` = none; replaced in parameters by the action map(s).
fn resolve_actions(
    ctx: &mut Ctx,
    path: &str,
    params: &mut IndexMap<Arc<str>, Eff<'_>>,
    action_maps: &ActionMaps<'_>,
) -> Option<Vec<String>> {
    let n = params.get("Action")?.node.filter(|n| !n.is_null())?;
    let list = ctx.take(n, join(path, "Action"), want_str_list(n))?;
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
                join(path, "Action"),
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
        e.value = Param::new(value, &mut ctx.strings);
    }
    Some(names)
}

/// The `%(Name)s` that `Command` and `Argv` use.
fn command_placeholders(params: &IndexMap<Arc<str>, Eff<'_>>) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(c) = params.get("Command").and_then(|e| e.value.as_str()) {
        out.extend(subst::placeholders(c));
    }
    if let Some(Value::Array(items)) = params.get("Argv").and_then(|e| e.value.as_json()) {
        for i in items {
            if let Value::String(s) = i {
                out.extend(subst::placeholders(s));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 18 (benchmark row 4): every plugin's draft is alive at once during a load,
    /// so an effective parameter holds the value as the check keeps it (shared strings,
    /// scalars inline), not as a JSON value (80 bytes and owned strings): 1000 drafts
    /// took 1.7 MB, the load's peak heap.
    #[test]
    fn an_effective_parameter_is_five_words() {
        assert_eq!(std::mem::size_of::<Eff<'_>>(), 40);
    }
}
