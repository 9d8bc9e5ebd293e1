//! A check's effective parameters ([`Params`]): the API's `parameters` object and the
//! values `%(Name)s` substitutes, in the original's key order. Kept compact because
//! every check holds one for its lifetime: one allocation per check (a boxed slice
//! searched linearly: a check has about a dozen), scalars inline, and keys and string
//! values shared between the checks of one load through an [`Interner`].

use std::{collections::HashSet, fmt, ops::Index, sync::Arc};

use serde::{Serialize, Serializer, ser::SerializeMap};
use serde_json::{Number, Value};

/// One parameter value: a JSON value, stored compactly. Compares equal to the
/// [`Value`] it was made from and serialises exactly as that value does.
#[derive(Clone, PartialEq)]
pub struct Param(Repr);

#[derive(Clone, PartialEq)]
enum Repr {
    Null,
    Bool(bool),
    /// The three kinds of [`Number`], so that a value round-trips to the same number.
    PosInt(u64),
    NegInt(i64),
    Float(f64),
    Str(Arc<str>),
    /// Lists and maps (`Action`, `Argv`, `Env`, …): rare, kept as they are.
    Other(Box<Value>),
}

static NULL: Param = Param(Repr::Null);

impl Param {
    /// `value`, its strings shared through `strings`.
    pub fn new(value: Value, strings: &mut Interner) -> Param {
        Param(match value {
            Value::Null => Repr::Null,
            Value::Bool(b) => Repr::Bool(b),
            Value::String(text) => Repr::Str(strings.intern(&text)),
            Value::Number(n) => {
                if let Some(u) = n.as_u64() {
                    Repr::PosInt(u)
                } else if let Some(i) = n.as_i64() {
                    Repr::NegInt(i)
                } else if let Some(f) = n.as_f64().filter(|f| Number::from_f64(*f).is_some()) {
                    Repr::Float(f)
                } else {
                    Repr::Other(Box::new(Value::Number(n)))
                }
            }
            other => Repr::Other(Box::new(other)),
        })
    }

    /// The text of a string value.
    pub fn as_str(&self) -> Option<&str> {
        self.shared_str().map(|text| &**text)
    }

    /// A list or a map.
    pub fn as_json(&self) -> Option<&Value> {
        match &self.0 {
            Repr::Other(value) => Some(value),
            _ => None,
        }
    }

    /// The text of a string value, to share it.
    pub fn shared_str(&self) -> Option<&Arc<str>> {
        match &self.0 {
            Repr::Str(text) => Some(text),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        self.0 == Repr::Null
    }

    fn number(&self) -> Option<Number> {
        match self.0 {
            Repr::PosInt(u) => Some(Number::from(u)),
            Repr::NegInt(i) => Some(Number::from(i)),
            Repr::Float(f) => Number::from_f64(f),
            _ => None,
        }
    }

    /// The value as JSON.
    pub fn to_json(&self) -> Value {
        match &self.0 {
            Repr::Null => Value::Null,
            Repr::Bool(b) => Value::Bool(*b),
            Repr::Str(text) => Value::String(text.to_string()),
            Repr::Other(value) => (**value).clone(),
            Repr::PosInt(_) | Repr::NegInt(_) | Repr::Float(_) => {
                self.number().map_or(Value::Null, Value::Number)
            }
        }
    }
}

/// `param == 0` as for a [`Value`]: an integer equal to it.
impl PartialEq<i32> for Param {
    fn eq(&self, other: &i32) -> bool {
        match self.0 {
            Repr::PosInt(u) => i64::try_from(u).is_ok_and(|u| u == i64::from(*other)),
            Repr::NegInt(i) => i == i64::from(*other),
            _ => false,
        }
    }
}

impl PartialEq<Value> for Param {
    fn eq(&self, other: &Value) -> bool {
        match (&self.0, other) {
            (Repr::Null, Value::Null) => true,
            (Repr::Bool(a), Value::Bool(b)) => a == b,
            (Repr::Str(a), Value::String(b)) => **a == **b,
            (Repr::Other(a), b) => **a == *b,
            (_, Value::Number(n)) => self.number().as_ref() == Some(n),
            _ => false,
        }
    }
}

impl fmt::Debug for Param {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.to_json(), f)
    }
}

impl Serialize for Param {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match &self.0 {
            Repr::Null => serializer.serialize_unit(),
            Repr::Bool(b) => serializer.serialize_bool(*b),
            Repr::PosInt(u) => serializer.serialize_u64(*u),
            Repr::NegInt(i) => serializer.serialize_i64(*i),
            Repr::Float(f) => serializer.serialize_f64(*f),
            Repr::Str(text) => serializer.serialize_str(text),
            Repr::Other(value) => value.serialize(serializer),
        }
    }
}

/// Shares equal strings (parameter keys, values such as `default` or a category)
/// between the checks built with it.
#[derive(Debug, Default)]
pub struct Interner(HashSet<Arc<str>>);

impl Interner {
    pub fn intern(&mut self, text: &str) -> Arc<str> {
        if let Some(shared) = self.0.get(text) {
            return shared.clone();
        }
        let shared: Arc<str> = Arc::from(text);
        self.0.insert(shared.clone());
        shared
    }
}

/// The effective parameters of a check, in order; a key appears once.
#[derive(Clone, Default, PartialEq)]
pub struct Params(Box<[(Arc<str>, Param)]>);

