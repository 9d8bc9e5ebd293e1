//! YAML reading: text → a position-carrying [`Node`] tree, with `!include` and
//! `!include_dir` resolved (smoker-compat.md §1.5, decisions.md D4/D11).
//!
//! `serde-saphyr` does the parsing and the `!include` expansion; every node is read as
//! `Spanned<_>` so later validation can say `FILE:LINE:COL`. `!include_dir DIR` is
//! rewritten to `!include#dir DIR` (same length, so columns stay true) and the resolver
//! answers it with a synthesized mapping of `stem: !include FILE` lines. The root text is
//! itself reached through a one-line `!include` stub so that it gets its real file name.

use std::{
    cell::RefCell,
    collections::HashMap,
    fmt,
    path::{Path, PathBuf},
    rc::Rc,
    sync::Arc,
};

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{
    DuplicateKeyPolicy, IncludeRequest, IncludeResolveError, InputSource, Options, ResolvedInclude,
    Spanned,
};

/// Where a node sits: file (as displayed), 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pos {
    pub file: Arc<str>,
    pub line: u64,
    pub col: u64,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.col)
    }
}

/// A YAML value with its position. Mappings keep file order.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub pos: Pos,
    pub kind: Kind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

impl Node {
    pub fn is_null(&self) -> bool {
        matches!(self.kind, Kind::Null)
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.kind {
            Kind::Map(m) => Some(m),
            _ => None,
        }
    }

    /// Looks a string key up in a mapping (last occurrence wins, as in PyYAML).
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .rev()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v)
    }

    /// A short name of the YAML type, for messages.
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            Kind::Null => "null",
            Kind::Bool(_) => "a boolean",
            Kind::Int(_) => "an integer",
            Kind::Float(_) => "a float",
            Kind::Str(_) => "a string",
            Kind::Seq(_) => "a list",
            Kind::Map(_) => "a mapping",
        }
    }

    /// The value as JSON (for `parameters` and substitution). Keys become strings.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match &self.kind {
            Kind::Null => Value::Null,
            Kind::Bool(b) => Value::Bool(*b),
            Kind::Int(i) => Value::from(*i),
            Kind::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
            Kind::Str(s) => Value::String(s.clone()),
            Kind::Seq(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            Kind::Map(entries) => {
                let mut map = serde_json::Map::new();
                for (k, v) in entries {
                    map.insert(k.key_text(), v.to_json());
                }
                Value::Object(map)
            }
        }
    }

    /// Text of a scalar used as a mapping key.
    pub fn key_text(&self) -> String {
        match &self.kind {
            Kind::Str(s) => s.clone(),
            Kind::Null => "None".into(),
            Kind::Bool(true) => "True".into(),
            Kind::Bool(false) => "False".into(),
            Kind::Int(i) => i.to_string(),
            Kind::Float(f) => f.to_string(),
            Kind::Seq(_) | Kind::Map(_) => self.to_json().to_string(),
        }
    }
}

/// A YAML syntax or include error, already positioned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    pub pos: Option<Pos>,
    pub message: String,
}

