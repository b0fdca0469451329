//! Longest-prefix lookup of calling codes: the one mechanism behind [`crate::market`] and
//! [`crate::country`], which both map a number to what its longest matching prefix says.
//!
//! A digit trie: a lookup walks at most [`MAX_PREFIX`] nodes, one array index per digit.
//! Measured (BENCHMARKS.md, callgrind): one hash lookup per prefix length, longest first,
//! was ~900 instructions a lookup, and every send looks its user's country up.

use crate::wa_id::WaId;

/// Calling-code prefixes are at most this long (`262269`, Mayotte, is the longest shipped).
pub const MAX_PREFIX: u32 = 6;

/// Prefixes of digits to values of `T`.
#[derive(Debug, Clone)]
pub struct PrefixTrie<T> {
    /// `nodes[0]` is the root (the empty prefix).
    nodes: Vec<Node<T>>,
    /// How many prefixes have a value.
    len: usize,
}

/// A node: the node of each next digit (0: none, as the root is nobody's child) and the
/// value of the prefix that ends here.
#[derive(Debug, Clone)]
struct Node<T> {
    next: [u32; 10],
    value: Option<T>,
}

impl<T> Node<T> {
    fn new() -> Self {
        Node {
            next: [0; 10],
            value: None,
        }
    }
}

impl<T: Copy> Default for PrefixTrie<T> {
    fn default() -> Self {
        PrefixTrie {
            nodes: vec![Node::new()],
            len: 0,
        }
    }
}

impl<T: Copy> PrefixTrie<T> {
    /// Whether `s` can be a prefix: 1 to [`MAX_PREFIX`] ASCII digits. Callers check it
    /// before [`PrefixTrie::insert`], to name the offending line.
    pub fn is_prefix(s: &str) -> bool {
        !s.is_empty() && s.len() <= MAX_PREFIX as usize && s.bytes().all(|b| b.is_ascii_digit())
    }

    /// Gives `digits` to `value`; the value it had before, if any. `digits` must pass
    /// [`PrefixTrie::is_prefix`] (non-digits are read as 9; a table has a few thousand
    /// nodes at most, so a node's index always fits the `u32` of `next`).
    pub fn insert(&mut self, digits: &str, value: T) -> Option<T> {
        debug_assert!(Self::is_prefix(digits), "{digits}");
        let mut at = 0usize;
        for d in digits.bytes() {
            let d = usize::from(d.wrapping_sub(b'0')).min(9);
            let next = self.nodes[at].next[d] as usize;
            at = if next != 0 {
                next
            } else {
                self.nodes.push(Node::new());
                let new = self.nodes.len() - 1;
                self.nodes[at].next[d] = new as u32;
                new
            };
        }
        let previous = self.nodes[at].value.replace(value);
        if previous.is_none() {
            self.len += 1;
        }
        previous
    }

    /// The value of the longest prefix of `number` that has one.
    pub fn resolve(&self, number: WaId) -> Option<T> {
        // The number's first (at most) MAX_PREFIX digits, most significant first.
        let mut head = number.prefix(MAX_PREFIX);
        let n = MAX_PREFIX.min(number.len()) as usize;
        let mut digits = [0u8; MAX_PREFIX as usize];
        for d in digits[..n].iter_mut().rev() {
            *d = (head % 10) as u8;
            head /= 10;
        }
        let mut at = 0usize;
        let mut found = None;
        for &d in &digits[..n] {
            match self.nodes.get(at).map(|node| node.next[usize::from(d)]) {
                Some(next) if next != 0 => at = next as usize,
                _ => break,
            }
            if let Some(v) = self.nodes.get(at).and_then(|node| node.value) {
                found = Some(v);
            }
        }
        found
    }

    /// How many prefixes have a value.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}
