//! Who may use a session: `enforce.auth.enabled` + `enforce.auth.schemes`
//! and `sessionRequireClientSASLAuth`, as ZooKeeper 3.8's
//! `AuthenticationHelper` decides it. Pure: the connection asks, this answers.
//!
//! What ZooKeeper 3.8.0 does (read in its source, then recorded against
//! Debian's server; `tests/interop/test_enforce_auth.py` checks both):
//!
//! * The connect handshake always succeeds; the session exists.
//! * Every later request except `auth` (op 100) and `sasl` (op 102) is
//!   checked before its body is even decoded: unless one of the
//!   connection's auth ids has a scheme in the enforced list, the client gets
//!   one reply `{xid, zxid 0, err -124 SessionClosedRequireSaslAuth}` and the
//!   connection is closed. Pings, `closeSession`, `setWatches`, `whoAmI`,
//!   unknown op codes: all refused the same way. The *session* is not closed;
//!   it expires on its timeout (a reconnect with its id is accepted).
//! * Every connection carries an `ip` id, so `ip` in the list admits all.
//! * `sessionRequireClientSASLAuth=true` overrides both other keys: the list
//!   becomes exactly `[sasl]` (a digest-authenticated client is refused).
//! * With `sasl` in the list, a failed SASL exchange answers -124
//!   (instead of AuthFailed -115) before closing.
//! * At start ZooKeeper refuses (exit 2) when enforcement is on and the list
//!   is empty, or a scheme has no provider (`foo`; `sasl` without an
//!   `authProvider.N=...SASLAuthenticationProvider`). With enforcement off the
//!   list is not checked at all.
use crate::config::Config;
use crate::protocol::Id;

/// The scheme `sessionRequireClientSASLAuth` enforces.
pub const SASL_SCHEME: &str = "sasl";

/// The `authProvider.N` class that gives ZooKeeper the `sasl` scheme.
pub const SASL_PROVIDER_CLASS: &str = "org.apache.zookeeper.server.auth.SASLAuthenticationProvider";

/// Op codes the check lets through: they are how a client authenticates.
const OP_AUTH: i32 = 100;
const OP_SASL: i32 = 102;

/// The enforcement in force on this server (no schemes: nothing enforced).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuthEnforcement {
    schemes: Vec<String>,
}

/// Why the settings cannot start a server: the key to fix and what is wrong
/// (ZooKeeper's own wording).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnforcementError {
    pub key: &'static str,
    pub message: String,
}

/// The settings as read from the configuration.
#[derive(Clone, Copy, Debug)]
pub struct EnforcementSettings<'a> {
    pub enforce_auth_enabled: bool,
    pub enforce_auth_schemes: &'a [String],
    pub session_require_client_sasl_auth: bool,
    /// Whether an `authProvider.N` names ZooKeeper's SASL provider (the only
    /// way the `sasl` scheme has a provider in ZooKeeper's registry).
    pub sasl_provider_configured: bool,
}

impl AuthEnforcement {
    /// Nothing enforced.
    pub fn off() -> AuthEnforcement {
        AuthEnforcement::default()
    }

    /// Resolves the settings as `AuthenticationHelper.initConfigurations`
    /// does, refusing what ZooKeeper refuses at start.
    pub fn from_settings(
        settings: EnforcementSettings<'_>,
    ) -> Result<AuthEnforcement, EnforcementError> {
        let (key, schemes) = if settings.session_require_client_sasl_auth {
            (
                "sessionRequireClientSASLAuth",
                vec![SASL_SCHEME.to_string()],
            )
        } else if settings.enforce_auth_enabled {
            (
                "enforce.auth.schemes",
                settings.enforce_auth_schemes.to_vec(),
            )
        } else {
            return Ok(AuthEnforcement::off());
        };
        if schemes.is_empty() {
            return Err(EnforcementError {
                key: "enforce.auth.schemes",
                message: "enforce.auth.enabled is true, so enforce.auth.schemes must be \
                          configured (a comma list of schemes such as digest or sasl)"
                    .to_string(),
            });
        }
        for scheme in &schemes {
            if !scheme_available(scheme, settings.sasl_provider_configured) {
                let hint = if scheme == SASL_SCHEME {
                    " (add authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider)"
                } else {
                    " (the schemes with a provider are ip, digest and, with the SASL provider, sasl)"
                };
                return Err(EnforcementError {
                    key,
                    message: format!("Authentication scheme {scheme} is not available{hint}"),
                });
            }
        }
        Ok(AuthEnforcement { schemes })
    }

