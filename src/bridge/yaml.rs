//! A YAML document as a tree of positioned nodes, built from saphyr-parser's events.
//!
//! Why our own tree: import reports name `file:line` for every item, so each node keeps
//! the line and column it starts at; aliases are expanded here with a budget (a
//! "billion laughs" file must fail cleanly, not eat the memory) and `<<` merge keys,
//! common in compose files, are applied. Nesting is bounded so that neither building
//! nor dropping a tree can overflow the stack, whatever the input.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

/// Deeper nesting than any compose file needs; it bounds recursion over the tree.
const MAX_DEPTH: usize = 64;
/// Nodes a document may expand to, counting every alias copy.
const MAX_NODES: usize = 200_000;

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// 1-based line and column of the node's first character.
    pub line: usize,
    pub col: usize,
    pub value: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A scalar's text; `plain` is false for quoted and block scalars (so `"null"` is
    /// a string, `null` is not).
    Scalar {
        text: String,
        plain: bool,
    },
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

/// A parse failure at a position.
#[derive(Debug, Clone, PartialEq)]
pub struct YamlError {
    pub line: usize,
    pub col: usize,
    pub message: String,
}

impl Node {
    /// The text of a scalar (numbers and booleans keep the text as written).
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    /// `null`, `~` or nothing, unquoted.
    pub fn is_null(&self) -> bool {
        matches!(&self.value, Value::Scalar { text, plain: true }
            if matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }

    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Seq(s) => Some(s),
            _ => None,
        }
    }

    /// The value under a key of a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v)
    }

    /// `true`/`false` as YAML 1.2 (and compose) spell them.
    pub fn as_bool(&self) -> Option<bool> {
        match self.as_str()? {
            "true" | "True" | "TRUE" => Some(true),
            "false" | "False" | "FALSE" => Some(false),
            _ => None,
        }
    }

    /// A short name of the node's kind, for messages.
    pub fn kind(&self) -> &'static str {
        match &self.value {
            _ if self.is_null() => "null",
            Value::Scalar { .. } => "a scalar",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

/// Parses one YAML document. An empty input is an empty mapping's absence: `Ok(None)`.
pub fn parse(source: &str) -> Result<Option<Node>, YamlError> {
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(source);
    let mut documents = 0;
    while let Some(event) = parser.next_event() {
        let (event, span) = event.map_err(|e| YamlError {
            line: e.marker().line(),
            col: e.marker().col() + 1,
            message: e.info().to_string(),
        })?;
        if let Event::DocumentStart(_) = event {
            documents += 1;
            if documents > 1 {
                return Err(builder.error(
                    span,
                    "a second YAML document (`---`): a compose file holds one",
                ));
            }
        }
        builder.event(event, span)?;
    }
    Ok(builder.root)
}

enum Open {
    Seq(Node, usize),
    /// A mapping being filled, a key waiting for its value, and the anchor.
    Map(Node, Option<Node>, usize),
}

#[derive(Default)]
struct Builder {
    stack: Vec<Open>,
    anchors: HashMap<usize, Node>,
    nodes: usize,
    root: Option<Node>,
}

impl Builder {
    fn error(&self, span: Span, message: impl Into<String>) -> YamlError {
        YamlError {
            line: span.start.line(),
            col: span.start.col() + 1,
            message: message.into(),
        }
    }

    fn node(span: Span, value: Value) -> Node {
        Node {
            line: span.start.line(),
            col: span.start.col() + 1,
            value,
        }
    }

    fn event(&mut self, event: Event<'_>, span: Span) -> Result<(), YamlError> {
        match event {
            Event::Scalar(text, style, anchor, _tag) => {
                let plain = style == ScalarStyle::Plain;
                let node = Self::node(
                    span,
                    Value::Scalar {
                        text: text.into_owned(),
                        plain,
                    },
                );
                self.count(1, span)?;
                self.finish(node, anchor, span)
            }
            Event::Alias(id) => {
                let Some(target) = self.anchors.get(&id) else {
                    return Err(self.error(span, "an alias to an unknown anchor"));
                };
                let mut copy = target.clone();
                self.count(size(&copy), span)?;
                // The copy reports the alias's position: that is where it is used.
                copy.line = span.start.line();
                copy.col = span.start.col() + 1;
                self.finish(copy, 0, span)
            }
            Event::SequenceStart(anchor, _) => {
                self.open(span)?;
                self.stack
                    .push(Open::Seq(Self::node(span, Value::Seq(Vec::new())), anchor));
                Ok(())
            }
            Event::MappingStart(anchor, _) => {
                self.open(span)?;
                self.stack.push(Open::Map(
                    Self::node(span, Value::Map(Vec::new())),
                    None,
                    anchor,
                ));
                Ok(())
            }
            Event::SequenceEnd => match self.stack.pop() {
                Some(Open::Seq(node, anchor)) => self.finish(node, anchor, span),
                _ => Err(self.error(span, "unbalanced end of a list")),
            },
            Event::MappingEnd => match self.stack.pop() {
                Some(Open::Map(mut node, _, anchor)) => {
                    apply_merge_keys(&mut node);
                    self.finish(node, anchor, span)
                }
                _ => Err(self.error(span, "unbalanced end of a mapping")),
            },
            Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart(_)
            | Event::DocumentEnd
            | Event::Nothing => Ok(()),
        }
    }

    fn open(&mut self, span: Span) -> Result<(), YamlError> {
        self.count(1, span)?;
        if self.stack.len() >= MAX_DEPTH {
            return Err(self.error(span, format!("nested deeper than {MAX_DEPTH} levels")));
        }
        Ok(())
    }

    fn count(&mut self, n: usize, span: Span) -> Result<(), YamlError> {
        self.nodes = self.nodes.saturating_add(n);
        if self.nodes > MAX_NODES {
            return Err(self.error(
                span,
                format!("the document expands to more than {MAX_NODES} nodes (aliases?)"),
            ));
        }
        Ok(())
    }

    /// Puts a completed node into its parent (or makes it the root).
    fn finish(&mut self, node: Node, anchor: usize, span: Span) -> Result<(), YamlError> {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => {
                self.root = Some(node);
                Ok(())
            }
            Some(Open::Seq(parent, _)) => {
                if let Value::Seq(items) = &mut parent.value {
                    items.push(node);
                }
                Ok(())
            }
            Some(Open::Map(parent, pending, _)) => match pending.take() {
                None => {
                    if !matches!(node.value, Value::Scalar { .. }) {
                        return Err(self.error(span, "a mapping key must be a plain value"));
                    }
                    *pending = Some(node);
                    Ok(())
                }
                Some(key) => {
                    if let Value::Map(entries) = &mut parent.value {
                        entries.push((key, node));
                    }
                    Ok(())
                }
            },
        }
    }
}

