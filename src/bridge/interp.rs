//! Compose's variable interpolation (`${VAR}`, `${VAR:-default}`, `${VAR:?error}`, ...)
//! and the `.env` file format it reads variables from.

use std::collections::BTreeMap;

/// Where variables come from: the process environment first, then `.env` beside the
/// compose file (compose's own precedence).
#[derive(Debug, Default, Clone)]
pub struct Vars {
    pub env: BTreeMap<String, String>,
    pub dotenv: BTreeMap<String, String>,
}

impl Vars {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.env
            .get(name)
            .or_else(|| self.dotenv.get(name))
            .map(String::as_str)
    }
}

/// Replaces every `$VAR`, `${VAR}` and `${VAR<op>word}` in `text`; `$$` is a literal `$`.
/// Operators: `:-`/`-` default when unset-or-empty/unset, `:+`/`+` replacement when
/// set-and-non-empty/set, `:?`/`?` error when unset-or-empty/unset. The word is itself
/// interpolated (compose allows `${A:-${B}}`).
pub fn interpolate(text: &str, vars: &Vars) -> Result<String, String> {
    interpolate_depth(text, vars, 0)
}

/// The variables `text` uses bare (`$X`, `${X}`) that are not set: compose warns
/// about these, as they silently become empty.
pub fn unset_bare(text: &str, vars: &Vars) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        let after = &rest[i + 1..];
        if let Some(r) = after.strip_prefix('$') {
            rest = r;
            continue;
        }
        let body = after.strip_prefix('{').unwrap_or(after);
        let len = body
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(body.len());
        let bare =
            after.starts_with('{') && body[len..].starts_with('}') || !after.starts_with('{');
        if len > 0 && bare && vars.get(&body[..len]).is_none() {
            out.push(body[..len].to_string());
        }
        rest = &body[len..];
    }
    out
}

