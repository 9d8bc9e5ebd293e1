//! What the tidy checks need from one source file: module declarations, `use` trees,
//! inline paths, and functions with their line span. Test-only code (`#[cfg(test)]` items)
//! is left out, except that a test-only `mod x;` is recorded so its file is skipped too.

use super::lex::{Tok, Token, lex};

/// A path the file names: module scope it appears in (relative to the file's module),
/// its segments, and for a `use`, the name it binds.
#[derive(Debug, Clone)]
pub struct PathRef {
    pub scope: Vec<String>,
    pub segments: Vec<String>,
    pub binds: Option<String>,
    pub is_use: bool,
}

#[derive(Debug, Clone)]
pub struct Function {
    pub name: String,
    pub line: usize,
    pub lines: usize,
}

#[derive(Debug, Default)]
pub struct FileInfo {
    /// `mod x;` children: (scope, name, test-only).
    pub children: Vec<(Vec<String>, String, bool)>,
    /// `mod x { … }` modules (scope path including the module).
    pub inline: Vec<Vec<String>>,
    pub paths: Vec<PathRef>,
    pub functions: Vec<Function>,
}

const EOF: Token = Token {
    tok: Tok::Lit,
    line: 0,
};

struct Parser {
    t: Vec<Token>,
    /// Index of the matching closer for every `{`, `(` and `[`.
    closer: Vec<usize>,
    scopes: Vec<(Vec<String>, usize)>,
    info: FileInfo,
}

pub fn parse(source: &str) -> FileInfo {
    let t = lex(source);
    let closer = match_brackets(&t);
    let mut p = Parser {
        t,
        closer,
        scopes: vec![(Vec::new(), usize::MAX)],
        info: FileInfo::default(),
    };
    let mut i = 0;
    while i < p.t.len() {
        while p.scopes.len() > 1 && p.scopes.last().is_some_and(|s| s.1 <= i) {
            p.scopes.pop();
        }
        i = p.item(i);
    }
    p.info
}

fn match_brackets(t: &[Token]) -> Vec<usize> {
    let mut closer = vec![usize::MAX; t.len()];
    let mut open = Vec::new();
    for (i, token) in t.iter().enumerate() {
        if token.is('{') || token.is('(') || token.is('[') {
            open.push(i);
        } else if token.is('}') || token.is(')') || token.is(']') {
            if let Some(o) = open.pop() {
                closer[o] = i;
            }
        }
    }
    closer
}

impl Parser {
    fn at(&self, i: usize) -> &Token {
        self.t.get(i).unwrap_or(&EOF)
    }

    fn scope(&self) -> Vec<String> {
        self.scopes.last().map(|s| s.0.clone()).unwrap_or_default()
    }

    /// Handles the token at `i`; returns where to go on.
    fn item(&mut self, i: usize) -> usize {
        let token = self.at(i).clone();
        if token.is('#') && self.at(i + 1).is('[') {
            let end = self.closer[i + 1].min(self.t.len() - 1);
            if self.is_cfg_test(i + 2, end) {
                return self.skip_test_item(end + 1);
            }
            return end + 1;
        }
        match token.ident() {
            Some("mod") => self.module(i),
            Some("use") => self.use_decl(i + 1),
            Some("fn") => {
                self.function(i);
                i + 2
            }
            Some(_)
                if !self.at(i.wrapping_sub(1)).is_path_sep()
                    && !self.at(i.wrapping_sub(1)).is('.') =>
            {
                self.inline_path(i)
            }
            _ => i + 1,
        }
    }

    fn is_cfg_test(&self, start: usize, end: usize) -> bool {
        let words: Vec<String> = (start..end)
            .map(|j| match &self.at(j).tok {
                Tok::Ident(w) => w.clone(),
                Tok::Punct(_, c) => c.to_string(),
                Tok::Lit => "\"".into(),
            })
            .collect();
        words == ["cfg", "(", "test", ")"]
    }

    /// Skips the item after a `#[cfg(test)]` (more attributes, then up to its `;`, its
    /// block, or a `,` / closing brace of the enclosing list); records `mod x;`.
    fn skip_test_item(&mut self, mut i: usize) -> usize {
        while self.at(i).is('#') && self.at(i + 1).is('[') {
            i = self.closer[i + 1].saturating_add(1);
        }
        if self.at(i).is_ident("mod") && self.at(i + 2).is(';') {
            let name = self.at(i + 1).ident().unwrap_or_default().to_string();
            self.info.children.push((self.scope(), name, true));
        }
        while i < self.t.len() {
            let token = self.at(i);
            if token.is('{') {
                return self.closer[i].saturating_add(1);
            }
            if token.is('(') || token.is('[') {
                i = self.closer[i];
            } else if token.is(';') || token.is(',') {
                return i + 1;
            } else if token.is('}') {
                return i;
            }
            i += 1;
        }
        i
    }

