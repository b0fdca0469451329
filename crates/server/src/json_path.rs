//! Where a value sits in a request body, for error messages, written out only when an error
//! names it.
//!
//! Why lazy: building every path as a `String` up front cost a `format!` per field read,
//! about 3,000 instructions per template send, all on the success path (BENCHMARKS.md).
//! Two notations, as Meta's own messages use them: send bodies name fields in brackets
//! (`template['components'][0]['type']`), the template components of a send in dots
//! (`template.components[0].parameters[1].text`).

use std::fmt;

/// A path: a root written out in full, then keys and indexes.
#[derive(Clone, Copy, Debug)]
pub enum JsonPath<'a> {
    /// A root in Meta's bracket notation: `text['body']`; its keys print as `['key']`.
    Str(&'a str),
    /// A root in dotted notation: `template.components`; its keys print as `.key`.
    Dotted(&'a str),
    /// `parent` then a key.
    Key(&'a JsonPath<'a>, &'a str),
    /// `parent[index]`.
    Index(&'a JsonPath<'a>, usize),
}

impl<'a> JsonPath<'a> {
    /// `self` then the key `k`.
    pub fn key(&'a self, k: &'a str) -> JsonPath<'a> {
        JsonPath::Key(self, k)
    }

    /// `self[i]`.
    pub fn idx(&'a self, i: usize) -> JsonPath<'a> {
        JsonPath::Index(self, i)
    }

    /// Whether keys print in dots (the root's notation).
    fn dotted(&self) -> bool {
        match self {
            JsonPath::Str(_) => false,
            JsonPath::Dotted(_) => true,
            JsonPath::Key(parent, _) | JsonPath::Index(parent, _) => parent.dotted(),
        }
    }
}

impl fmt::Display for JsonPath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JsonPath::Str(s) | JsonPath::Dotted(s) => f.write_str(s),
            JsonPath::Key(parent, k) if parent.dotted() => write!(f, "{parent}.{k}"),
            JsonPath::Key(parent, k) => write!(f, "{parent}['{k}']"),
            JsonPath::Index(parent, i) => write!(f, "{parent}[{i}]"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_notations_print_as_meta_writes_them() {
        let root = JsonPath::Str("template['components']");
        let c = root.idx(0);
        assert_eq!(
            c.key("type").to_string(),
            "template['components'][0]['type']"
        );
        let root = JsonPath::Dotted("template.components");
        let c = root.idx(1);
        let p = c.key("parameters");
        assert_eq!(
            p.idx(2).key("text").to_string(),
            "template.components[1].parameters[2].text"
        );
    }
}
