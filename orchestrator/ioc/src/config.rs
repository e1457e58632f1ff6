//! The operation center's configuration: where it listens, who may sign
//! in, and how.
//!
//! Passwords are stored as argon2 hashes in the PHC string format
//! (`$argon2id$v=19$m=19456,t=2,p=1$…`). Make one with
//! [`hash_password`], for example from a small program or a test:
//!
//! ```
//! let hash = borderlane_ioc::hash_password("correct horse battery staple").unwrap();
//! assert!(hash.starts_with("$argon2id$"));
//! ```
//!
//! or with any argon2 tool that prints PHC strings, such as the `argon2`
//! command of Debian's package of the same name:
//! `echo -n 'password' | argon2 "$(openssl rand -hex 16)" -id -e`.

use std::net::{Ipv4Addr, SocketAddr};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString};
use password_hash::rand_core::OsRng;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What a signed-in user may do.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Sees everything, changes nothing.
    Viewer,
    /// Sees everything and may act on the lane.
    Operator,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
        }
    }

    /// Reads `viewer` or `operator`, in any case.
    pub fn parse(s: &str) -> Option<Role> {
        match s.trim().to_ascii_lowercase().as_str() {
            "viewer" => Some(Role::Viewer),
            "operator" => Some(Role::Operator),
            _ => None,
        }
    }
}

/// An account that may sign in with a password.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    pub name: String,
    pub role: Role,
    /// The argon2 hash of the password, as a PHC string.
    pub password_hash: String,
}

/// How the operation center is served.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IocConfig {
    /// Where to listen; by default a free port on the loopback interface
    /// only.
    pub listen: SocketAddr,
    /// The accounts that may sign in.
    pub users: Vec<User>,
    /// A header a reverse proxy in front of the operation center sets to
    /// the name of the user it signed in (`X-Remote-User`, say). It is
    /// believed only on connections from the loopback interface, where the
    /// proxy runs; elsewhere it is ignored.
    pub trusted_proxy_header: Option<String>,
    /// A header the same proxy sets to the user's role (`viewer` or
    /// `operator`). Without it, a proxied user listed in `users` has the
    /// role given there, and any other is a viewer.
    pub trusted_proxy_role_header: Option<String>,
    /// The side this orchestrator runs (`VN`, `CN`, or `both` for a demo),
    /// shown in the page.
    pub side: String,
    /// Whether session cookies are marked `Secure` (sent over HTTPS only).
    /// Set it whenever the page is reached over HTTPS, as through a proxy.
    pub cookie_secure: bool,
    /// Whether the live view may be seen without signing in. Actions and
    /// the audit trail always need a signed-in user.
    pub public_view: bool,
    /// How long a session lasts without use, seconds.
    pub session_idle_s: u64,
}

impl Default for IocConfig {
    fn default() -> IocConfig {
        IocConfig {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            users: Vec::new(),
            trusted_proxy_header: None,
            trusted_proxy_role_header: None,
            side: "both".to_string(),
            cookie_secure: false,
            public_view: true,
            session_idle_s: 12 * 3_600,
        }
    }
}

/// What is wrong with a configuration.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IocError {
    #[error("users[{index}] ({name:?}): password_hash is not an argon2 PHC string: {reason}")]
    BadHash {
        index: usize,
        name: String,
        reason: String,
    },
    #[error("users[{index}]: name must not be empty")]
    EmptyName { index: usize },
    #[error("users[{index}] ({name:?}) is listed twice")]
    DuplicateUser { index: usize, name: String },
    #[error("{field}: {value:?} is not a valid HTTP header name")]
    BadHeader { field: &'static str, value: String },
    #[error("could not hash the password: {0}")]
    Hash(String),
}

impl IocConfig {
    /// Checks every account and header name; each error names the field.
    pub fn validate(&self) -> Result<(), Vec<IocError>> {
        let mut errors = Vec::new();
        let mut names = std::collections::BTreeSet::new();
        for (index, u) in self.users.iter().enumerate() {
            if u.name.trim().is_empty() {
                errors.push(IocError::EmptyName { index });
            } else if !names.insert(u.name.as_str()) {
                errors.push(IocError::DuplicateUser {
                    index,
                    name: u.name.clone(),
                });
            }
            if let Err(e) = PasswordHash::new(&u.password_hash) {
                errors.push(IocError::BadHash {
                    index,
                    name: u.name.clone(),
                    reason: e.to_string(),
                });
            }
        }
        for (field, value) in [
            ("trusted_proxy_header", &self.trusted_proxy_header),
            ("trusted_proxy_role_header", &self.trusted_proxy_role_header),
        ] {
            if let Some(v) = value
                && axum::http::HeaderName::from_bytes(v.as_bytes()).is_err()
            {
                errors.push(IocError::BadHeader {
                    field,
                    value: v.clone(),
                });
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

/// Hashes a password with argon2id and a random salt, as a PHC string for
/// [`User::password_hash`].
pub fn hash_password(password: &str) -> Result<String, IocError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| IocError::Hash(e.to_string()))
}

/// Whether `password` matches a PHC hash; a hash that cannot be read
/// matches nothing.
pub fn verify_password(password: &str, hash: &str) -> bool {
    use argon2::password_hash::PasswordVerifier;
    match PasswordHash::new(hash) {
        Ok(h) => Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok(),
        Err(_) => false,
    }
}
