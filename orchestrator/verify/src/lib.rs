//! Independent verifier (see crate description).
