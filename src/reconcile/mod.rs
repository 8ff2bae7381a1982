//! Reconciliation: a pure planner, and an executor that applies its plan.

pub mod apply;
pub mod drift;
pub mod health;
pub mod plan;
#[cfg(test)]
mod plan_tests;
pub mod probe;

pub use apply::{Executor, Outcome};
pub use plan::{Action, ActionKind, Desired, Plan, PlanInput, plan};