/// Counts the nodes of a tree (bounded by MAX_DEPTH, so the recursion is too).
fn size(node: &Node) -> usize {
    match &node.value {
        Value::Scalar { .. } => 1,
        Value::Seq(items) => 1 + items.iter().map(size).sum::<usize>(),
        Value::Map(entries) => {
            1 + entries
                .iter()
                .map(|(k, v)| size(k) + size(v))
                .sum::<usize>()
        }
    }
}

/// `<<: *base` (or a list of them): the base's entries that the mapping does not set
/// itself are added, as compose (and YAML 1.1's merge type) does.
fn apply_merge_keys(node: &mut Node) {
    let Value::Map(entries) = &mut node.value else {
        return;
    };
    if !entries
        .iter()
        .any(|(k, _)| matches!(&k.value, Value::Scalar { text, plain: true } if text == "<<"))
    {
        return;
    }
    let (merges, mut own): (Vec<_>, Vec<_>) = std::mem::take(entries).into_iter().partition(
        |(k, _)| matches!(&k.value, Value::Scalar { text, plain: true } if text == "<<"),
    );
    for (_, source) in merges {
        let bases: Vec<Node> = match source.value {
            Value::Seq(items) => items,
            _ => vec![source],
        };
        for base in bases {
            if let Value::Map(base_entries) = base.value {
                for (k, v) in base_entries {
                    if !own.iter().any(|(o, _)| o.as_str() == k.as_str()) {
                        own.push((k, v));
                    }
                }
            }
        }
    }
    *entries = own;
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn positions_and_kinds() {
        let doc = parse("a: 1\nb:\n  - x\n  - 'null'\nc: null\n")
            .unwrap()
            .unwrap();
        let b = doc.get("b").unwrap();
        assert_eq!((b.line, b.col), (3, 3));
        let items = b.as_seq().unwrap();
        assert_eq!(items[1].as_str(), Some("null"));
        assert!(!items[1].is_null());
        assert!(doc.get("c").unwrap().is_null());
        assert_eq!(doc.get("a").unwrap().line, 1);
    }

    #[test]
    fn merge_keys_and_aliases() {
        let doc =
            parse("base: &b\n  image: x\n  restart: always\nsvc:\n  <<: *b\n  restart: 'no'\n")
                .unwrap()
                .unwrap();
        let svc = doc.get("svc").unwrap();
        assert_eq!(svc.get("image").unwrap().as_str(), Some("x"));
        assert_eq!(svc.get("restart").unwrap().as_str(), Some("no"));
        assert!(svc.get("<<").is_none());
    }

    #[test]
    fn bombs_and_depth_fail_cleanly() {
        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 0..12 {
            let prev = if i == 0 {
                "a".to_string()
            } else {
                format!("l{}", i - 1)
            };
            bomb.push_str(&format!(
                "l{i}: &l{i} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
            ));
        }
        assert!(parse(&bomb).unwrap_err().message.contains("expands"));
        let deep = "[".repeat(10_000);
        assert!(parse(&deep).is_err());
        assert!(parse("a: 1\n---\nb: 2\n").is_err());
        assert_eq!(parse("").unwrap(), None);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        // Any text, and text made of YAML's own punctuation, parses or fails: never panics.
        #[test]
        fn never_panics_on_any_text(s in "\\PC{0,200}") {
            let _ = parse(&s);
        }

        #[test]
        fn never_panics_on_yaml_punctuation(s in "[-:&*!|>'\"\\[\\]{},#%@`?<= \na-c0-9\t]{0,120}") {
            let _ = parse(&s);
        }
    }
}
