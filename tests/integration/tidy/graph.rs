//! The file-level import graph of the crates under `src/` and `compat/src/`: an edge
//! a → b when file a names something in file b (a `use` or an inline path); a path
//! resolves to the file of the deepest module it names. Cycles are its strongly
//! connected components of more than one file.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::parse::{FileInfo, PathRef};

/// A module: its crate and path from the crate root.
type ModKey = (String, Vec<String>);

pub struct Source {
    /// Relative to the repository, e.g. `src/api/server.rs`.
    pub path: String,
    pub info: FileInfo,
}

/// The crate and module a file is, from where it lies.
fn module_of(path: &str) -> ModKey {
    let (krate, rest) = if let Some(rest) = path.strip_prefix("compat/src/") {
        ("compat".to_string(), rest)
    } else if let Some(bin) = path.strip_prefix("src/bin/") {
        return (format!("bin:{bin}"), Vec::new());
    } else {
        ("src".to_string(), path.strip_prefix("src/").unwrap_or(path))
    };
    let mut segments: Vec<String> = rest
        .trim_end_matches(".rs")
        .split('/')
        .map(String::from)
        .collect();
    if matches!(segments.last().map(String::as_str), Some("lib" | "mod")) {
        segments.pop();
    }
    (krate, segments)
}

pub struct Graph {
    pub edges: BTreeMap<String, BTreeSet<String>>,
    /// Files only compiled for tests (`tests.rs`, `#[cfg(test)] mod x;` and below).
    pub test_only: BTreeSet<String>,
}

pub fn build(sources: &[Source]) -> Graph {
    let mut modules: HashMap<ModKey, String> = HashMap::new();
    for source in sources {
        let (krate, module) = module_of(&source.path);
        for inline in &source.info.inline {
            let key = (krate.clone(), [module.clone(), inline.clone()].concat());
            modules.insert(key, source.path.clone());
        }
        modules.insert((krate, module), source.path.clone());
    }
    let test_only = test_only_files(sources);
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for source in sources.iter().filter(|s| !test_only.contains(&s.path)) {
        let targets = edges.entry(source.path.clone()).or_default();
        for target in file_edges(source, &modules) {
            if target != source.path {
                targets.insert(target);
            }
        }
    }
    Graph { edges, test_only }
}

fn test_only_files(sources: &[Source]) -> BTreeSet<String> {
    let mut test_roots: Vec<ModKey> = Vec::new();
    for source in sources {
        let (krate, module) = module_of(&source.path);
        for (scope, name, test) in &source.info.children {
            if *test || name == "tests" {
                test_roots.push((
                    krate.clone(),
                    [module.clone(), scope.clone(), vec![name.clone()]].concat(),
                ));
            }
        }
    }
    sources
        .iter()
        .filter(|s| {
            let (krate, module) = module_of(&s.path);
            s.path.ends_with("/tests.rs")
                || test_roots
                    .iter()
                    .any(|(k, m)| *k == krate && module.starts_with(m))
        })
        .map(|s| s.path.clone())
        .collect()
}

/// Every file `source` names; module aliases bound by its `use`s count for inline paths.
fn file_edges(source: &Source, modules: &HashMap<ModKey, String>) -> Vec<String> {
    let (krate, module) = module_of(&source.path);
    let resolver = Resolver {
        krate: &krate,
        module: &module,
        modules,
        aliases: HashMap::new(),
    };
    let mut aliases = HashMap::new();
    let mut out = Vec::new();
    for path in source.info.paths.iter().filter(|p| p.is_use) {
        if let Some((key, whole)) = resolver.resolve(path) {
            if let (true, Some(name)) = (whole, &path.binds) {
                aliases.insert(name.clone(), key.clone());
            }
            out.push(modules[&key].clone());
        }
    }
    let resolver = Resolver {
        aliases,
        ..resolver
    };
    for path in source.info.paths.iter().filter(|p| !p.is_use) {
        if let Some((key, _)) = resolver.resolve(path) {
            out.push(modules[&key].clone());
        }
    }
    out
}

struct Resolver<'a> {
    krate: &'a str,
    module: &'a [String],
    modules: &'a HashMap<ModKey, String>,
    aliases: HashMap<String, ModKey>,
}

impl Resolver<'_> {
    /// The deepest module `path` names, and whether every segment was a module;
    /// `None` for paths outside these crates (std, other crates, local names).
    fn resolve(&self, path: &PathRef) -> Option<(ModKey, bool)> {
        let here: Vec<String> = [self.module, &path.scope].concat();
        let (first, rest) = path.segments.split_first()?;
        let mut current: ModKey = match first.as_str() {
            "crate" => (self.krate.to_string(), Vec::new()),
            "self" => (self.krate.to_string(), here),
            "super" => (
                self.krate.to_string(),
                here[..here.len().saturating_sub(1)].to_vec(),
            ),
            "smoker_compat" if self.krate != "compat" => ("compat".into(), Vec::new()),
            "smoker" if self.krate.starts_with("bin:") => ("src".into(), Vec::new()),
            name => match self.aliases.get(name) {
                Some(key) => key.clone(),
                None => {
                    let child = (
                        self.krate.to_string(),
                        [here, vec![name.to_string()]].concat(),
                    );
                    self.modules.contains_key(&child).then_some(child)?
                }
            },
        };
        let mut whole = true;
        for segment in rest {
            let next = (
                current.0.clone(),
                [current.1.clone(), vec![segment.clone()]].concat(),
            );
            if segment == "super" && first == "super" && whole {
                current.1.pop();
            } else if self.modules.contains_key(&next) {
                current = next;
            } else {
                whole = false;
                break;
            }
        }
        self.modules
            .contains_key(&current)
            .then_some((current, whole))
    }
}

/// Strongly connected components with more than one file (Tarjan), each sorted.
pub fn cycles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct State<'a> {
        edges: &'a BTreeMap<String, BTreeSet<String>>,
        index: HashMap<&'a str, usize>,
        low: HashMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in s.edges.get(v).into_iter().flatten() {
            if !s.index.contains_key(w.as_str()) {
                visit(s, w);
                let low = s.low[v].min(s.low[w.as_str()]);
                s.low.insert(v, low);
            } else if s.on_stack.contains(w.as_str()) {
                let low = s.low[v].min(s.index[w.as_str()]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.out.push(component);
            }
        }
    }
    let mut state = State {
        edges,
        index: HashMap::new(),
        low: HashMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in edges.keys() {
        if !state.index.contains_key(v.as_str()) {
            visit(&mut state, v);
        }
    }
    state.out
}
