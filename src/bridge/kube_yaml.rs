//! A small YAML tree and its block-style printer for the Kubernetes objects
//! `export kube` writes. Every string is double-quoted with JSON escapes (valid YAML),
//! so no value can be misread as a number, a boolean or YAML syntax.

#[derive(Debug, Clone, PartialEq)]
pub enum Y {
    Str(String),
    Int(i64),
    Bool(bool),
    List(Vec<Y>),
    Map(Vec<(String, Y)>),
}

/// A mapping from pairs, in the given order.
pub fn map<const N: usize>(pairs: [(&str, Y); N]) -> Y {
    Y::Map(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

pub fn s(text: impl Into<String>) -> Y {
    Y::Str(text.into())
}

impl Y {
    /// Adds an entry to a mapping (no-op on other kinds).
    pub fn push(&mut self, key: &str, value: Y) {
        if let Y::Map(entries) = self {
            entries.push((key.to_string(), value));
        }
    }
}

impl Y {
    /// The same tree as JSON (for `--json`); mappings keep their keys, not their order.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Y::Str(t) => serde_json::Value::String(t.clone()),
            Y::Int(n) => serde_json::Value::from(*n),
            Y::Bool(b) => serde_json::Value::Bool(*b),
            Y::List(items) => serde_json::Value::Array(items.iter().map(Y::to_json).collect()),
            Y::Map(entries) => serde_json::Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_json()))
                    .collect(),
            ),
        }
    }
}

fn quote(text: &str) -> String {
    // serde_json's string escaping is a valid YAML double-quoted scalar.
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".to_string())
}

fn key(k: &str) -> String {
    if !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/'))
        && k.starts_with(|c: char| c.is_ascii_alphabetic())
    {
        k.to_string()
    } else {
        quote(k)
    }
}

fn scalar(y: &Y) -> Option<String> {
    match y {
        Y::Str(t) => Some(quote(t)),
        Y::Int(n) => Some(n.to_string()),
        Y::Bool(b) => Some(b.to_string()),
        Y::List(l) if l.is_empty() => Some("[]".into()),
        Y::Map(m) if m.is_empty() => Some("{}".into()),
        _ => None,
    }
}

/// Prints documents separated by `---`.
pub fn print_documents(docs: &[Y]) -> String {
    let mut out = String::new();
    for doc in docs {
        out.push_str("---\n");
        block(doc, 0, &mut out);
    }
    out
}

fn block(y: &Y, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match y {
        Y::Map(entries) if !entries.is_empty() => {
            for (k, v) in entries {
                match scalar(v) {
                    Some(text) => out.push_str(&format!("{pad}{}: {text}\n", key(k))),
                    None => {
                        out.push_str(&format!("{pad}{}:\n", key(k)));
                        // Lists sit at their key's indentation, as kubectl writes them.
                        let child = if matches!(v, Y::List(_)) {
                            indent
                        } else {
                            indent + 2
                        };
                        block(v, child, out);
                    }
                }
            }
        }
        Y::List(items) if !items.is_empty() => {
            for item in items {
                match scalar(item) {
                    Some(text) => out.push_str(&format!("{pad}- {text}\n")),
                    None => {
                        // The first line of a nested block follows the dash.
                        let mut inner = String::new();
                        block(item, indent + 2, &mut inner);
                        let trimmed = inner.get(indent + 2..).unwrap_or_default();
                        out.push_str(&format!("{pad}- {trimmed}"));
                    }
                }
            }
        }
        other => {
            if let Some(text) = scalar(other) {
                out.push_str(&format!("{pad}{text}\n"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_nested_blocks() {
        let doc = map([
            ("kind", s("Pod")),
            (
                "spec",
                map([(
                    "containers",
                    Y::List(vec![map([
                        ("name", s("web")),
                        ("args", Y::List(vec![s("a: b"), s("yes")])),
                        ("ports", Y::List(vec![map([("containerPort", Y::Int(80))])])),
                        ("env", Y::List(vec![])),
                    ])]),
                )]),
            ),
        ]);
        let text = print_documents(&[doc]);
        assert_eq!(
            text,
            "---\nkind: \"Pod\"\nspec:\n  containers:\n  - name: \"web\"\n    args:\n    - \"a: b\"\n    - \"yes\"\n    ports:\n    - containerPort: 80\n    env: []\n"
        );
        // And it reads back as the same structure.
        let back = super::super::yaml::parse(&text).unwrap().unwrap();
        let c = &back
            .get("spec")
            .unwrap()
            .get("containers")
            .unwrap()
            .as_seq()
            .unwrap()[0];
        assert_eq!(
            c.get("args").unwrap().as_seq().unwrap()[0].as_str(),
            Some("a: b")
        );
    }
}
