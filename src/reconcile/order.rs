//! The order `requires` puts on work: on the way up (create, start,
//! replace) a component's requirements come first and are healthy before it
//! starts; on the way down (stop, remove) its dependents stop first.
//! Components unrelated by `requires` stay independent, so they still run in
//! parallel. Pure: no I/O. Cycles and unknown targets are validation errors
//! (spec::requires); a cycle that got here anyway only ends a walk early.

use std::collections::{BTreeMap, BTreeSet};

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

    /// `keys` ordered so that each comes after what it requires (`Up`) or
    /// before it (`Down`); otherwise in the given order.
    pub fn sorted(&self, keys: &[Key], direction: Direction) -> Vec<Key> {
        let mut out: Vec<Key> = Vec::new();
        let mut placed: BTreeSet<&Key> = BTreeSet::new();
        let mut left: Vec<&Key> = keys.iter().collect();
        while !left.is_empty() {
            let ready = left.iter().position(|k| {
                left.iter().all(|other| {
                    other == k
                        || !match direction {
                            Direction::Up => self.requirements(k).contains(*other),
                            Direction::Down => self.requirements(other).contains(*k),
                        }
                })
            });
            // A cycle (refused by validation) leaves nothing ready: keep the given order.
            let i = ready.unwrap_or(0);
            let k = left.remove(i);
            if placed.insert(k) {
                out.push(k.clone());
            }
        }
        out
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
    fn up_puts_requirements_first_and_down_puts_dependents_first() {
        let g = graph();
        let keys: Vec<Key> = ["app/web", "lone/x", "db/main", "cache/redis"]
            .into_iter()
            .map(key)
            .collect();
        let up: Vec<String> = g.sorted(&keys, Direction::Up).iter().map(shown).collect();
        assert_eq!(up, ["lone/x", "cache/redis", "db/main", "app/web"]);
        let down: Vec<String> = g.sorted(&keys, Direction::Down).iter().map(shown).collect();
        assert_eq!(down, ["app/web", "lone/x", "db/main", "cache/redis"]);
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
        let sorted = g.sorted(&[key("a/x"), key("b/y")], Direction::Up);
        assert_eq!(sorted.len(), 2);
    }
}
