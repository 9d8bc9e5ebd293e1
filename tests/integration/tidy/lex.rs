//! A small Rust lexer for the tidy checks: identifiers and punctuation with their line,
//! comments, strings and char literals dropped (so names in docs and text are not code).

/// One token of code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tok {
    Ident(String),
    /// `::` or a single punctuation character.
    Punct(&'static str, char),
    /// A string, char or number literal (its text is of no interest).
    Lit,
}

#[derive(Debug, Clone)]
pub struct Token {
    pub tok: Tok,
    pub line: usize,
}

impl Token {
    pub fn is_ident(&self, name: &str) -> bool {
        matches!(&self.tok, Tok::Ident(i) if i == name)
    }

    pub fn ident(&self) -> Option<&str> {
        match &self.tok {
            Tok::Ident(i) => Some(i),
            _ => None,
        }
    }

    pub fn is(&self, c: char) -> bool {
        matches!(self.tok, Tok::Punct("", p) if p == c)
    }

    pub fn is_path_sep(&self) -> bool {
        matches!(self.tok, Tok::Punct("::", _))
    }
}

struct Lexer {
    chars: Vec<char>,
    pos: usize,
    line: usize,
    out: Vec<Token>,
}

/// Tokens of `source`.
pub fn lex(source: &str) -> Vec<Token> {
    let mut lexer = Lexer {
        chars: source.chars().collect(),
        pos: 0,
        line: 1,
        out: Vec::new(),
    };
    while lexer.pos < lexer.chars.len() {
        lexer.step();
    }
    lexer.out
}

impl Lexer {
    fn at(&self, offset: usize) -> char {
        self.chars.get(self.pos + offset).copied().unwrap_or('\0')
    }

    fn bump(&mut self) -> char {
        let c = self.at(0);
        self.pos += 1;
        if c == '\n' {
            self.line += 1;
        }
        c
    }

    fn push(&mut self, tok: Tok, line: usize) {
        self.out.push(Token { tok, line });
    }

    fn step(&mut self) {
        let line = self.line;
        let c = self.at(0);
        match c {
            c if c.is_whitespace() => {
                self.bump();
            }
            '/' if self.at(1) == '/' => self.line_comment(),
            '/' if self.at(1) == '*' => self.block_comment(),
            '"' => self.string(line),
            '\'' => self.quote(line),
            c if c.is_alphabetic() || c == '_' => self.word(line),
            c if c.is_ascii_digit() => {
                while self.at(0).is_alphanumeric() || self.at(0) == '_' {
                    self.bump();
                }
                self.push(Tok::Lit, line);
            }
            ':' if self.at(1) == ':' => {
                self.pos += 2;
                self.push(Tok::Punct("::", ':'), line);
            }
            c => {
                self.bump();
                self.push(Tok::Punct("", c), line);
            }
        }
    }

    fn line_comment(&mut self) {
        while self.pos < self.chars.len() && self.at(0) != '\n' {
            self.bump();
        }
    }

    fn block_comment(&mut self) {
        let mut depth = 0;
        while self.pos < self.chars.len() {
            if self.at(0) == '/' && self.at(1) == '*' {
                depth += 1;
                self.pos += 2;
            } else if self.at(0) == '*' && self.at(1) == '/' {
                depth -= 1;
                self.pos += 2;
                if depth == 0 {
                    return;
                }
            } else {
                self.bump();
            }
        }
    }

    /// A `"…"` string with escapes (the opening quote is at `pos`).
    fn string(&mut self, line: usize) {
        self.bump();
        while self.pos < self.chars.len() {
            match self.bump() {
                '\\' => {
                    self.bump();
                }
                '"' => break,
                _ => {}
            }
        }
        self.push(Tok::Lit, line);
    }

    /// `r"…"`, `r#"…"#` (the `r` is consumed, `pos` is at `#` or `"`).
    fn raw_string(&mut self, line: usize) {
        let mut hashes = 0;
        while self.at(0) == '#' {
            hashes += 1;
            self.bump();
        }
        self.bump();
        while self.pos < self.chars.len() {
            if self.bump() == '"' && (0..hashes).all(|i| self.at(i) == '#') {
                self.pos += hashes;
                break;
            }
        }
        self.push(Tok::Lit, line);
    }

    /// A char literal (`'a'`, `'\n'`) or a lifetime / label (`'a`, `'static`).
    fn quote(&mut self, line: usize) {
        if self.at(1) == '\\' {
            // The quote, the backslash and the escaped character, then up to the close.
            self.pos += 3;
            while self.pos < self.chars.len() && self.bump() != '\'' {}
            self.push(Tok::Lit, line);
        } else if self.at(2) == '\'' {
            self.pos += 3;
            self.push(Tok::Lit, line);
        } else {
            self.bump();
            while self.at(0).is_alphanumeric() || self.at(0) == '_' {
                self.bump();
            }
        }
    }

    fn word(&mut self, line: usize) {
        let start = self.pos;
        while self.at(0).is_alphanumeric() || self.at(0) == '_' {
            self.bump();
        }
        let word: String = self.chars[start..self.pos].iter().collect();
        let prefix = matches!(word.as_str(), "b" | "c");
        let raw = matches!(word.as_str(), "r" | "br" | "cr");
        if raw && (self.at(0) == '"' || (self.at(0) == '#' && matches!(self.at(1), '"' | '#'))) {
            self.raw_string(line);
        } else if prefix && self.at(0) == '"' {
            self.string(line);
        } else if word == "b" && self.at(0) == '\'' {
            self.quote(line);
        } else {
            self.push(Tok::Ident(word), line);
        }
    }
}

#[test]
fn lexer_drops_comments_strings_and_chars() {
    let tokens = lex("a::b // c::d\n/* e /* f */ */ \"g::h\" r#\"i\"# 'j' '\\'' 'k x");
    let idents: Vec<&str> = tokens.iter().filter_map(Token::ident).collect();
    assert_eq!(idents, ["a", "b", "x"]);
    assert_eq!(tokens.last().map(|t| t.line), Some(2));
}