impl fmt::Display for YamlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.pos {
            Some(pos) => write!(f, "{pos}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// Reads a file.
pub fn parse_file(path: &Path) -> Result<Node, YamlError> {
    let text = std::fs::read_to_string(path).map_err(|e| YamlError {
        pos: None,
        message: format!("{}: cannot read config: {e}", path.display()),
    })?;
    let base = path
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    parse_str(&path.display().to_string(), &text, &base)
}

/// Parses `text` (displayed as `name`; relative includes resolve against `base_dir` first).
pub fn parse_str(name: &str, text: &str, base_dir: &Path) -> Result<Node, YamlError> {
    let state = Rc::new(RefCell::new(Resolver::new(name, text, base_dir)));
    let mut options = Options::default();
    options.duplicate_keys = DuplicateKeyPolicy::PassThrough;
    options.with_snippet = false;
    let resolver_state = Rc::clone(&state);
    let options = options.with_include_resolver(move |req: IncludeRequest<'_>| {
        let mut state = resolver_state.borrow_mut();
        let result = state.resolve(&req);
        if let Err(IncludeResolveError::Message(m)) = &result {
            state.last_error = Some(m.clone());
        }
        result
    });
    let stub = format!("!include {ROOT_SPEC}\n");
    let parsed: Result<Spanned<Raw>, _> = serde_saphyr::from_str_with_options(&stub, options);
    let state = state.borrow();
    match parsed {
        Ok(raw) => Ok(state.convert(raw)),
        Err(e) => Err(state.error(&e)),
    }
}

const ROOT_SPEC: &str = "<<smoker-root>>";
const DIR_FRAGMENT: &str = "#dir";

const INCLUDE_DIR_TAG: &str = "!include_dir";
/// Same length as [`INCLUDE_DIR_TAG`], so columns stay exact.
const INCLUDE_DIR_REWRITTEN: &str = "!include#dir";

/// Rewrites `!include_dir` followed by blank space to `!include#dir` (D11). The
/// library reads that as an include with fragment `dir`, which the resolver answers.
fn rewrite_include_dir(text: &str) -> String {
    if !text.contains(INCLUDE_DIR_TAG) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(INCLUDE_DIR_TAG) {
        let after = &rest[i + INCLUDE_DIR_TAG.len()..];
        out.push_str(&rest[..i]);
        if after.starts_with([' ', '\t']) {
            out.push_str(INCLUDE_DIR_REWRITTEN);
        } else {
            out.push_str(INCLUDE_DIR_TAG);
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

struct Source {
    name: Arc<str>,
    /// Directory relative includes start from; `None` for synthesized sources.
    dir: Option<PathBuf>,
    /// Where this source was included: (source id, line, column).
    included_from: Option<(u32, u64, u64)>,
    /// The text, to tell `y`/`n` (strings in YAML 1.1 as PyYAML reads it) from `yes`/`no`.
    text: Option<Rc<str>>,
    /// Byte offset of each character when the text is not ASCII (spans count characters).
    char_starts: Option<Vec<usize>>,
}

struct Resolver {
    root_name: String,
    root_text: Option<String>,
    root_dir: PathBuf,
    /// Index = source id − 1. Id 1 is the stub.
    sources: Vec<Source>,
    /// Resolver id string → source id.
    ids: HashMap<String, u32>,
    /// The original's search list: the main config's dir, then each included file's dir.
    search: Vec<PathBuf>,
    /// The message of a failed resolution, reported instead of the library's wrapper.
    last_error: Option<String>,
}

impl Resolver {
    fn new(name: &str, text: &str, base_dir: &Path) -> Self {
        Resolver {
            root_name: name.to_string(),
            root_text: Some(rewrite_include_dir(text)),
            root_dir: base_dir.to_path_buf(),
            sources: vec![Source {
                name: Arc::from(name),
                dir: None,
                included_from: None,
                text: None,
                char_starts: None,
            }],
            ids: HashMap::new(),
            search: vec![base_dir.to_path_buf()],
            last_error: None,
        }
    }

    fn register(
        &mut self,
        id: String,
        name: String,
        dir: Option<PathBuf>,
        text: String,
        req: &IncludeRequest<'_>,
    ) -> ResolvedInclude {
        let source_id = self.sources.len() as u32 + 1;
        let from = req.location.source_id();
        let included_from = if from >= 2 {
            Some((from, req.location.line(), req.location.column()))
        } else {
            None
        };
        self.sources.push(Source {
            name: Arc::from(name.as_str()),
            dir,
            included_from,
            text: Some(Rc::from(text.as_str())),
            char_starts: (!text.is_ascii()).then(|| text.char_indices().map(|(i, _)| i).collect()),
        });
        self.ids.insert(id.clone(), source_id);
        ResolvedInclude::new(id, name, InputSource::Text(text))
    }

    fn including_dir(&self, req: &IncludeRequest<'_>) -> Option<PathBuf> {
        let id = req.from_id?;
        let source = self.ids.get(id)?;
        self.sources.get(*source as usize - 1)?.dir.clone()
    }

    /// Candidate paths for `spec`, in D4 order: the including file's dir, the path as
    /// given (CWD), then the original's search list.
    fn candidates(&self, spec: &str, req: &IncludeRequest<'_>) -> Vec<PathBuf> {
        let path = Path::new(spec);
        if path.is_absolute() {
            return vec![path.to_path_buf()];
        }
        let mut out = Vec::new();
        if let Some(dir) = self.including_dir(req) {
            out.push(dir.join(path));
        }
        out.push(path.to_path_buf());
        out.extend(self.search.iter().map(|d| d.join(path)));
        out
    }

    fn display(&self, path: &Path) -> String {
        let text = path.display().to_string();
        text.strip_prefix("./").map_or(text.clone(), str::to_string)
    }

    fn resolve(
        &mut self,
        req: &IncludeRequest<'_>,
    ) -> Result<ResolvedInclude, IncludeResolveError> {
        if req.spec == ROOT_SPEC {
            let text = self.root_text.take().unwrap_or_default();
            let id = format!("root:{}", self.root_name);
            let name = self.root_name.clone();
            let dir = Some(self.root_dir.clone());
            return Ok(self.register(id, name, dir, text, req));
        }
        if let Some(dir_spec) = req.spec.strip_suffix(DIR_FRAGMENT) {
            return Ok(self.resolve_dir(dir_spec, req));
        }
        if req.spec.trim().is_empty() {
            return Err(IncludeResolveError::Message(
                "!include needs a file name".into(),
            ));
        }
        let candidates = self.candidates(req.spec, req);
        let Some(found) = candidates.iter().find(|p| p.is_file()) else {
            let mut tried: Vec<String> = Vec::new();
            for p in &candidates {
                let shown = self.display(p);
                if !tried.contains(&shown) {
                    tried.push(shown);
                }
            }
            return Err(IncludeResolveError::Message(format!(
                "include file {} not found (tried {})",
                req.spec,
                tried.join(", ")
            )));
        };
        let text = std::fs::read_to_string(found).map_err(|e| {
            IncludeResolveError::Message(format!(
                "cannot read include file {}: {e}",
                self.display(found)
            ))
        })?;
        let id = std::fs::canonicalize(found)
            .unwrap_or_else(|_| found.clone())
            .display()
            .to_string();
        let dir = found.parent().map(Path::to_path_buf);
        if let Some(d) = &dir {
            self.search.push(d.clone());
        }
        let name = self.display(found);
        Ok(self.register(id, name, dir, rewrite_include_dir(&text), req))
    }

    /// `!include_dir DIR`: `{stem: !include DIR/stem.yaml}` for the sorted `*.yaml`
    /// files; `null` when the directory is missing or holds none.
    fn resolve_dir(&mut self, spec: &str, req: &IncludeRequest<'_>) -> ResolvedInclude {
        let found = self.candidates(spec, req).into_iter().find(|p| p.is_dir());
        let mut files: Vec<(String, PathBuf)> = Vec::new();
        if let Some(dir) = &found
            && let Ok(entries) = std::fs::read_dir(dir)
        {
            for entry in entries.flatten() {
                let path = entry.path();
                let Some(file_name) = path.file_name().and_then(|n| n.to_str()) else {
                    continue;
                };
                if let Some(stem) = file_name.strip_suffix(".yaml")
                    && !stem.is_empty()
                    && path.is_file()
                {
                    files.push((stem.to_string(), path.clone()));
                }
            }
        }
        files.sort();
        let mut text = String::new();
        // File names only: this synthesized source's directory is the one listed, so
        // they resolve there first and display as DIR/NAME.yaml.
        for (stem, _) in &files {
            text.push_str(&format!(
                "{}: !include {}\n",
                yaml_quote(stem),
                yaml_quote(&format!("{stem}.yaml"))
            ));
        }
        if text.is_empty() {
            text.push_str("~\n");
        }
        let shown = found
            .as_deref()
            .map_or_else(|| spec.to_string(), |d| self.display(d));
        let id = format!("dir:{}#{}", shown, self.sources.len());
        self.register(id, format!("{shown}/"), found, text, req)
    }

    fn pos(&self, loc: &serde_saphyr::Location) -> Pos {
        let idx = (loc.source_id().max(1) - 1) as usize;
        let name = self.sources.get(idx).map_or_else(
            || Arc::from(self.root_name.as_str()),
            |s| Arc::clone(&s.name),
        );
        Pos {
            file: name,
            line: loc.line(),
            col: loc.column(),
        }
    }

    /// The source text a location covers, when known.
    fn source_slice(&self, loc: &serde_saphyr::Location) -> Option<&str> {
        let source = self.sources.get((loc.source_id().max(1) - 1) as usize)?;
        let text = source.text.as_deref()?;
        let span = loc.span();
        let (start, len) = match (span.byte_offset(), span.byte_len()) {
            (Some(start), Some(len)) => (usize::try_from(start).ok()?, usize::try_from(len).ok()?),
            _ => {
                // Included sources give character offsets only.
                let start = usize::try_from(span.offset()).ok()?;
                let len = usize::try_from(span.len()).ok()?;
                match &source.char_starts {
                    None => (start, len),
                    Some(starts) => {
                        let first = *starts.get(start)?;
                        let end = starts.get(start + len).copied().unwrap_or(text.len());
                        (first, end.checked_sub(first)?)
                    }
                }
            }
        };
        text.get(start..start + len)
    }

    fn convert(&self, raw: Spanned<Raw>) -> Node {
        let pos = self.pos(&raw.referenced);
        let kind = match raw.value.0 {
            RawKind::Null => Kind::Null,
            RawKind::Bool(b) => match self.source_slice(&raw.defined) {
                Some(text) if !is_yaml11_bool(text) && !text.starts_with('!') => {
                    Kind::Str(text.to_string())
                }
                _ => Kind::Bool(b),
            },
            RawKind::Int(i) => Kind::Int(i),
            RawKind::Float(f) => Kind::Float(f),
            // Undo the `!include_dir` rewrite where it hit text rather than a tag.
            RawKind::Str(s) if s.contains(INCLUDE_DIR_REWRITTEN) => {
                Kind::Str(s.replace(INCLUDE_DIR_REWRITTEN, INCLUDE_DIR_TAG))
            }
            RawKind::Str(s) => Kind::Str(s),
            RawKind::Seq(items) => Kind::Seq(items.into_iter().map(|i| self.convert(i)).collect()),
            RawKind::Map(entries) => Kind::Map(
                entries
                    .into_iter()
                    .map(|(k, v)| (self.convert(k), self.convert(v)))
                    .collect(),
            ),
        };
        Node { pos, kind }
    }

    fn error(&self, err: &serde_saphyr::Error) -> YamlError {
        // Our own resolver's words beat the library's wrapping of them.
        let message = self
            .last_error
            .clone()
            .unwrap_or_else(|| clean_message(&err.without_snippet().to_string()));
        let Some(loc) = err.location().filter(|l| l.line() > 0) else {
            return YamlError {
                pos: None,
                message: format!("{}: {message}", self.root_name),
            };
        };
        let mut message = message;
        let mut source = loc.source_id();
        while let Some(Source {
            included_from: Some((from, line, col)),
            ..
        }) = self.sources.get((source.max(1) - 1) as usize)
        {
            let parent = self
                .sources
                .get((*from - 1) as usize)
                .map_or("?", |s| &s.name);
            // A synthesized `!include_dir` listing (named `DIR/`) is no place to point at.
            if !parent.ends_with('/') {
                message.push_str(&format!(" (included from {parent}:{line}:{col})"));
            }
            source = *from;
        }
        YamlError {
            pos: Some(self.pos(&loc)),
            message,
        }
    }
}

/// Drops the library's own "at line X column Y" tail: we print the position first.
fn clean_message(text: &str) -> String {
    let first = text.lines().next().unwrap_or(text);
    let first = first.split("\\n").next().unwrap_or(first).trim();
    let cut = first.find(" at line ").map_or(first, |i| &first[..i]);
    cut.trim_end_matches(':').to_string()
}

/// PyYAML's boolean spellings (YAML 1.1 without `y`/`n`).
fn is_yaml11_bool(text: &str) -> bool {
    matches!(
        text,
        "true"
            | "True"
            | "TRUE"
            | "false"
            | "False"
            | "FALSE"
            | "yes"
            | "Yes"
            | "YES"
            | "no"
            | "No"
            | "NO"
            | "on"
            | "On"
            | "ON"
            | "off"
            | "Off"
            | "OFF"
    )
}

fn yaml_quote(text: &str) -> String {
    serde_json::Value::String(text.to_string()).to_string()
}

/// The raw tree read through serde: every child is `Spanned`.
struct Raw(RawKind);

enum RawKind {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Spanned<Raw>>),
    Map(Vec<(Spanned<Raw>, Spanned<Raw>)>),
}

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(RawVisitor)
    }
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = Raw;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Raw, E> {
        Ok(Raw(RawKind::Bool(v)))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Raw, E> {
        Ok(Raw(RawKind::Int(v)))
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Raw, E> {
        Ok(Raw(
            i64::try_from(v).map_or(RawKind::Float(v as f64), RawKind::Int)
        ))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Raw, E> {
        Ok(Raw(
            i64::try_from(v).map_or(RawKind::Float(v as f64), RawKind::Int)
        ))
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Raw, E> {
        Ok(Raw(
            i64::try_from(v).map_or(RawKind::Float(v as f64), RawKind::Int)
        ))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Raw, E> {
        Ok(Raw(RawKind::Float(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Raw, E> {
        Ok(Raw(RawKind::Str(v.to_string())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Raw, E> {
        Ok(Raw(RawKind::Str(v)))
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Raw, E> {
        Ok(Raw(RawKind::Str(String::from_utf8_lossy(v).into_owned())))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Raw, E> {
        Ok(Raw(RawKind::Null))
    }

    fn visit_none<E: de::Error>(self) -> Result<Raw, E> {
        Ok(Raw(RawKind::Null))
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Raw, D::Error> {
        Raw::deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Raw, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<Raw>>()? {
            items.push(item);
        }
        Ok(Raw(RawKind::Seq(items)))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Raw, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Spanned<Raw>>()? {
            let value = map.next_value::<Spanned<Raw>>()?;
            entries.push((key, value));
        }
        Ok(Raw(RawKind::Map(entries)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Node {
        parse_str("t.yaml", text, Path::new(".")).unwrap()
    }

    #[test]
    fn positions_and_yaml11_booleans() {
        let n = parse("a: yes\nb: Off\nc: ~\nd: 'yes'\ne: 5\nf: 1.5\ng: y\n");
        assert_eq!(n.get("a").unwrap().kind, Kind::Bool(true));
        assert_eq!(n.get("b").unwrap().kind, Kind::Bool(false));
        assert_eq!(n.get("c").unwrap().kind, Kind::Null);
        assert_eq!(n.get("d").unwrap().kind, Kind::Str("yes".into()));
        assert_eq!(n.get("e").unwrap().kind, Kind::Int(5));
        assert_eq!(n.get("f").unwrap().kind, Kind::Float(1.5));
        assert_eq!(n.get("g").unwrap().kind, Kind::Str("y".into()));
        let e = n.get("e").unwrap();
        assert_eq!(e.pos.to_string(), "t.yaml:5:4");
    }

    #[test]
    fn syntax_error_is_positioned() {
        let err = parse_str("bad.yaml", "a: [1, 2\nb: 3\n", Path::new(".")).unwrap_err();
        assert!(err.to_string().starts_with("bad.yaml:"), "{err}");
    }

    #[test]
    fn include_dir_text_in_strings_is_kept() {
        let n = parse("a: 'run !include_dir x'\nb: \"!include_dir\"\n");
        assert_eq!(
            n.get("a").unwrap().kind,
            Kind::Str("run !include_dir x".into())
        );
        assert_eq!(n.get("b").unwrap().kind, Kind::Str("!include_dir".into()));
    }

    #[test]
    fn include_dir_sorted_stems_and_errors_inside() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("p.d");
        std::fs::create_dir(&d).unwrap();
        std::fs::write(d.join("b.yaml"), "x: 2\n").unwrap();
        std::fs::write(d.join("a.yaml"), "x: 1\n").unwrap();
        std::fs::write(d.join("c.yml"), "x: 3\n").unwrap();
        std::fs::write(d.join(".yaml"), "x: 4\n").unwrap();
        let n = parse_str(
            "m.yaml",
            "p: !include_dir p.d\nq: !include_dir nope.d\n",
            dir.path(),
        )
        .unwrap();
        let keys: Vec<String> = n
            .get("p")
            .unwrap()
            .as_map()
            .unwrap()
            .iter()
            .map(|(k, _)| k.key_text())
            .collect();
        assert_eq!(keys, ["a", "b"]);
        assert_eq!(n.get("q").unwrap().kind, Kind::Null);
        assert_eq!(
            n.get("p")
                .unwrap()
                .get("b")
                .unwrap()
                .get("x")
                .unwrap()
                .pos
                .file
                .as_ref(),
            d.join("b.yaml").display().to_string()
        );

        std::fs::write(d.join("b.yaml"), "x: [\n").unwrap();
        let err = parse_str("m.yaml", "p: !include_dir p.d\n", dir.path()).unwrap_err();
        let b = d.join("b.yaml").display().to_string();
        assert_eq!(
            err.to_string(),
            format!("{b}:1:4: unclosed bracket '[' (included from m.yaml:1:17)")
        );
    }

    #[test]
    fn include_cycles_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.yaml"), "x: !include b.yaml\n").unwrap();
        std::fs::write(dir.path().join("b.yaml"), "y: !include a.yaml\n").unwrap();
        let err = parse_str("m.yaml", "top: !include a.yaml\n", dir.path()).unwrap_err();
        assert!(
            err.to_string()
                .contains("b.yaml:1:13: cyclic include detected: "),
            "{err}"
        );
    }
}
