//! The order `requires` puts on work: on the way up (create, start,
//! replace) a component's requirements come first and are healthy before it
//! starts; on the way down (stop, remove) its dependents stop first.
//! Components unrelated by `requires` stay independent, so they still run in
//! parallel. Pure: no I/O. Cycles and unknown targets are validation errors
//! (spec::requires); a cycle that got here anyway only ends a walk early.

use std::collections::{BTreeMap, BTreeSet};

use super::plan::{Action, ActionKind, Desired, Plan};

/// A component: (service, component).
pub type Key = (String, String);

/// One `requires` entry: a service, and optionally one of its components.
pub type Entry = (String, Option<String>);

/// Which way a piece of work goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Creates, starts or replaces: requirements first.
    Up,
    /// Stops or removes: dependents first.
    Down,
}

/// Who requires whom, with `service` entries resolved to its components.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    requires: BTreeMap<Key, BTreeSet<Key>>,
}

impl Graph {
    /// `components`: every declared component with its `requires` entries,
    /// each a service and optionally one of its components.
    pub fn new(components: &[(Key, Vec<Entry>)]) -> Graph {
        let mut requires: BTreeMap<Key, BTreeSet<Key>> = BTreeMap::new();
        for (key, entries) in components {
            let mut set = BTreeSet::new();
            for (service, component) in entries {
                set.extend(
                    components
                        .iter()
                        .map(|(k, _)| k)
                        .filter(|k| &k.0 == service && component.as_ref().is_none_or(|c| &k.1 == c))
                        .filter(|k| *k != key)
                        .cloned(),
                );
            }
            if !set.is_empty() {
                requires.insert(key.clone(), set);
            }
        }
        Graph { requires }
    }

