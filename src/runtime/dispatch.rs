//! One runtime made of two: containers on podman and unikernel VMs.
//! Listing merges both; everything else goes to the runtime that holds the
//! instance (a VM by its state directory) or that the spec asks for.

use std::time::Duration;

use super::qemu::Qemu;
use super::{CreateRequest, ExecResult, Instance, LogOptions, Runtime, State};
use crate::model::PullPolicy;
use crate::spec::RuntimeKind;

pub struct Dispatch<'a> {
    pub container: &'a dyn Runtime,
    pub vm: &'a Qemu,
}

impl Dispatch<'_> {
    fn by_name(&self, name: &str) -> &dyn Runtime {
        if self.vm.has(name) {
            self.vm
        } else {
            self.container
        }
    }

    fn by_kind(&self, kind: RuntimeKind) -> &dyn Runtime {
        match kind {
            RuntimeKind::Container => self.container,
            RuntimeKind::Unikernel => self.vm,
        }
    }
}

impl Runtime for Dispatch<'_> {
    fn list(&self) -> anyhow::Result<Vec<Instance>> {
        let mut all = self.container.list()?;
        all.extend(self.vm.list()?);
        Ok(all)
    }

    fn preflight(&self, req: &CreateRequest<'_>) -> anyhow::Result<()> {
        self.by_kind(req.spec.runtime).preflight(req)
    }

    fn pull(&self, image: &str, policy: PullPolicy) -> anyhow::Result<Option<String>> {
        self.container.pull(image, policy)
    }

    fn image_digests(
        &self,
        images: &[String],
    ) -> anyhow::Result<std::collections::BTreeMap<String, Vec<String>>> {
        // VMs are pulled into the same podman storage as containers.
        self.container.image_digests(images)
    }

    fn ensure_network(&self, network: &str) -> anyhow::Result<()> {
        self.container.ensure_network(network)
    }

    fn create(&self, req: &CreateRequest<'_>) -> anyhow::Result<()> {
        self.by_kind(req.spec.runtime).create(req)
    }

    fn run(&self, req: &CreateRequest<'_>) -> anyhow::Result<()> {
        self.by_kind(req.spec.runtime).run(req)
    }

    fn start(&self, name: &str) -> anyhow::Result<()> {
        self.by_name(name).start(name)
    }

    fn stop(&self, name: &str, timeout: Duration) -> anyhow::Result<()> {
        self.by_name(name).stop(name, timeout)
    }

    fn remove(&self, name: &str) -> anyhow::Result<()> {
        self.by_name(name).remove(name)
    }

    fn rename(&self, from: &str, to: &str) -> anyhow::Result<()> {
        self.by_name(from).rename(from, to)
    }

    fn state(&self, name: &str) -> anyhow::Result<Option<State>> {
        self.by_name(name).state(name)
    }

    fn resume(&self, name: &str) -> anyhow::Result<()> {
        self.by_name(name).resume(name)
    }

    fn retire(&self, name: &str, timeout: Duration) -> anyhow::Result<()> {
        self.by_name(name).retire(name, timeout)
    }

    fn restart_counts(
        &self,
        names: &[String],
    ) -> anyhow::Result<std::collections::BTreeMap<String, u64>> {
        // VMs have no engine restarting them: only containers are counted.
        self.container.restart_counts(names)
    }

    fn crash_looping(&self, name: &str) -> anyhow::Result<bool> {
        self.by_name(name).crash_looping(name)
    }

    fn evidence(&self, name: &str) -> Option<super::evidence::Evidence> {
        self.by_name(name).evidence(name)
    }

    fn describe(
        &self,
        name: &str,
        component: &str,
    ) -> anyhow::Result<super::describe::Description> {
        self.by_name(name).describe(name, component)
    }

    fn logs(
        &self,
        name: &str,
        opts: &LogOptions,
        out: &mut dyn std::io::Write,
    ) -> anyhow::Result<i32> {
        self.by_name(name).logs(name, opts, out)
    }

    fn take_over_ports(&self, from: &str, to: &str, ports: &[String]) -> anyhow::Result<bool> {
        self.by_name(to).take_over_ports(from, to, ports)
    }

    fn exec(&self, name: &str, argv: &[String], timeout: Duration) -> anyhow::Result<ExecResult> {
        self.by_name(name).exec(name, argv, timeout)
    }

    fn forwarded(&self, name: &str) -> anyhow::Result<Option<Vec<super::usernet::Forwarded>>> {
        self.by_name(name).forwarded(name)
    }
}
