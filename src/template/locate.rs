//! Where a JSON value sits in the text it was parsed from: ARM's template errors name a line and a
//! column (and the property path). A small scanner that walks the text to a path. Pure: no I/O.

/// One step of a JSON path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Idx(usize),
}

/// `properties.template.resources[0].name`
pub fn path_string(path: &[Seg]) -> String {
    let mut out = String::new();
    for s in path {
        match s {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Seg::Idx(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// 1-based (line, column) of the value at `path` in `text`, or of the deepest prefix found.
pub fn locate(text: &[u8], path: &[Seg]) -> (usize, usize) {
    let mut sc = Scanner { s: text, i: 0 };
    sc.ws();
    let mut found = sc.i;
    let _ = sc.descend(path, &mut found);
    line_col(text, found)
}

fn line_col(text: &[u8], at: usize) -> (usize, usize) {
    let at = at.min(text.len());
    let mut line = 1;
    let mut col = 1;
    for b in &text[..at] {
        if *b == b'\n' {
            line += 1;
            col = 1;
        } else {
            col += 1;
        }
    }
    (line, col)
}

struct Scanner<'a> {
    s: &'a [u8],
    i: usize,
}

impl Scanner<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() {
            match self.s[self.i] {
                b' ' | b'\n' | b'\r' | b'\t' => self.i += 1,
                b'/' if self.s.get(self.i + 1) == Some(&b'/') => {
                    while self.i < self.s.len() && self.s[self.i] != b'\n' {
                        self.i += 1;
                    }
                }
                b'/' if self.s.get(self.i + 1) == Some(&b'*') => {
                    self.i += 2;
                    while self.i + 1 < self.s.len()
                        && !(self.s[self.i] == b'*' && self.s[self.i + 1] == b'/')
                    {
                        self.i += 1;
                    }
                    self.i += 2;
                }
                _ => return,
            }
        }
    }

    /// At the start of a value: walk `path` inside it, recording each reached value's start.
    fn descend(&mut self, path: &[Seg], found: &mut usize) -> Option<()> {
        *found = self.i;
        let Some(first) = path.first() else {
            return Some(());
        };
        match (self.s.get(self.i)?, first) {
            (b'{', Seg::Key(want)) => {
                self.i += 1;
                loop {
                    self.ws();
                    if self.s.get(self.i)? == &b'}' {
                        return None;
                    }
                    let key = self.string()?;
                    self.ws();
                    if self.s.get(self.i)? != &b':' {
                        return None;
                    }
                    self.i += 1;
                    self.ws();
                    if key.eq_ignore_ascii_case(want) {
                        return self.descend(&path[1..], found);
                    }
                    self.skip()?;
                    self.ws();
                    if self.s.get(self.i)? == &b',' {
                        self.i += 1;
                    }
                }
            }
            (b'[', Seg::Idx(want)) => {
                self.i += 1;
                let mut n = 0;
                loop {
                    self.ws();
                    if self.s.get(self.i)? == &b']' {
                        return None;
                    }
                    if n == *want {
                        return self.descend(&path[1..], found);
                    }
                    self.skip()?;
                    n += 1;
                    self.ws();
                    if self.s.get(self.i)? == &b',' {
                        self.i += 1;
                    }
                }
            }
            _ => None,
        }
    }

    fn string(&mut self) -> Option<String> {
        if self.s.get(self.i)? != &b'"' {
            return None;
        }
        self.i += 1;
        let start = self.i;
        while self.s.get(self.i)? != &b'"' {
            if self.s[self.i] == b'\\' {
                self.i += 1;
            }
            self.i += 1;
        }
        let raw = String::from_utf8_lossy(&self.s[start..self.i]).into_owned();
        self.i += 1;
        Some(serde_json::from_str::<String>(&format!("\"{raw}\"")).unwrap_or(raw))
    }

    fn skip(&mut self) -> Option<()> {
        self.ws();
        match self.s.get(self.i)? {
            b'"' => {
                self.string()?;
            }
            b'{' | b'[' => {
                let mut depth = 0usize;
                loop {
                    match self.s.get(self.i)? {
                        b'"' => {
                            self.string()?;
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth -= 1;
                            if depth == 0 {
                                self.i += 1;
                                return Some(());
                            }
                        }
                        _ => {}
                    }
                    self.i += 1;
                }
            }
            _ => {
                while self.i < self.s.len() && !matches!(self.s[self.i], b',' | b'}' | b']') {
                    self.i += 1;
                }
            }
        }
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_nested_values() {
        let text = b"{\n  \"a\": 1,\n  \"b\": [ {\"x\": \"[1]\"}, {\"y\": {\"z\": true}} ]\n}";
        let path = vec![Seg::Key("b".into()), Seg::Idx(1), Seg::Key("y".into())];
        assert_eq!(locate(text, &path), (3, 30));
        assert_eq!(path_string(&path), "b[1].y");
        assert_eq!(locate(text, &[Seg::Key("a".into())]), (2, 8));
        // a missing key reports the deepest value reached
        assert_eq!(locate(text, &[Seg::Key("b".into()), Seg::Idx(9)]), (3, 8));
    }
}
