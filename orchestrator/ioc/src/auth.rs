//! Sign-in, sessions and CSRF tokens.
//!
//! A session is a random 256-bit token in an `HttpOnly`, `SameSite=Strict`
//! cookie (and `Secure` when configured), with a second random token, the
//! CSRF token, that the page sends back in the `X-CSRF-Token` header with
//! every action. A user named by a trusted reverse proxy has no cookie; its
//! CSRF token is kept per user name and handed out by `/api/session`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use password_hash::rand_core::{OsRng, RngCore};

use crate::config::{IocConfig, Role, hash_password, verify_password};
use crate::lock;

/// The session cookie's name.
pub const COOKIE: &str = "borderlane_ioc_session";
/// The header that carries the CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// At most this many sessions are kept; the least recently used goes first.
const MAX_SESSIONS: usize = 1_000;

/// Who is asking.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    pub user: String,
    pub role: Role,
    /// The CSRF token the request must carry to act.
    pub csrf: String,
    /// Whether a proxy named the user (no session cookie).
    pub proxied: bool,
}

#[derive(Clone, Debug)]
struct Session {
    user: String,
    role: Role,
    csrf: String,
    last_used: Instant,
}

pub struct Auth {
    /// Name to (role, PHC hash).
    users: HashMap<String, (Role, String)>,
    proxy_user: Option<String>,
    proxy_role: Option<String>,
    idle: Duration,
    sessions: Mutex<HashMap<String, Session>>,
    proxy_csrf: Mutex<HashMap<String, String>>,
    /// A hash to check unknown names against, so that a wrong name takes as
    /// long as a wrong password.
    dummy: OnceLock<String>,
}

/// A fresh random token, 64 hex digits.
pub fn token() -> String {
    let mut b = [0u8; 32];
    OsRng.fill_bytes(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Compares two strings in time that depends only on their lengths.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

impl Auth {
    pub fn new(config: &IocConfig) -> Auth {
        Auth {
            users: config
                .users
                .iter()
                .map(|u| (u.name.clone(), (u.role, u.password_hash.clone())))
                .collect(),
            proxy_user: config.trusted_proxy_header.clone(),
            proxy_role: config.trusted_proxy_role_header.clone(),
            idle: Duration::from_secs(config.session_idle_s.max(1)),
            sessions: Mutex::new(HashMap::new()),
            proxy_csrf: Mutex::new(HashMap::new()),
            dummy: OnceLock::new(),
        }
    }

    /// Checks a name and password; the user's role if they match. Slow on
    /// purpose (argon2): call it off the async threads.
    pub fn check_password(&self, name: &str, password: &str) -> Option<Role> {
        match self.users.get(name) {
            Some((role, hash)) => verify_password(password, hash).then_some(*role),
            None => {
                let dummy = self
                    .dummy
                    .get_or_init(|| hash_password("not a password").unwrap_or_default());
                verify_password(password, dummy);
                None
            }
        }
    }

    /// Opens a session; returns its token and the principal.
    pub fn open(&self, user: &str, role: Role) -> (String, Principal) {
        let id = token();
        let csrf = token();
        let mut sessions = lock(&self.sessions);
        let now = Instant::now();
        sessions.retain(|_, s| now.duration_since(s.last_used) < self.idle);
        if sessions.len() >= MAX_SESSIONS
            && let Some(oldest) = sessions
                .iter()
                .min_by_key(|(_, s)| s.last_used)
                .map(|(k, _)| k.clone())
        {
            sessions.remove(&oldest);
        }
        sessions.insert(
            id.clone(),
            Session {
                user: user.to_string(),
                role,
                csrf: csrf.clone(),
                last_used: now,
            },
        );
        (
            id,
            Principal {
                user: user.to_string(),
                role,
                csrf,
                proxied: false,
            },
        )
    }

    /// Closes the session the request's cookie names, if any.
    pub fn close(&self, headers: &HeaderMap) {
        if let Some(id) = cookie_value(headers, COOKIE) {
            lock(&self.sessions).remove(id);
        }
    }

    /// Who sent a request: the user a trusted proxy names (on a loopback
    /// connection only), else the user of the session cookie.
    pub fn principal(&self, headers: &HeaderMap, peer: Option<SocketAddr>) -> Option<Principal> {
        if let Some(p) = self.proxied(headers, peer) {
            return Some(p);
        }
        let id = cookie_value(headers, COOKIE)?;
        let mut sessions = lock(&self.sessions);
        let now = Instant::now();
        let s = sessions.get_mut(id)?;
        if now.duration_since(s.last_used) >= self.idle {
            sessions.remove(id);
            return None;
        }
        s.last_used = now;
        Some(Principal {
            user: s.user.clone(),
            role: s.role,
            csrf: s.csrf.clone(),
            proxied: false,
        })
    }

    fn proxied(&self, headers: &HeaderMap, peer: Option<SocketAddr>) -> Option<Principal> {
        let header = self.proxy_user.as_deref()?;
        if !peer.is_some_and(|p| p.ip().to_canonical().is_loopback()) {
            return None;
        }
        let user = headers.get(header)?.to_str().ok()?.trim();
        if user.is_empty() {
            return None;
        }
        let role = self
            .proxy_role
            .as_deref()
            .and_then(|h| headers.get(h))
            .and_then(|v| v.to_str().ok())
            .and_then(Role::parse)
            .or_else(|| self.users.get(user).map(|(r, _)| *r))
            .unwrap_or(Role::Viewer);
        let csrf = lock(&self.proxy_csrf)
            .entry(user.to_string())
            .or_insert_with(token)
            .clone();
        Some(Principal {
            user: user.to_string(),
            role,
            csrf,
            proxied: true,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_compared_whole() {
        let a = token();
        let b = token();
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert!(same_secret(&a, &a.clone()));
        assert!(!same_secret(&a, &b));
        assert!(!same_secret(&a, &a[..63]));
    }

    #[test]
    fn cookies_are_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            axum::http::header::COOKIE,
            "a=1; borderlane_ioc_session=abc ; b=2".parse().unwrap(),
        );
        assert_eq!(cookie_value(&h, COOKIE), Some("abc"));
        assert_eq!(cookie_value(&h, "c"), None);
    }

    #[test]
    fn the_proxy_header_is_believed_from_loopback_only() {
        let config = IocConfig {
            trusted_proxy_header: Some("X-Remote-User".into()),
            trusted_proxy_role_header: Some("X-Remote-Role".into()),
            ..IocConfig::default()
        };
        let auth = Auth::new(&config);
        let mut h = HeaderMap::new();
        h.insert("x-remote-user", "lan".parse().unwrap());
        h.insert("x-remote-role", "operator".parse().unwrap());
        let local: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let remote: SocketAddr = "192.0.2.7:5000".parse().unwrap();
        let p = auth.principal(&h, Some(local)).unwrap();
        assert_eq!(
            (p.user.as_str(), p.role, p.proxied),
            ("lan", Role::Operator, true)
        );
        assert_eq!(auth.principal(&h, Some(remote)), None);
        assert_eq!(auth.principal(&h, None), None);
        h.remove("x-remote-role");
        assert_eq!(auth.principal(&h, Some(local)).unwrap().role, Role::Viewer);
    }
}
