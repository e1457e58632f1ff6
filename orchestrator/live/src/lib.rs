//! The live shell around the core.
