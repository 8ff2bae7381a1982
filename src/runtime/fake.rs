//! An in-memory runtime for unit tests of the executor: instances in a map,
//! every changing call logged in order, and failures injected by call.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use super::{CreateRequest, Instance, LogOptions, Runtime, State};
use crate::model::PullPolicy;

type Hook = Box<dyn Fn(&str) + Send + Sync>;

#[derive(Default)]
struct World {
    instances: BTreeMap<String, Instance>,
    calls: Vec<String>,
    /// Calls (as logged) that fail once each, with the error they give.
    fail_once: BTreeMap<String, String>,
    /// Starts in flight, and the most ever in flight at once.
    starting: usize,
    most_starting: usize,
    /// Listing calls so far.
    lists: usize,
}

#[derive(Default)]
pub struct Fake {
    world: Mutex<World>,
    /// Starts wait (up to 30 s) until this many are in flight at once.
    rendezvous: usize,
    wake: Condvar,
    /// Sees every changing call before it happens.
    hook: Option<Hook>,
    /// Moves ports between running instances, as the VM runtime does.
    moves_ports: bool,
    /// Instances whose command exits at once: started, they end up exited.
    exit_at_once: BTreeSet<String>,
    /// Instances that are up only because their restart policy revives them.
    crash_looping: BTreeSet<String>,
}

impl Fake {
    pub fn new(instances: impl IntoIterator<Item = Instance>) -> Self {
        let fake = Fake::default();
        fake.lock().instances = instances.into_iter().map(|i| (i.name.clone(), i)).collect();
        fake
    }

    pub fn rendezvous(mut self, starts: usize) -> Self {
        self.rendezvous = starts;
        self
    }

    pub fn moving_ports(mut self) -> Self {
        self.moves_ports = true;
        self
    }

    /// `name`'s command exits at once (code 3) whenever it is started.
    pub fn exits_at_once(mut self, name: &str) -> Self {
        self.exit_at_once.insert(name.to_string());
        self
    }

    /// `name` is running only because its restart policy keeps reviving it.
    pub fn crash_loops(mut self, name: &str) -> Self {
        self.crash_looping.insert(name.to_string());
        self
    }

    /// How many listing calls were made.
    pub fn lists(&self) -> usize {
        self.lock().lists
    }

    pub fn hook(mut self, hook: impl Fn(&str) + Send + Sync + 'static) -> Self {
        self.hook = Some(Box::new(hook));
        self
    }

    /// Makes the next `call` (e.g. `"start web-app"`) fail.
    pub fn fail_once(&self, call: &str) {
        self.fail_once_with(call, &format!("injected failure of `{call}`"));
    }

    /// Makes the next `call` fail with `message` (what the real tool says).
    pub fn fail_once_with(&self, call: &str, message: &str) {
        self.lock()
            .fail_once
            .insert(call.to_string(), message.to_string());
    }

    pub fn calls(&self) -> Vec<String> {
        self.lock().calls.clone()
    }

    pub fn get(&self, name: &str) -> Option<Instance> {
        self.lock().instances.get(name).cloned()
    }

    pub fn names(&self) -> Vec<String> {
        self.lock().instances.keys().cloned().collect()
    }

    pub fn most_starting_at_once(&self) -> usize {
        self.lock().most_starting
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Logs `call`, and fails it if a failure was injected.
    fn call(&self, call: String) -> anyhow::Result<std::sync::MutexGuard<'_, World>> {
        if let Some(hook) = &self.hook {
            hook(&call);
        }
        let mut world = self.lock();
        world.calls.push(call.clone());
        if let Some(message) = world.fail_once.remove(&call) {
            anyhow::bail!(message);
        }
        Ok(world)
    }

    fn set_state(&self, name: &str, state: State) -> anyhow::Result<()> {
        match self.lock().instances.get_mut(name) {
            Some(i) => {
                i.state = state;
                Ok(())
            }
            None => anyhow::bail!("no such instance {name}"),
        }
    }
}

impl Runtime for Fake {
    fn crash_looping(&self, name: &str) -> anyhow::Result<bool> {
        Ok(self.crash_looping.contains(name))
    }

    fn list(&self) -> anyhow::Result<Vec<Instance>> {
        let mut world = self.lock();
        world.lists += 1;
        Ok(world.instances.values().cloned().collect())
    }

    fn pull(&self, image: &str, _policy: PullPolicy) -> anyhow::Result<Option<String>> {
        drop(self.call(format!("pull {image}"))?);
        Ok(Some(format!("id-{image}")))
    }

    fn ensure_network(&self, network: &str) -> anyhow::Result<()> {
        drop(self.call(format!("network {network}"))?);
        Ok(())
    }

    fn create(&self, req: &CreateRequest<'_>) -> anyhow::Result<()> {
        let mut world = self.call(format!("create {}", req.name))?;
        if world.instances.contains_key(req.name) {
            anyhow::bail!("{} exists", req.name);
        }
        world.instances.insert(
            req.name.to_string(),
            Instance {
                name: req.name.to_string(),
                runtime: crate::model::RuntimeKind::Container,
                image: req.spec.image.clone(),
                image_id: format!("id-{}", req.spec.image),
                state: State::Created,
                started_at: None,
                labels: req.labels(),
            },
        );
        Ok(())
    }

    fn run(&self, req: &CreateRequest<'_>) -> anyhow::Result<()> {
        self.create(req)?;
        self.start(req.name)
    }

    fn start(&self, name: &str) -> anyhow::Result<()> {
        {
            let mut world = self.call(format!("start {name}"))?;
            world.starting += 1;
            world.most_starting = world.most_starting.max(world.starting);
            self.wake.notify_all();
            let deadline = Instant::now() + Duration::from_secs(30);
            while world.starting < self.rendezvous && world.most_starting < self.rendezvous {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                world = self
                    .wake
                    .wait_timeout(world, left)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
            world.starting -= 1;
        }
        if self.exit_at_once.contains(name) {
            return self.set_state(name, State::Exited(3));
        }
        self.set_state(name, State::Running)
    }

    fn stop(&self, name: &str, _timeout: Duration) -> anyhow::Result<()> {
        drop(self.call(format!("stop {name}"))?);
        self.set_state(name, State::Exited(0))
    }

    fn remove(&self, name: &str) -> anyhow::Result<()> {
        // Like `podman rm --ignore`: removing what is not there is fine.
        self.call(format!("remove {name}"))?.instances.remove(name);
        Ok(())
    }

    fn rename(&self, from: &str, to: &str) -> anyhow::Result<()> {
        let mut world = self.call(format!("rename {from} {to}"))?;
        if world.instances.contains_key(to) {
            anyhow::bail!("{to} exists");
        }
        let mut inst = world
            .instances
            .remove(from)
            .ok_or_else(|| anyhow::anyhow!("no such instance {from}"))?;
        inst.name = to.to_string();
        world.instances.insert(to.to_string(), inst);
        Ok(())
    }

    fn take_over_ports(&self, from: &str, to: &str, _ports: &[String]) -> anyhow::Result<bool> {
        if !self.moves_ports {
            return Ok(false);
        }
        drop(self.call(format!("take-over-ports {from} {to}"))?);
        Ok(true)
    }

    fn state(&self, name: &str) -> anyhow::Result<Option<State>> {
        Ok(self.lock().instances.get(name).map(|i| i.state.clone()))
    }

    fn logs(
        &self,
        name: &str,
        _opts: &LogOptions,
        _out: &mut dyn std::io::Write,
    ) -> anyhow::Result<i32> {
        anyhow::bail!("no logs for {name} in memory")
    }
}