    /// The enforcement a parsed configuration asks for.
    pub fn from_config(config: &Config) -> Result<AuthEnforcement, EnforcementError> {
        AuthEnforcement::from_settings(EnforcementSettings {
            enforce_auth_enabled: config.enforce_auth_enabled,
            enforce_auth_schemes: &config.enforce_auth_schemes,
            session_require_client_sasl_auth: config.session_require_client_sasl_auth,
            sasl_provider_configured: config.sasl_provider_configured,
        })
    }

    pub fn is_enabled(&self) -> bool {
        !self.schemes.is_empty()
    }

    /// `isSaslAuthRequired`: a failed SASL exchange answers -124, not -115.
    pub fn sasl_required(&self) -> bool {
        self.schemes.iter().any(|s| s == SASL_SCHEME)
    }

    pub fn schemes(&self) -> &[String] {
        &self.schemes
    }

    /// Whether a connection holding `auth` may have request `op` served.
    /// False: answer -124 with zxid 0 and close the connection.
    pub fn admits(&self, op: i32, auth: &[Id]) -> bool {
        if !self.is_enabled() || op == OP_AUTH || op == OP_SASL {
            return true;
        }
        auth.iter().any(|id| self.schemes.contains(&id.scheme))
    }
}

/// ZooKeeper's `ProviderRegistry` as paddock builds it: `ip` and `digest`
/// always, `sasl` when its provider is configured.
fn scheme_available(scheme: &str, sasl_provider_configured: bool) -> bool {
    match scheme {
        "ip" | "digest" => true,
        SASL_SCHEME => sasl_provider_configured,
        _ => false,
    }
}