fn interpolate_depth(text: &str, vars: &Vars, depth: usize) -> Result<String, String> {
    if depth > 8 {
        return Err("variables nested deeper than 8 levels".into());
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(r) = after.strip_prefix('$') {
            out.push('$');
            rest = r;
        } else if let Some(body) = after.strip_prefix('{') {
            let end = closing_brace(body)
                .ok_or_else(|| format!("`${{` without its closing `}}` in `{}`", shown(text)))?;
            out.push_str(&braced(&body[..end], vars, depth)?);
            rest = &body[end + 1..];
        } else {
            let len = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            if len == 0 || after.starts_with(|c: char| c.is_ascii_digit()) {
                return Err(format!(
                    "a lone `$` in `{}`: write `$$` for a literal dollar sign",
                    shown(text)
                ));
            }
            out.push_str(vars.get(&after[..len]).unwrap_or(""));
            rest = &after[len..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// Index of the `}` that closes a `${`, skipping nested `${...}`.
fn closing_brace(body: &str) -> Option<usize> {
    let mut depth = 0usize;
    let bytes = body.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'$' if bytes.get(i + 1) == Some(&b'{') => {
                depth += 1;
                i += 1;
            }
            b'}' if depth == 0 => return Some(i),
            b'}' => depth -= 1,
            _ => {}
        }
        i += 1;
    }
    None
}

fn braced(body: &str, vars: &Vars, depth: usize) -> Result<String, String> {
    let name_len = body
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(body.len());
    let name = &body[..name_len];
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(format!("`${{{}}}` does not name a variable", shown(body)));
    }
    let op = &body[name_len..];
    let value = vars.get(name);
    let set_nonempty = value.is_some_and(|v| !v.is_empty());
    let word = |w: &str| interpolate_depth(w, vars, depth + 1);
    let (ops, rest): (&str, &str) = [":-", ":?", ":+", "-", "?", "+"]
        .iter()
        .find_map(|o| op.strip_prefix(o).map(|r| (*o, r)))
        .unwrap_or((op, ""));
    match ops {
        "" => Ok(value.unwrap_or("").to_string()),
        ":-" if !set_nonempty => word(rest),
        "-" if value.is_none() => word(rest),
        ":-" | "-" => Ok(value.unwrap_or("").to_string()),
        ":+" if set_nonempty => word(rest),
        "+" if value.is_some() => word(rest),
        ":+" | "+" => Ok(String::new()),
        ":?" if !set_nonempty => Err(required(name, &word(rest)?)),
        "?" if value.is_none() => Err(required(name, &word(rest)?)),
        ":?" | "?" => Ok(value.unwrap_or("").to_string()),
        other => Err(format!(
            "`${{{}}}`: unknown operator `{}` (use :-, -, :?, ?, :+ or +)",
            shown(body),
            shown(other)
        )),
    }
}

fn required(name: &str, message: &str) -> String {
    if message.is_empty() {
        format!("variable {name} is required and not set")
    } else {
        format!("variable {name} is required: {message}")
    }
}

fn shown(s: &str) -> String {
    crate::spec::fields::shown(s)
}

/// Parses the `.env` / `env_file` format: `KEY=VALUE` lines, `#` comments, an optional
/// `export ` prefix, values optionally in single (literal) or double quotes.
/// Returns the variables and the 1-based lines that are not assignments.
pub fn parse_env_file(text: &str) -> (BTreeMap<String, String>, Vec<usize>) {
    let mut vars = BTreeMap::new();
    let mut bad = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((key, value)) = line.split_once('=') else {
            bad.push(i + 1);
            continue;
        };
        let key = key.trim();
        if !crate::spec::fields::is_env_key(key) {
            bad.push(i + 1);
            continue;
        }
        let value = value.trim();
        let value = if let Some(v) = value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) {
            v.to_string()
        } else if let Some(v) = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
            v.replace("\\n", "\n").replace("\\\"", "\"")
        } else {
            // An unquoted value ends at ` #` (a trailing comment).
            value
                .split_once(" #")
                .map_or(value, |(v, _)| v)
                .trim_end()
                .to_string()
        };
        vars.insert(key.to_string(), value);
    }
    (vars, bad)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn vars() -> Vars {
        let mut v = Vars::default();
        v.env.insert("SET".into(), "yes".into());
        v.env.insert("EMPTY".into(), String::new());
        v.dotenv.insert("SET".into(), "shadowed".into());
        v.dotenv.insert("FROMFILE".into(), "file".into());
        v
    }

    #[test]
    fn forms() {
        let v = vars();
        let cases = [
            ("a${SET}b", "ayesb"),
            ("$SET/x", "yes/x"),
            ("${FROMFILE}", "file"),
            ("${UNSET:-def}", "def"),
            ("${EMPTY:-def}", "def"),
            ("${EMPTY-def}", ""),
            ("${UNSET-def}", "def"),
            ("${SET:+alt}", "alt"),
            ("${UNSET:+alt}", ""),
            ("${UNSET:-${SET}}", "yes"),
            ("$$HOME", "$HOME"),
            ("${UNSET}", ""),
            ("${SET:?must}", "yes"),
        ];
        for (input, want) in cases {
            assert_eq!(interpolate(input, &v).as_deref(), Ok(want), "{input}");
        }
        assert_eq!(
            interpolate("${UNSET:?set UNSET first}", &v).unwrap_err(),
            "variable UNSET is required: set UNSET first"
        );
        assert!(interpolate("${EMPTY:?}", &v).is_err());
        assert!(interpolate("${OPEN", &v).is_err());
        assert!(interpolate("cost: 5$", &v).is_err());
    }

    #[test]
    fn env_file() {
        let (vars, bad) = parse_env_file(
            "# c\nA=1\nexport B = 'two words'\nC=\"q\\\"x\"\nD=v # note\nnot a line\n",
        );
        assert_eq!(vars["A"], "1");
        assert_eq!(vars["B"], "two words");
        assert_eq!(vars["C"], "q\"x");
        assert_eq!(vars["D"], "v");
        assert_eq!(bad, vec![6]);
    }

    proptest! {
        #[test]
        fn never_panics(s in "[${}:?+\\-A-Z_a-z0-9 ]{0,60}") {
            let _ = interpolate(&s, &vars());
            let _ = parse_env_file(&s);
        }
    }
}
