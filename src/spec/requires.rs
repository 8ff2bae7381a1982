//! `requires` across services: every entry names something defined, and no
//! component needs itself, directly or through others. Also the expansion of
//! an entry into the components it stands for, shared with the planner.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::diag::{Diagnostic, suggest};
use super::model::{Requirement, ServiceSpec};
use super::parse::ParsedService;

/// A component as `(service, component)`.
pub type Node = (String, String);

/// The components a requirement stands for: the named one, or every
/// component of the named service. Unknown names expand to nothing.
pub fn expand(services: &[ServiceSpec], req: &Requirement) -> Vec<Node> {
    services
        .iter()
        .filter(|s| s.name == req.service)
        .flat_map(|s| {
            s.components
                .iter()
                .map(move |c| (s.name.clone(), c.name.clone()))
        })
        .filter(|(_, c)| req.component.as_ref().is_none_or(|want| want == c))
        .collect()
}

/// Every component's direct dependencies, expanded, in spec order.
pub fn dependencies(services: &[ServiceSpec]) -> BTreeMap<Node, Vec<Node>> {
    let mut out = BTreeMap::new();
    for s in services {
        for c in &s.components {
            let mut deps: Vec<Node> = Vec::new();
            for req in &c.requires {
                for n in expand(services, req) {
                    if !deps.contains(&n) {
                        deps.push(n);
                    }
                }
            }
            out.insert((s.name.clone(), c.name.clone()), deps);
        }
    }
    out
}

/// Unknown targets, self-references and cycles. `broken` holds the names of
/// services whose files have errors of their own: their components may be
/// missing from `parsed`, so requirements naming them are not judged.
pub(super) fn check(parsed: &[ParsedService], broken: &BTreeSet<String>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let service_names: Vec<&str> = parsed.iter().map(|p| p.spec.name.as_str()).collect();
    let at = |p: &ParsedService, ci: usize, ri: usize, message: String, hint: String| {
        let (line, col) = p
            .requires_positions
            .get(&(ci, ri))
            .copied()
            .unwrap_or((1, 1));
        Diagnostic {
            file: p.spec.file.clone(),
            line,
            col,
            message,
            hint: Some(hint),
        }
    };
    // Edges of the component graph with the requirement that made each, so a
    // cycle is reported at an entry the operator can remove.
    let mut edges: BTreeMap<Node, Vec<(Node, usize, usize, usize)>> = BTreeMap::new();
    let specs: Vec<ServiceSpec> = parsed.iter().map(|p| p.spec.clone()).collect();
    for (pi, p) in parsed.iter().enumerate() {
        for (ci, c) in p.spec.components.iter().enumerate() {
            let me = (p.spec.name.clone(), c.name.clone());
            let owner = format!("{}/{}", me.0, me.1);
            let list = edges.entry(me.clone()).or_default();
            for (ri, req) in c.requires.iter().enumerate() {
                let Some(target) = parsed.iter().find(|t| t.spec.name == req.service) else {
                    if !broken.contains(&req.service) {
                        let hint = match suggest(&req.service, &service_names) {
                            Some(s) => format!("did you mean `{s}`?"),
                            None => format!(
                                "define the service in {}.toml or remove the entry",
                                req.service
                            ),
                        };
                        out.push(at(
                            p,
                            ci,
                            ri,
                            format!("{owner} requires unknown service `{}`", req.service),
                            hint,
                        ));
                    }
                    continue;
                };
                if let Some(want) = &req.component {
                    if target.spec.component(want).is_none() {
                        if !broken.contains(&req.service) {
                            let names: Vec<&str> = target
                                .spec
                                .components
                                .iter()
                                .map(|c| c.name.as_str())
                                .collect();
                            out.push(at(
                                p,
                                ci,
                                ri,
                                format!(
                                    "{owner} requires `{req}`, but service `{}` has no component `{want}`",
                                    req.service
                                ),
                                format!("its components: {}", names.join(", ")),
                            ));
                        }
                        continue;
                    }
                    if *req
                        == (Requirement {
                            service: me.0.clone(),
                            component: Some(me.1.clone()),
                        })
                    {
                        out.push(at(
                            p,
                            ci,
                            ri,
                            format!("{owner} requires itself"),
                            "remove the entry".into(),
                        ));
                        continue;
                    }
                } else if req.service == me.0 {
                    out.push(at(
                        p,
                        ci,
                        ri,
                        format!(
                            "{owner} requires its own service `{}`, which includes itself",
                            me.0
                        ),
                        format!(
                            "name the components it needs, e.g. requires = [\"{}/other\"]",
                            me.0
                        ),
                    ));
                    continue;
                }
                for n in expand(&specs, req) {
                    list.push((n, pi, ci, ri));
                }
            }
        }
    }
    out.extend(cycles(parsed, &edges));
    out
}

