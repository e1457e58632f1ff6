//! Map validation. Every rule names the feature it found wrong.

use std::collections::BTreeSet;

use super::MapParts;

/// One thing wrong with one feature of a map.
#[derive(Clone, Debug, PartialEq)]
pub struct MapIssue {
    /// The feature's id, or a description of where it is when it has none.
    pub feature: String,
    pub problem: Problem,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Problem {
    DuplicateId,
    DanglingReference { field: &'static str, target: String },
}

impl std::fmt::Display for MapIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.problem {
            Problem::DuplicateId => write!(f, "{}: duplicate id", self.feature),
            Problem::DanglingReference { field, target } => {
                write!(
                    f,
                    "{}: {field} refers to unknown node {target:?}",
                    self.feature
                )
            }
        }
    }
}

pub(crate) fn describe(issues: &[MapIssue]) -> String {
    issues
        .iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Checks the parts; every issue found is returned, in feature order.
pub(crate) fn check(parts: &MapParts) -> Result<(), Vec<MapIssue>> {
    let mut issues = Vec::new();
    let mut seen = BTreeSet::new();
    let ids = parts
        .nodes
        .iter()
        .map(|n| &n.id)
        .chain(parts.edges.iter().map(|e| &e.id))
        .chain(parts.zones.iter().map(|z| &z.id));
    for id in ids {
        if !seen.insert(id.as_str()) {
            issues.push(MapIssue {
                feature: id.clone(),
                problem: Problem::DuplicateId,
            });
        }
    }
    let node_ids: BTreeSet<&str> = parts.nodes.iter().map(|n| n.id.as_str()).collect();
    for e in &parts.edges {
        for (field, target) in [("from", &e.from), ("to", &e.to)] {
            if !node_ids.contains(target.as_str()) {
                issues.push(MapIssue {
                    feature: e.id.clone(),
                    problem: Problem::DanglingReference {
                        field,
                        target: target.clone(),
                    },
                });
            }
        }
    }
    for z in &parts.zones {
        for m in &z.members {
            if !node_ids.contains(m.as_str()) {
                issues.push(MapIssue {
                    feature: z.id.clone(),
                    problem: Problem::DanglingReference {
                        field: "members",
                        target: m.clone(),
                    },
                });
            }
        }
    }
    if issues.is_empty() {
        Ok(())
    } else {
        Err(issues)
    }
}
