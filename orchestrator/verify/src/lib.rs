//! An independent checker of timed plans and executed traces.
//!
//! The planner in `borderlane-core` promises plans that keep the safety rules
//! written out in [`borderlane_model::plan`]. This crate checks that promise
//! with code of its own: it shares only the data types of the model crate and
//! none of the planner's reasoning, so a mistake in the planner is not
//! repeated here.
//!
//! A [`Verifier`] is made for one map and one set of [`SafetyRules`]. It checks
//! either the committed plans of a fleet ([`Verifier::check_plans`]) or a
//! trace of executed motion in the same step format, with actual times
//! ([`Verifier::check_trace`]). Both return a [`Report`] that lists every
//! [`Violation`] found, sorted by time and then by kind, together with the
//! smallest time gap observed between two vehicles.
//!
//! Every check groups the steps by the node, arc, edge or zone they use and
//! sorts each group once, so the work is `O(n log n)` in the number of steps,
//! and iteration follows map indices and vehicle ids, so the result is the
//! same on every run.
//!
//! [`SafetyRules`]: borderlane_model::SafetyRules

mod check;
mod report;
mod violation;

pub use check::Verifier;
pub use report::Report;
pub use violation::{Named, Violation};
