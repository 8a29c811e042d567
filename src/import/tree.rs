//! A YAML document (and so any JSON one: JSON is YAML 1.2) as a tree whose every node knows
//! where it was written, for the importers' `file:line:col` errors. Built from saphyr-parser's
//! events: anchors and aliases are resolved, and a `<<` merge key (which compose files use for
//! shared blocks) folds a mapping in without overriding keys already there. Owns reading the
//! tree and saying what is wrong at a node; no format's meaning.

use std::collections::HashMap;
use std::sync::Arc;

use saphyr_parser::{Event, Parser, ScalarStyle, ScanError};

use crate::diag::{Diagnostic, Diagnostics, Source, Span};

/// One node and where it was written (byte offsets into the source).
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Value,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Entries in file order.
    Map(Vec<(Node, Node)>),
    Seq(Vec<Node>),
    /// The text, and whether it was quoted (a quoted `"true"` is a string, not a boolean).
    Scalar(String, bool),
}

/// Byte offset of every character index (saphyr's markers count characters).
fn byte_offsets(text: &str) -> Vec<usize> {
    text.char_indices()
        .map(|(b, _)| b)
        .chain(std::iter::once(text.len()))
        .collect()
}

struct Builder<'a> {
    offsets: &'a [usize],
    anchors: HashMap<usize, Node>,
}