impl Params {
    /// The parameters of `entries` in their order (a repeated key keeps its first place
    /// and takes the last value, as a map insert does), sharing strings through `strings`.
    pub fn new<K: AsRef<str>>(
        entries: impl IntoIterator<Item = (K, Value)>,
        strings: &mut Interner,
    ) -> Params {
        let mut out: Vec<(Arc<str>, Param)> = Vec::new();
        for (key, value) in entries {
            let value = Param::new(value, strings);
            match out.iter_mut().find(|(k, _)| **k == *key.as_ref()) {
                Some((_, slot)) => *slot = value,
                None => out.push((strings.intern(key.as_ref()), value)),
            }
        }
        Params(out.into_boxed_slice())
    }

    /// Parameters from entries whose keys are distinct (a map's), in order.
    pub fn from_unique(entries: impl IntoIterator<Item = (Arc<str>, Param)>) -> Params {
        Params(entries.into_iter().collect())
    }

    pub fn get(&self, key: &str) -> Option<&Param> {
        self.0.iter().find(|(k, _)| **k == *key).map(|(_, v)| v)
    }

    /// The value of `key` as JSON (for `%(Name)s` substitution).
    pub fn get_json(&self, key: &str) -> Option<Value> {
        self.get(key).map(Param::to_json)
    }

    /// Sets `key` (in place when present, else last).
    pub fn insert(&mut self, key: &str, value: Value) {
        let mut strings = Interner::default();
        let entries = std::mem::take(&mut self.0).into_vec();
        let entries = entries.into_iter().map(|(k, v)| (k, v.to_json()));
        *self = Params::new(entries.chain([(Arc::from(key), value)]), &mut strings);
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &Param)> {
        self.0.iter().map(|(k, v)| (&**k, v))
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(k, _)| &**k)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Heap bytes of the entries (strings are shared and not counted).
    pub fn entry_bytes(&self) -> usize {
        std::mem::size_of_val(&*self.0)
    }
}

/// Without sharing between checks (tests, built-in check lists).
impl<K: AsRef<str>> FromIterator<(K, Value)> for Params {
    fn from_iter<I: IntoIterator<Item = (K, Value)>>(entries: I) -> Params {
        Params::new(entries, &mut Interner::default())
    }
}

/// `params["Key"]`: the value, JSON `null` when the key is absent.
impl Index<&str> for Params {
    type Output = Param;

    fn index(&self, key: &str) -> &Param {
        self.get(key).unwrap_or(&NULL)
    }
}

impl fmt::Debug for Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// A JSON object, keys in order.
impl Serialize for Params {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in self.iter() {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn sample() -> Value {
        json!({
            "Command": "/bin/true", "Module": null, "Parser": null, "Interval": 0,
            "Timeout": 30, "History": 10, "uid": "default", "gid": "default",
            "Template": null, "Action": null, "Category": "bench",
        })
    }

    fn params_of(value: &Value, strings: &mut Interner) -> Params {
        let map = value.as_object().cloned().unwrap_or_default();
        Params::new(map, strings)
    }

    #[test]
    fn parameters_serialise_as_the_json_object_they_came_from() {
        let value = json!({
            "b": 1, "a": -2, "f": 1.5, "big": 18446744073709551615u64, "s": "x",
            "t": true, "n": null, "l": [1, "two"], "m": {"k": {"z": 1, "a": 2}},
        });
        let params = params_of(&value, &mut Interner::default());
        assert_eq!(
            serde_json::to_string(&params).ok(),
            serde_json::to_string(&value).ok()
        );
        assert_eq!(serde_json::to_value(&params).ok(), Some(value.clone()));
        for (key, expected) in value.as_object().into_iter().flatten() {
            assert_eq!(params[key.as_str()], *expected, "{key}");
            assert_eq!(params.get_json(key).as_ref(), Some(expected));
        }
        assert_eq!(params["missing"], Value::Null);
        assert!(params["f"] != json!(1.6) && params["a"] != json!(-2.0));
        assert!(params["b"] == 1 && params["a"] == -2 && params["f"] != 1 && params["s"] != 0);
        let keys: Vec<&str> = params.keys().collect();
        assert_eq!(keys, ["b", "a", "f", "big", "s", "t", "n", "l", "m"]);
    }

    #[test]
    fn insert_replaces_in_place_or_appends() {
        let mut params = params_of(&json!({"a": 1, "b": 2}), &mut Interner::default());
        params.insert("a", json!("x"));
        params.insert("c", json!(null));
        assert_eq!(
            serde_json::to_string(&params).ok().as_deref(),
            Some(r#"{"a":"x","b":2,"c":null}"#)
        );
    }

    /// Issue 18 (benchmark row 4): a typical check's parameters cost 40 bytes per key
    /// beyond what the checks of a load share; the `IndexMap<String, Value>` they
    /// replace took about 1.4 kB.
    #[test]
    fn a_typical_check_s_parameters_cost_40_bytes_per_key() {
        assert_eq!(std::mem::size_of::<(Arc<str>, Param)>(), 40);
        let mut strings = Interner::default();
        let (one, two) = (
            params_of(&sample(), &mut strings),
            params_of(&sample(), &mut strings),
        );
        assert_eq!(one.len(), 11);
        assert!(one.entry_bytes() <= 11 * 40);
        assert!(
            one.0
                .iter()
                .zip(two.0.iter())
                .all(|(a, b)| Arc::ptr_eq(&a.0, &b.0))
        );
        let shared = |p: &Params| match &p["uid"].0 {
            Repr::Str(text) => Some(text.clone()),
            _ => None,
        };
        assert!(matches!((shared(&one), shared(&two)), (Some(a), Some(b)) if Arc::ptr_eq(&a, &b)));
    }
}