/// One diagnostic per cycle, found by depth-first search in a fixed order.
fn cycles(
    parsed: &[ParsedService],
    edges: &BTreeMap<Node, Vec<(Node, usize, usize, usize)>>,
) -> Vec<Diagnostic> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        Done,
    }
    struct Search<'e> {
        edges: &'e BTreeMap<Node, Vec<(Node, usize, usize, usize)>>,
        marks: BTreeMap<Node, Mark>,
        stack: Vec<Node>,
        found: Vec<(Vec<Node>, usize, usize, usize)>,
    }
    impl Search<'_> {
        fn visit(&mut self, node: &Node) {
            self.marks.insert(node.clone(), Mark::Open);
            self.stack.push(node.clone());
            for (next, pi, ci, ri) in self.edges.get(node).into_iter().flatten() {
                match self.marks.get(next) {
                    Some(Mark::Open) => {
                        // Invariant: an Open node is on the stack.
                        let from = self.stack.iter().position(|n| n == next).unwrap_or(0);
                        let mut path = self.stack[from..].to_vec();
                        path.push(next.clone());
                        self.found.push((path, *pi, *ci, *ri));
                    }
                    Some(Mark::Done) => {}
                    None => self.visit(next),
                }
            }
            self.stack.pop();
            self.marks.insert(node.clone(), Mark::Done);
        }
    }
    let mut search = Search {
        edges,
        marks: BTreeMap::new(),
        stack: Vec::new(),
        found: Vec::new(),
    };
    for node in edges.keys() {
        if !search.marks.contains_key(node) {
            search.visit(node);
        }
    }
    search
        .found
        .into_iter()
        .map(|(path, pi, ci, ri)| {
            let p = &parsed[pi];
            let (line, col) = p.requires_positions.get(&(ci, ri)).copied().unwrap_or((1, 1));
            let shown: Vec<String> = path.iter().map(|(s, c)| format!("{s}/{c}")).collect();
            Diagnostic {
                file: p.spec.file.clone(),
                line,
                col,
                message: format!("requires cycle: {}", shown.join(" -> ")),
                hint: Some(
                    "remove one of these requirements: each component must be able to start after the ones it requires".into(),
                ),
            }
        })
        .collect()
}

/// The file name's service, for files that could not be parsed at all.
pub(super) fn stem(file: &Path) -> String {
    file.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::parse::FileReader;

    fn service(name: &str, text: &str) -> ServiceSpec {
        let file = std::path::PathBuf::from(format!("{name}.toml"));
        let mut r = FileReader::new(&file, text);
        let p = r.read_service(name).expect("parses");
        assert_eq!(r.diagnostics, vec![]);
        p.spec
    }

    #[test]
    fn a_service_stands_for_all_its_components() {
        let db = service(
            "db",
            "[[components]]\nname = \"main\"\nimage = \"b\"\n[[components]]\nname = \"replica\"\nimage = \"b\"\n",
        );
        let app = service(
            "app",
            "[[components]]\nname = \"api\"\nimage = \"b\"\nrequires = [\"db\", \"db/main\"]\n",
        );
        let deps = dependencies(&[db, app]);
        let node = |s: &str, c: &str| (s.to_string(), c.to_string());
        assert_eq!(
            deps[&node("app", "api")],
            vec![node("db", "main"), node("db", "replica")]
        );
        assert_eq!(deps[&node("db", "main")], vec![]);
    }
}