impl Builder<'_> {
    fn byte(&self, char_index: usize) -> usize {
        self.offsets
            .get(char_index)
            .copied()
            .unwrap_or_else(|| *self.offsets.last().unwrap_or(&0))
    }

    fn span(&self, s: saphyr_parser::Span) -> Span {
        self.byte(s.start.index())..self.byte(s.end.index())
    }

    /// The node that starts with `first`, reading its children from `events`.
    fn node<'i, I>(
        &mut self,
        first: (Event<'i>, saphyr_parser::Span),
        events: &mut I,
    ) -> Result<Node, (String, Span)>
    where
        I: Iterator<Item = Result<(Event<'i>, saphyr_parser::Span), ScanError>>,
    {
        let (event, at) = first;
        let start = self.span(at);
        let (node, anchor) = match event {
            Event::Scalar(text, style, anchor, _) => (
                Node {
                    value: Value::Scalar(text.into_owned(), style != ScalarStyle::Plain),
                    span: start,
                },
                anchor,
            ),
            Event::Alias(id) => {
                let mut node = self
                    .anchors
                    .get(&id)
                    .cloned()
                    .ok_or(("an alias to an unknown anchor".to_string(), start.clone()))?;
                node.span = start;
                return Ok(node);
            }
            Event::SequenceStart(anchor, _) => {
                let mut items = Vec::new();
                let end = loop {
                    let e = self.next(events, &start)?;
                    if matches!(e.0, Event::SequenceEnd) {
                        break self.span(e.1).end;
                    }
                    items.push(self.node(e, events)?);
                };
                (
                    Node {
                        value: Value::Seq(items),
                        span: start.start..end.max(start.end),
                    },
                    anchor,
                )
            }
            Event::MappingStart(anchor, _) => {
                let mut entries: Vec<(Node, Node)> = Vec::new();
                let end = loop {
                    let e = self.next(events, &start)?;
                    if matches!(e.0, Event::MappingEnd) {
                        break self.span(e.1).end;
                    }
                    let key = self.node(e, events)?;
                    let v = self.next(events, &start)?;
                    let value = self.node(v, events)?;
                    if key.as_scalar() == Some("<<") {
                        merge(&mut entries, value);
                    } else {
                        // A key written here wins over one a merge brought in.
                        entries.retain(|(k, _)| {
                            k.as_scalar().is_none() || k.as_scalar() != key.as_scalar()
                        });
                        entries.push((key, value));
                    }
                };
                (
                    Node {
                        value: Value::Map(entries),
                        span: start.start..end.max(start.end),
                    },
                    anchor,
                )
            }
            other => return Err((format!("unexpected {other:?}"), start)),
        };
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        Ok(node)
    }

    /// The next event inside the node that began at `start`.
    fn next<'i, I>(
        &self,
        events: &mut I,
        start: &Span,
    ) -> Result<(Event<'i>, saphyr_parser::Span), (String, Span)>
    where
        I: Iterator<Item = Result<(Event<'i>, saphyr_parser::Span), ScanError>>,
    {
        match events.next() {
            Some(Ok(e)) => Ok(e),
            Some(Err(e)) => Err(self.scan_error(&e)),
            None => Err(("the document ends too early".into(), start.clone())),
        }
    }

    fn scan_error(&self, e: &ScanError) -> (String, Span) {
        let at = self.byte(e.marker().index());
        (e.info().to_string(), at..at)
    }
}

/// Folds the mapping(s) of a `<<` merge key into `entries`, keeping keys already there.
fn merge(entries: &mut Vec<(Node, Node)>, value: Node) {
    let maps = match value.value {
        Value::Seq(items) => items,
        _ => vec![value],
    };
    for map in maps {
        if let Value::Map(more) = map.value {
            for (k, v) in more {
                if !entries.iter().any(|(e, _)| e.as_scalar() == k.as_scalar()) {
                    entries.push((k, v));
                }
            }
        }
    }
}

/// Every document of `source`: a JSON file is one; YAML files may hold several (`---`).
pub fn parse(source: &Arc<Source>) -> Result<Vec<Node>, Diagnostics> {
    let offsets = byte_offsets(&source.text);
    let mut b = Builder {
        offsets: &offsets,
        anchors: HashMap::new(),
    };
    let mut events = Parser::new_from_str(&source.text);
    let mut docs = Vec::new();
    let fail = |(message, span): (String, Span)| {
        Diagnostics(vec![Diagnostic::at(source, span, message).hint(
            "this is not valid YAML or JSON here: check the indentation, quotes and brackets",
        )])
    };
    while let Some(e) = events.next() {
        let e = e.map_err(|e| fail(b.scan_error(&e)))?;
        match e.0 {
            Event::StreamStart | Event::DocumentStart(_) | Event::DocumentEnd | Event::Nothing => {}
            Event::StreamEnd => break,
            _ => docs.push(b.node(e, &mut events).map_err(fail)?),
        }
    }
    Ok(docs)
}

impl Node {
    pub fn as_scalar(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar(s, _) => Some(s),
            _ => None,
        }
    }

    /// The value of `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.as_scalar() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// The entries of a mapping (none for anything else).
    pub fn entries(&self) -> &[(Node, Node)] {
        match &self.value {
            Value::Map(entries) => entries,
            _ => &[],
        }
    }

    /// The items of a sequence (none for anything else).
    pub fn items(&self) -> &[Node] {
        match &self.value {
            Value::Seq(items) => items,
            _ => &[],
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(&self.value, Value::Scalar(s, false) if s.is_empty() || s == "null" || s == "~")
    }
}

/// Reads typed values out of a tree, collecting what is wrong at each node.
pub struct Reader {
    pub source: Arc<Source>,
    pub diags: Diagnostics,
}

impl Reader {
    pub fn new(source: Arc<Source>) -> Reader {
        Reader {
            source,
            diags: Diagnostics::default(),
        }
    }

    pub fn error(&mut self, span: Span, message: impl Into<String>, hint: impl Into<String>) {
        self.diags
            .push(Diagnostic::at(&self.source, span, message).hint(hint));
    }

    /// A string (a scalar of any style; numbers are read as their text).
    pub fn string(&mut self, node: &Node, what: &str) -> Option<String> {
        match &node.value {
            Value::Scalar(s, _) => Some(s.clone()),
            _ => {
                self.error(
                    node.span.clone(),
                    format!("{what} should be a single value"),
                    "write it as a string",
                );
                None
            }
        }
    }

    /// A boolean: `true`/`false` (also quoted, as compose accepts).
    pub fn boolean(&mut self, node: &Node, what: &str) -> Option<bool> {
        match node.as_scalar() {
            Some("true" | "True" | "TRUE") => Some(true),
            Some("false" | "False" | "FALSE") => Some(false),
            _ => {
                self.error(
                    node.span.clone(),
                    format!("{what} should be true or false"),
                    "write true or false",
                );
                None
            }
        }
    }

    /// A value parsed by `FromStr`, with `example` in the hint.
    pub fn parsed<T: std::str::FromStr>(
        &mut self,
        node: &Node,
        what: &str,
        example: &str,
    ) -> Option<T> {
        let text = self.string(node, what)?;
        match text.trim().parse() {
            Ok(v) => Some(v),
            Err(_) => {
                self.error(
                    node.span.clone(),
                    format!("`{text}` is not {what}"),
                    format!("write it like {example}"),
                );
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(text: &str) -> (Arc<Source>, Node) {
        let source = Source::new("t.yaml", text);
        let mut docs = parse(&source).unwrap();
        (source, docs.remove(0))
    }

    #[test]
    fn nodes_know_where_they_were_written() {
        let (source, d) = doc("networks:\n  lan:\n    driver: macvlan\n    name: \"é\"\n");
        let driver = d
            .get("networks")
            .unwrap()
            .get("lan")
            .unwrap()
            .get("driver")
            .unwrap();
        assert_eq!(driver.as_scalar(), Some("macvlan"));
        assert_eq!(source.line_col(driver.span.start), (3, 13));
        let name = d
            .get("networks")
            .unwrap()
            .get("lan")
            .unwrap()
            .get("name")
            .unwrap();
        assert_eq!(&source.text[name.span.clone()], "\"é\"");
    }

    #[test]
    fn json_is_yaml_and_anchors_merge() {
        let (_, d) = doc(r#"[{"Name": "n", "IPAM": {"Config": [{"Subnet": "198.18.1.0/24"}]}}]"#);
        let subnet = d.items()[0]
            .get("IPAM")
            .unwrap()
            .get("Config")
            .unwrap()
            .items()[0]
            .get("Subnet")
            .unwrap();
        assert_eq!(subnet.as_scalar(), Some("198.18.1.0/24"));
        let (_, d) = doc(
            "base: &b\n  driver: macvlan\n  internal: true\nnet:\n  <<: *b\n  internal: false\n",
        );
        let net = d.get("net").unwrap();
        assert_eq!(net.get("driver").unwrap().as_scalar(), Some("macvlan"));
        assert_eq!(net.get("internal").unwrap().as_scalar(), Some("false"));
    }

    #[test]
    fn broken_input_is_located() {
        let source = Source::new("t.yaml", "a: [1, 2\nb: 3\n");
        let err = parse(&source).unwrap_err();
        assert!(err.0[0].location().is_some(), "{err}");
        let source = Source::new("t.json", "{\"a\": [1, 2}");
        assert!(parse(&source).is_err());
    }
}
