//! Reconciliation: a pure planner, and an executor that applies its plan.

pub mod apply;
#[cfg(test)]
mod apply_tests;
pub mod digests;
pub mod drift;
pub mod health;
pub mod order;
#[cfg(test)]
mod order_tests;
pub mod plan;
#[cfg(test)]
mod plan_tests;
pub mod probe;
mod replace;
pub mod rollout;
#[cfg(test)]
mod rollout_tests;
#[cfg(test)]
mod settle_tests;

pub use apply::{Executor, Outcome, Progress, Silent, Step, pull};
pub use plan::{Action, ActionKind, Desired, Detail, Intent, Orphan, Plan, PlanInput, Verb, plan};