/// `enforce.auth.schemes` split as ZooKeeper splits it: Java's
/// `String.split(",")` (no ',' at all: the whole value; otherwise trailing
/// empty parts dropped, inner ones kept), then each part trimmed. So
/// `digest,,ip` and `digest, ` keep a scheme "" that has no provider and are
/// refused, as ZooKeeper refuses them.
pub fn split_schemes(value: &str) -> Vec<String> {
    if !value.contains(',') {
        return vec![value.trim().to_string()];
    }
    let mut parts: Vec<&str> = value.split(',').collect();
    while parts.last().is_some_and(|s| s.is_empty()) {
        parts.pop();
    }
    parts.into_iter().map(|s| s.trim().to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings<'a>(enabled: bool, schemes: &'a [String], sasl: bool) -> EnforcementSettings<'a> {
        EnforcementSettings {
            enforce_auth_enabled: enabled,
            enforce_auth_schemes: schemes,
            session_require_client_sasl_auth: sasl,
            sasl_provider_configured: true,
        }
    }

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn off_admits_everything() {
        let e = AuthEnforcement::from_settings(settings(false, &strings(&["foo"]), false))
            .expect("enforcement off never checks the list");
        assert!(!e.is_enabled());
        assert!(e.admits(1, &[]));
    }

    #[test]
    fn digest_refuses_all_but_auth_and_sasl_until_a_digest_id() {
        let e = AuthEnforcement::from_settings(settings(true, &strings(&["digest"]), false))
            .expect("digest has a provider");
        let ip = vec![Id::new("ip", "127.0.0.1")];
        for op in [1, 3, 4, 9, 11, 101, 107, -11, 9999] {
            assert!(!e.admits(op, &ip), "op {op} must be refused");
        }
        assert!(e.admits(100, &ip));
        assert!(e.admits(102, &ip));
        let authed = vec![Id::new("ip", "127.0.0.1"), Id::new("digest", "a:b")];
        assert!(e.admits(1, &authed));
        assert!(!e.sasl_required());
    }

    #[test]
    fn ip_in_the_list_admits_every_connection() {
        let e = AuthEnforcement::from_settings(settings(true, &split_schemes("digest, ip"), false))
            .expect("ip and digest have providers");
        assert!(e.admits(1, &[Id::new("ip", "10.0.0.1")]));
    }

    #[test]
    fn session_require_sasl_overrides_the_list() {
        let e = AuthEnforcement::from_settings(settings(true, &strings(&["digest"]), true))
            .expect("sasl provider configured");
        assert_eq!(e.schemes(), &strings(&["sasl"])[..]);
        assert!(e.sasl_required());
        assert!(!e.admits(1, &[Id::new("digest", "a:b")]));
        assert!(e.admits(1, &[Id::new("sasl", "bob")]));
    }

    #[test]
    fn refusals_name_the_key() {
        let empty = AuthEnforcement::from_settings(settings(true, &[], false));
        assert_eq!(empty.expect_err("empty list").key, "enforce.auth.schemes");
        let unknown = AuthEnforcement::from_settings(settings(true, &strings(&["foo"]), false))
            .expect_err("foo has no provider");
        assert_eq!(unknown.key, "enforce.auth.schemes");
        assert!(unknown
            .message
            .contains("Authentication scheme foo is not available"));
        let mut no_provider = settings(false, &[], true);
        no_provider.sasl_provider_configured = false;
        let sasl = AuthEnforcement::from_settings(no_provider).expect_err("no sasl provider");
        assert_eq!(sasl.key, "sessionRequireClientSASLAuth");
        assert!(sasl.message.contains("SASLAuthenticationProvider"));
    }

    /// The config's finish step refuses what ZooKeeper refuses, naming the key.
    #[test]
    fn config_load_refuses_unavailable_schemes() {
        let dir = tempfile::tempdir().expect("temp dir");
        let load = |extra: &str| {
            let path = dir.path().join("zoo.cfg");
            let text = format!("dataDir={}\n{extra}", dir.path().display());
            std::fs::write(&path, text).expect("write zoo.cfg");
            crate::config::load_with_jvm_flags(Some(&path), None, None)
        };
        let error = load("enforce.auth.enabled=true\nenforce.auth.schemes=foo\n")
            .expect_err("foo has no provider");
        assert_eq!(error.key, "enforce.auth.schemes");
        let error = load("sessionRequireClientSASLAuth=true\n").expect_err("no SASL provider");
        assert_eq!(error.key, "sessionRequireClientSASLAuth");
        let (config, _) = load(&format!(
            "sessionRequireClientSASLAuth=true\nauthProvider.1={SASL_PROVIDER_CLASS}\n"
        ))
        .expect("sasl with its provider starts");
        let enforcement = AuthEnforcement::from_config(&config).expect("valid");
        assert!(enforcement.sasl_required());
    }

    #[test]
    fn schemes_split_like_java() {
        assert_eq!(split_schemes("digest, sasl,"), strings(&["digest", "sasl"]));
        assert_eq!(split_schemes("digest, "), strings(&["digest", ""]));
        assert!(split_schemes(",,").is_empty());
        assert_eq!(split_schemes("digest,,ip"), strings(&["digest", "", "ip"]));
        assert_eq!(split_schemes(""), strings(&[""]));
        let inner_empty =
            AuthEnforcement::from_settings(settings(true, &split_schemes("digest,,ip"), false));
        assert!(inner_empty.is_err());
    }
}