    fn module(&mut self, i: usize) -> usize {
        let Some(name) = self.at(i + 1).ident().map(str::to_string) else {
            return i + 1;
        };
        if self.at(i + 2).is(';') {
            self.info.children.push((self.scope(), name, false));
        } else if self.at(i + 2).is('{') {
            let mut scope = self.scope();
            scope.push(name);
            self.info.inline.push(scope.clone());
            self.scopes.push((scope, self.closer[i + 2]));
        }
        i + 3
    }

    fn function(&mut self, i: usize) {
        let Some(name) = self.at(i + 1).ident().map(str::to_string) else {
            return;
        };
        let mut j = i + 2;
        while j < self.t.len() {
            let token = self.at(j);
            if token.is('{') {
                let end = self.at(self.closer[j]).line;
                let line = self.at(i).line;
                let lines = end + 1 - line;
                self.info.functions.push(Function { name, line, lines });
                return;
            }
            if token.is(';') || token.is('}') {
                return;
            }
            if token.is('(') || token.is('[') {
                j = self.closer[j];
            }
            j += 1;
        }
    }

    /// `ident(::ident)+`, stopping before a turbofish.
    fn inline_path(&mut self, mut i: usize) -> usize {
        let mut segments = vec![self.at(i).ident().unwrap_or_default().to_string()];
        while self.at(i + 1).is_path_sep() {
            match self.at(i + 2).ident() {
                Some(name) => segments.push(name.to_string()),
                None => break,
            }
            i += 2;
        }
        if segments.len() > 1 {
            self.info.paths.push(PathRef {
                scope: self.scope(),
                segments,
                binds: None,
                is_use: false,
            });
        }
        i + 1
    }

    fn use_decl(&mut self, i: usize) -> usize {
        let mut out = Vec::new();
        let end = self.use_tree(i, Vec::new(), &mut out);
        let scope = self.scope();
        for (segments, binds) in out {
            self.info.paths.push(PathRef {
                scope: scope.clone(),
                segments,
                binds,
                is_use: true,
            });
        }
        end
    }

    /// One use tree from `i` under `prefix`; returns the index after it.
    fn use_tree(
        &self,
        mut i: usize,
        mut path: Vec<String>,
        out: &mut Vec<(Vec<String>, Option<String>)>,
    ) -> usize {
        if self.at(i).is_path_sep() {
            i += 1;
        }
        loop {
            let token = self.at(i);
            if token.is('*') {
                out.push((path, None));
                return i + 1;
            }
            if token.is('{') {
                return self.use_group(i + 1, &path, out);
            }
            let Some(name) = token.ident().map(str::to_string) else {
                return i + 1;
            };
            i += 1;
            if self.at(i).is_path_sep() {
                path.push(name);
                i += 1;
                continue;
            }
            let mut binds = name.clone();
            if self.at(i).is_ident("as") {
                binds = self.at(i + 1).ident().unwrap_or("_").to_string();
                i += 2;
            }
            if name != "self" {
                path.push(name);
            }
            out.push((path, Some(binds)));
            return i;
        }
    }

    fn use_group(
        &self,
        mut i: usize,
        path: &[String],
        out: &mut Vec<(Vec<String>, Option<String>)>,
    ) -> usize {
        while i < self.t.len() {
            if self.at(i).is('}') {
                return i + 1;
            }
            i = self.use_tree(i, path.to_vec(), out);
            if self.at(i).is(',') {
                i += 1;
            }
        }
        i
    }
}

#[test]
fn parser_reads_uses_paths_functions_and_skips_tests() {
    let source = "use crate::{a::B, c::{self as d, *}};\n\
                  mod e;\n#[cfg(test)]\nmod f;\n\
                  pub mod g { fn h() {\n super::x::Y::new(); }\n}\n\
                  #[cfg(test)]\nmod tests { use crate::z::W; }\n";
    let info = parse(source);
    let uses: Vec<String> = info
        .paths
        .iter()
        .map(|p| {
            format!(
                "{}:{}:{:?}",
                p.scope.join("/"),
                p.segments.join("::"),
                p.binds
            )
        })
        .collect();
    assert_eq!(
        uses,
        [
            ":crate::a::B:Some(\"B\")",
            ":crate::c:Some(\"d\")",
            ":crate::c:None",
            "g:super::x::Y::new:None",
        ]
    );
    assert_eq!(info.children.len(), 2);
    assert!(info.children[1].2, "f is test-only");
    assert_eq!(info.functions.len(), 1);
    assert_eq!((info.functions[0].line, info.functions[0].lines), (5, 2));
}