    /// The graph of the declared components in `desired`.
    pub fn of(desired: &[Desired<'_>]) -> Graph {
        let components: Vec<(Key, Vec<Entry>)> = desired
            .iter()
            .map(|d| {
                (
                    (d.service.to_string(), d.spec.name.clone()),
                    d.spec
                        .requires
                        .iter()
                        .map(|r| (r.service.clone(), r.component.clone()))
                        .collect(),
                )
            })
            .collect();
        Graph::new(&components)
    }

    pub fn is_empty(&self) -> bool {
        self.requires.is_empty()
    }

    /// What `key` requires directly.
    pub fn direct(&self, key: &Key) -> impl Iterator<Item = &Key> {
        self.requires.get(key).into_iter().flatten()
    }

    /// Everything `key` requires, directly or through others.
    pub fn requirements(&self, key: &Key) -> BTreeSet<Key> {
        let mut seen = BTreeSet::new();
        let mut todo: Vec<&Key> = self.direct(key).collect();
        while let Some(k) = todo.pop() {
            if k != key && seen.insert(k.clone()) {
                todo.extend(self.direct(k));
            }
        }
        seen
    }

    /// Everything that requires `key`, directly or through others.
    pub fn dependents(&self, key: &Key) -> BTreeSet<Key> {
        self.requires
            .keys()
            .filter(|k| *k != key && self.requirements(k).contains(key))
            .cloned()
            .collect()
    }

    /// For each piece of work (a component and its direction), the indexes
    /// of the pieces it must wait for: on the way up, the work on anything
    /// it requires; on the way down, the work on anything that requires it.
    pub fn waits(&self, work: &[(Key, Direction)]) -> Vec<Vec<usize>> {
        work.iter()
            .map(|(key, direction)| {
                let related = match direction {
                    Direction::Up => self.requirements(key),
                    Direction::Down => self.dependents(key),
                };
                work.iter()
                    .enumerate()
                    .filter(|(_, (other, d))| d == direction && related.contains(other))
                    .map(|(i, _)| i)
                    .collect()
            })
            .collect()
    }
}

/// Which way the work on one component goes: up when it creates, starts or
/// replaces anything, else down.
pub fn direction(actions: &[&Action]) -> Direction {
    let up = actions.iter().any(|a| {
        matches!(
            a.action,
            ActionKind::Create
                | ActionKind::Recreate
                | ActionKind::Start
                | ActionKind::Restart
                | ActionKind::Restore
        )
    });
    if up { Direction::Up } else { Direction::Down }
}

/// Puts a plan in the order `requires` asks for and notes in each action
/// the components whose work it waits for (`after`): the executor follows
/// those edges, and `sync --dry-run` shows them. The actions on one
/// component stay together and in order; unrelated components keep their
/// order (and still run in parallel).
pub fn arrange(plan: Plan, desired: &[Desired<'_>]) -> Plan {
    let graph = Graph::of(desired);
    if graph.is_empty() {
        return plan;
    }
    let orphans = plan.orphans;
    let mut keys: Vec<Key> = Vec::new();
    let mut groups: BTreeMap<Key, Vec<Action>> = BTreeMap::new();
    for a in plan.actions {
        let key = (a.service.clone(), a.component.clone());
        if !groups.contains_key(&key) {
            keys.push(key.clone());
        }
        groups.entry(key).or_default().push(a);
    }
    let work: Vec<(Key, Direction)> = keys
        .iter()
        .map(|k| {
            let actions: Vec<&Action> = groups[k].iter().collect();
            (k.clone(), direction(&actions))
        })
        .collect();
    let waits = graph.waits(&work);
    // A stable topological order: the first group (in plan order) whose
    // waits are all placed goes next.
    let mut placed = vec![false; work.len()];
    let mut actions = Vec::new();
    for _ in 0..work.len() {
        let next = (0..work.len())
            .find(|&i| !placed[i] && waits[i].iter().all(|&w| placed[w]))
            // A cycle (refused by validation): keep the plan's order.
            .or_else(|| (0..work.len()).find(|&i| !placed[i]));
        let Some(i) = next else { break };
        placed[i] = true;
        let after: Vec<String> = waits[i].iter().map(|&w| shown(&work[w].0)).collect();
        for mut a in groups.remove(&work[i].0).unwrap_or_default() {
            a.after = after.clone();
            actions.push(a);
        }
    }
    Plan { actions, orphans }
}

/// `service/component`, as shown to people.
pub fn shown(key: &Key) -> String {
    format!("{}/{}", key.0, key.1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> Key {
        let (a, b) = s.split_once('/').unwrap();
        (a.to_string(), b.to_string())
    }

    /// app/web requires db (the whole service); db/main requires cache/redis;
    /// lone/x requires nothing.
    fn graph() -> Graph {
        Graph::new(&[
            (key("app/web"), vec![("db".into(), None)]),
            (key("db/main"), vec![("cache".into(), Some("redis".into()))]),
            (key("db/backup"), vec![]),
            (key("cache/redis"), vec![]),
            (key("cache/other"), vec![]),
            (key("lone/x"), vec![]),
        ])
    }

    #[test]
    fn a_service_entry_means_each_of_its_components_and_requirements_are_transitive() {
        let g = graph();
        let want: BTreeSet<Key> = ["db/main", "db/backup", "cache/redis"]
            .into_iter()
            .map(key)
            .collect();
        assert_eq!(g.requirements(&key("app/web")), want);
        assert!(g.requirements(&key("lone/x")).is_empty());
        let dependents: BTreeSet<Key> = ["app/web", "db/main"].into_iter().map(key).collect();
        assert_eq!(g.dependents(&key("cache/redis")), dependents);
        assert!(g.dependents(&key("cache/other")).is_empty());
    }

    #[test]
    fn waits_link_only_related_work_in_the_same_direction() {
        let g = graph();
        let work = vec![
            (key("app/web"), Direction::Up),
            (key("db/main"), Direction::Up),
            (key("lone/x"), Direction::Up),
            (key("cache/redis"), Direction::Down),
            (key("db/backup"), Direction::Down),
        ];
        let waits = g.waits(&work);
        assert_eq!(waits[0], vec![1]);
        assert!(waits[1].is_empty(), "cache/redis goes down, not up");
        assert!(waits[2].is_empty());
        assert!(waits[3].is_empty(), "db/main goes up, not down");
        assert!(waits[4].is_empty());
        let down = vec![
            (key("cache/redis"), Direction::Down),
            (key("db/main"), Direction::Down),
            (key("app/web"), Direction::Down),
        ];
        assert_eq!(g.waits(&down), vec![vec![1, 2], vec![2], vec![]]);
    }

    #[test]
    fn a_cycle_does_not_hang_a_walk() {
        let g = Graph::new(&[
            (key("a/x"), vec![("b".into(), None)]),
            (key("b/y"), vec![("a".into(), None)]),
        ]);
        assert_eq!(g.requirements(&key("a/x")).len(), 1);
        assert_eq!(g.dependents(&key("a/x")).len(), 1);
    }
}
