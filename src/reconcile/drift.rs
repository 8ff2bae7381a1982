//! How an instance differs from what is wanted of it. Shared by the planner
//! (which turns drift into actions) and `status` (which shows it).

use serde::Serialize;

use crate::model::ImageRef;
use crate::registry::DesiredState;
use crate::runtime::{Instance, LABEL_HASH_VERSION, LABEL_SPEC_HASH, State};
use crate::spec::hash::HASH_VERSION;

/// What is wanted of one component.
#[derive(Debug, Clone)]
pub struct Want<'a> {
    pub desired: DesiredState,
    pub image: &'a str,
    pub spec_hash: &'a str,
    /// The hash recorded when mcp last deployed it; stands in for the label
    /// on instances mcp did not create (adopted, then declared).
    pub deployed_hash: Option<&'a str>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Drift {
    Missing,
    Exited(i32),
    NotStarted,
    Paused,
    Unknown(String),
    ImageChanged { from: String, to: String },
    SpecChanged,
    RunningButStopped,
}

impl Drift {
    pub fn reason(&self) -> String {
        match self {
            Drift::Missing => "missing".into(),
            Drift::Exited(code) => format!("exited ({code})"),
            Drift::NotStarted => "created but not started".into(),
            Drift::Paused => "paused".into(),
            Drift::Unknown(s) => format!("in state {s}"),
            Drift::ImageChanged { from, to } => format!("image changed: {from} -> {to}"),
            Drift::SpecChanged => "spec changed".into(),
            Drift::RunningButStopped => "running but desired stopped".into(),
        }
    }
}

/// `image v1 -> v2` when only the version moved, full references otherwise.
pub fn image_change(from: &str, to: &str) -> (String, String) {
    ImageRef::parse(from).change_to(&ImageRef::parse(to))
}

/// Whether the instance was built from the wanted runtime spec. An instance
/// whose hash was computed by another hash version is taken as current:
/// upgrading mcp alone must never recreate anything.
fn spec_matches(want: &Want<'_>, inst: &Instance) -> bool {
    match (inst.label(LABEL_SPEC_HASH), inst.label(LABEL_HASH_VERSION)) {
        (Some(hash), Some(version)) if version == HASH_VERSION.to_string() => {
            hash == want.spec_hash
        }
        (Some(_), _) => true,
        (None, _) => want.deployed_hash == Some(want.spec_hash),
    }
}

pub fn drift(want: &Want<'_>, inst: Option<&Instance>) -> Vec<Drift> {
    let mut out = Vec::new();
    match want.desired {
        DesiredState::Ignore => {}
        DesiredState::Stopped => {
            if inst.is_some_and(|i| i.state == State::Running) {
                out.push(Drift::RunningButStopped);
            }
        }
        DesiredState::Running => {
            let Some(inst) = inst else {
                out.push(Drift::Missing);
                return out;
            };
            if inst.spec_image() != want.image {
                let (from, to) = image_change(inst.spec_image(), want.image);
                out.push(Drift::ImageChanged { from, to });
            }
            if !spec_matches(want, inst) {
                out.push(Drift::SpecChanged);
            }
            match &inst.state {
                State::Running => {}
                State::Exited(code) => out.push(Drift::Exited(*code)),
                State::Created => out.push(Drift::NotStarted),
                State::Paused => out.push(Drift::Paused),
                State::Other(s) => out.push(Drift::Unknown(s.clone())),
            }
        }
    }
    out
}
