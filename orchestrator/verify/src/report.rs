//! The result of one check.

use std::fmt;
use std::sync::Arc;

use borderlane_model::Ms;
use serde::{Deserialize, Serialize};

use crate::violation::{Labels, Named, Names, Span, Violation};

/// What a check found.
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct Report {
    /// Every violation found, sorted by time and then by kind.
    pub violations: Vec<Violation>,
    /// The smallest time gap observed between two different vehicles that
    /// follow one another at one node (the next arrival minus the previous
    /// departure) or on one arc (at entry and at exit); `None` if no node or
    /// arc was used by two vehicles. Overlaps count as a gap of 0.
    pub min_headway_ms: Option<Ms>,
    /// How many steps were examined, over all plans.
    pub checked_steps: usize,
    /// The map's ids, to name things by when the report is shown.
    #[serde(skip)]
    names: Option<Arc<Names>>,
}

impl Report {
    pub(crate) fn new(
        violations: Vec<Violation>,
        min_headway_ms: Option<Ms>,
        checked_steps: usize,
        names: Arc<Names>,
    ) -> Report {
        Report {
            violations,
            min_headway_ms,
            checked_steps,
            names: Some(names),
        }
    }

    /// Whether no rule was broken.
    pub fn is_clean(&self) -> bool {
        self.violations.is_empty()
    }

    /// A violation of this report told with the ids of the map it was checked
    /// against.
    pub fn describe<'a>(&'a self, violation: &'a Violation) -> Named<'a> {
        Named {
            violation,
            labels: match &self.names {
                Some(names) => Labels::Names(names),
                None => Labels::None,
            },
        }
    }

    /// How many violations of one kind (see [`Violation::kind`]) were found.
    pub fn count(&self, kind: &str) -> usize {
        self.violations.iter().filter(|v| v.kind() == kind).count()
    }
}

impl fmt::Debug for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Report")
            .field("violations", &self.violations)
            .field("min_headway_ms", &self.min_headway_ms)
            .field("checked_steps", &self.checked_steps)
            .finish()
    }
}

/// Two reports are equal when they found the same things; the names they
/// carry for display do not take part.
impl PartialEq for Report {
    fn eq(&self, other: &Report) -> bool {
        self.violations == other.violations
            && self.min_headway_ms == other.min_headway_ms
            && self.checked_steps == other.checked_steps
    }
}

impl Eq for Report {}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "checked {} steps: ", self.checked_steps)?;
        match self.violations.len() {
            0 => f.write_str("clean")?,
            1 => f.write_str("1 violation")?,
            n => write!(f, "{n} violations")?,
        }
        match self.min_headway_ms {
            Some(gap) => write!(f, "; smallest headway {}", Span(gap))?,
            None => f.write_str("; no two vehicles shared a node or arc")?,
        }
        for v in &self.violations {
            write!(f, "\n  - {}", self.describe(v))?;
        }
        Ok(())
    }
}
