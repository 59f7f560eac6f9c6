//! [`AuthBuilder::from_env`]: the builder read from `THOUGHTSPOT_*` environment variables.

use std::time::Duration;

use super::AuthBuilder;
use crate::api_version::ApiVersion;
use crate::error::Error;
use crate::secrets::SecretFile;

impl AuthBuilder {
    /// A builder from the environment: `THOUGHTSPOT_URL`, `THOUGHTSPOT_USERNAME`, one of
    /// `THOUGHTSPOT_PASSWORD`, `THOUGHTSPOT_PASSWORD_FILE`, `THOUGHTSPOT_SECRET_KEY` and
    /// `THOUGHTSPOT_SECRET_KEY_FILE` (a `_FILE` names a file read at each login, a
    /// [`SecretFile`](crate::secrets::SecretFile): a mounted secret that is rotated is used
    /// without a restart), and optionally `THOUGHTSPOT_ORG` (an org id or name; or
    /// `THOUGHTSPOT_ORG_ID`, an id), `THOUGHTSPOT_TOKEN_VALIDITY_SECS` and `THOUGHTSPOT_API`
    /// (`v2`, the default, or `beta`).
    ///
    /// With the `redis` feature, `THOUGHTSPOT_REDIS_URL` (`redis://` or `rediss://`) shares
    /// credentials with the rest of the fleet through a [`RedisCredentialStore`], with
    /// `THOUGHTSPOT_REDIS_USERNAME`, `THOUGHTSPOT_REDIS_PASSWORD` (an ACL user and password,
    /// if not in the URL) and `THOUGHTSPOT_REDIS_KEY_PREFIX` optionally. Without the feature a
    /// set `THOUGHTSPOT_REDIS_URL` is an error rather than silently ignored.
    ///
    /// [`RedisCredentialStore`]: crate::store::RedisCredentialStore
    pub fn from_env() -> Result<Self, Error> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub(crate) fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let need = |name: &str| {
            get(name)
                .filter(|v| !v.trim().is_empty())
                .ok_or_else(|| Error::config(format!("{name} is not set")))
        };
        let mut builder = Self::new(need("THOUGHTSPOT_URL")?);
        let user = need("THOUGHTSPOT_USERNAME")?;
        let set = |name: &str| get(name).filter(|v| !v.is_empty());
        let either = |value: &str, file: &str| match (set(value), set(file)) {
            (Some(_), Some(_)) => Err(Error::config(format!("set {value} or {file}, not both"))),
            (Some(value), None) => Ok(Some(Ok(value))),
            (None, Some(path)) => Ok(Some(Err(SecretFile::new(path.trim())))),
            (None, None) => Ok(None),
        };
        // A password wins over a secret key, as it always has.
        builder = match (
            either("THOUGHTSPOT_PASSWORD", "THOUGHTSPOT_PASSWORD_FILE")?,
            either("THOUGHTSPOT_SECRET_KEY", "THOUGHTSPOT_SECRET_KEY_FILE")?,
        ) {
            (Some(Ok(password)), _) => builder.password(user, password),
            (Some(Err(file)), _) => builder.password_from(user, file),
            (None, Some(Ok(key))) => builder.secret_key(user, key),
            (None, Some(Err(file))) => builder.secret_key_from(user, file),
            (None, None) => {
                return Err(Error::config(
                    "set THOUGHTSPOT_PASSWORD or THOUGHTSPOT_SECRET_KEY (or either's _FILE)",
                ));
            }
        };
        let org_id = get("THOUGHTSPOT_ORG_ID").filter(|v| !v.trim().is_empty());
        let org = get("THOUGHTSPOT_ORG").filter(|v| !v.trim().is_empty());
        match (org_id, org) {
            (Some(_), Some(_)) => {
                return Err(Error::config(
                    "set THOUGHTSPOT_ORG or THOUGHTSPOT_ORG_ID, not both",
                ));
            }
            (Some(id), None) => {
                let id: i64 = id
                    .trim()
                    .parse()
                    .map_err(|_| Error::config("THOUGHTSPOT_ORG_ID must be an integer"))?;
                builder = builder.org(id);
            }
            // An id or a name.
            (None, Some(org)) => {
                let org = org.trim();
                builder = match org.parse::<i64>() {
                    Ok(id) => builder.org(id),
                    Err(_) => builder.org(org),
                };
            }
            (None, None) => {}
        }
        if let Some(secs) = get("THOUGHTSPOT_TOKEN_VALIDITY_SECS").filter(|v| !v.trim().is_empty())
        {
            let secs: u64 = secs.trim().parse().map_err(|_| {
                Error::config("THOUGHTSPOT_TOKEN_VALIDITY_SECS must be a whole number of seconds")
            })?;
            builder = builder.token_validity(Duration::from_secs(secs));
        }
        match get("THOUGHTSPOT_API").as_deref().map(str::trim) {
            None | Some("") | Some("v2") | Some("V2") | Some("2.0") => {}
            Some("beta") | Some("BETA") => builder = builder.api(ApiVersion::Beta),
            Some(_) => return Err(Error::config("THOUGHTSPOT_API must be `v2` or `beta`")),
        }
        if let Some(url) = get("THOUGHTSPOT_REDIS_URL").filter(|v| !v.trim().is_empty()) {
            builder = builder.redis_from_lookup(url.trim(), &get)?;
        }
        Ok(builder)
    }

    #[cfg(feature = "redis")]
    fn redis_from_lookup(
        self,
        url: &str,
        get: &impl Fn(&str) -> Option<String>,
    ) -> Result<Self, Error> {
        let set = |name: &str| get(name).filter(|v| !v.is_empty());
        let mut store = crate::store::RedisCredentialStore::builder(url);
        if let Some(user) = set("THOUGHTSPOT_REDIS_USERNAME") {
            store = store.username(user);
        }
        if let Some(password) = set("THOUGHTSPOT_REDIS_PASSWORD") {
            store = store.password(password);
        }
        if let Some(prefix) = set("THOUGHTSPOT_REDIS_KEY_PREFIX") {
            store = store.key_prefix(prefix);
        }
        Ok(self.credential_store(store.build()?))
    }

    #[cfg(not(feature = "redis"))]
    fn redis_from_lookup(
        self,
        _url: &str,
        _get: &impl Fn(&str) -> Option<String>,
    ) -> Result<Self, Error> {
        Err(Error::config(
            "THOUGHTSPOT_REDIS_URL is set, but thoughtspot-auth was built without its `redis` \
             feature",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{SecretKind, Source};

    fn env(pairs: &[(&str, &str)]) -> Result<AuthBuilder, Error> {
        let map: std::collections::HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        AuthBuilder::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn from_env_reads_every_variable() {
        let config = env(&[
            ("THOUGHTSPOT_URL", "https://ts.example.com/"),
            ("THOUGHTSPOT_USERNAME", "svc"),
            ("THOUGHTSPOT_SECRET_KEY", "key-123"),
            ("THOUGHTSPOT_ORG_ID", "7"),
            ("THOUGHTSPOT_TOKEN_VALIDITY_SECS", "900"),
            ("THOUGHTSPOT_API", "beta"),
        ])
        .unwrap()
        .into_config()
        .unwrap();
        assert_eq!(config.base.to_string(), "https://ts.example.com");
        assert!(
            matches!(&config.source, Source::Login { user, kind: SecretKind::SecretKey, .. } if user == "svc")
        );
        assert_eq!(config.org, Some(7));
        assert_eq!(
            config.timings.token_validity,
            Some(Duration::from_secs(900))
        );
        assert_eq!(config.api, ApiVersion::Beta);

        let config = env(&[
            ("THOUGHTSPOT_URL", "https://ts.example.com"),
            ("THOUGHTSPOT_USERNAME", "svc"),
            ("THOUGHTSPOT_PASSWORD", "pw"),
            ("THOUGHTSPOT_SECRET_KEY", "key"),
        ])
        .unwrap()
        .into_config()
        .unwrap();
        assert!(matches!(
            &config.source,
            Source::Login {
                kind: SecretKind::Password,
                ..
            }
        ));
        assert_eq!(config.api, ApiVersion::V2);
        assert_eq!(config.org, None);
    }

    #[test]
    fn from_env_reads_an_org_by_id_or_by_name() {
        let with = |org: &str| {
            env(&[
                ("THOUGHTSPOT_URL", "https://ts.example.com"),
                ("THOUGHTSPOT_USERNAME", "svc"),
                ("THOUGHTSPOT_PASSWORD", "pw"),
                ("THOUGHTSPOT_ORG", org),
            ])
            .and_then(AuthBuilder::into_config)
        };
        let by_id = with(" 3 ").unwrap();
        assert_eq!((by_id.org, by_id.org_name), (Some(3), None));
        let by_name = with("Sales Team").unwrap();
        assert_eq!(
            (by_name.org, by_name.org_name.as_deref()),
            (None, Some("Sales Team"))
        );
        let both = env(&[
            ("THOUGHTSPOT_URL", "https://ts.example.com"),
            ("THOUGHTSPOT_USERNAME", "svc"),
            ("THOUGHTSPOT_PASSWORD", "pw"),
            ("THOUGHTSPOT_ORG", "Sales"),
            ("THOUGHTSPOT_ORG_ID", "1"),
        ]);
        assert!(both.err().unwrap().to_string().contains("not both"));
    }

    #[test]
    fn from_env_reads_secrets_from_files_at_each_login() {
        use futures_util::FutureExt;
        use secrecy::ExposeSecret;

        let dir = std::env::temp_dir().join(format!("ts-env-files-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (password, key) = (dir.join("password"), dir.join("key"));
        std::fs::write(&password, "pw-from-file\n").unwrap();
        std::fs::write(&key, "key-from-file").unwrap();
        let read = |config: &crate::config::AuthConfig| {
            let (kind, source) = config.secret_source().unwrap();
            let secret = source.secret(None).now_or_never().unwrap().unwrap();
            (kind, secret.expose_secret().to_owned())
        };
        let base = [
            ("THOUGHTSPOT_URL", "https://ts.example.com"),
            ("THOUGHTSPOT_USERNAME", "svc"),
        ];
        let with = |extra: &[(&str, &str)]| {
            let mut vars = base.to_vec();
            vars.extend_from_slice(extra);
            env(&vars).and_then(AuthBuilder::into_config)
        };
        let key_path = key.to_str().unwrap();
        let config = with(&[("THOUGHTSPOT_SECRET_KEY_FILE", key_path)]).unwrap();
        assert_eq!(
            read(&config),
            (SecretKind::SecretKey, "key-from-file".into())
        );
        std::fs::write(&key, "rotated-key").unwrap();
        assert_eq!(read(&config).1, "rotated-key");
        let password_path = password.to_str().unwrap();
        let config = with(&[
            ("THOUGHTSPOT_PASSWORD_FILE", password_path),
            ("THOUGHTSPOT_SECRET_KEY", "key"),
        ])
        .unwrap();
        assert_eq!(read(&config), (SecretKind::Password, "pw-from-file".into()));
        let both = with(&[
            ("THOUGHTSPOT_PASSWORD", "hunter2-secret"),
            ("THOUGHTSPOT_PASSWORD_FILE", password_path),
        ]);
        let error = both.err().unwrap().to_string();
        assert!(
            error.contains("not both") && !error.contains("hunter2"),
            "{error}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn from_env_reads_the_redis_url_without_leaking_its_password() {
        let mut vars = vec![
            ("THOUGHTSPOT_URL", "https://ts.example.com"),
            ("THOUGHTSPOT_USERNAME", "svc"),
            ("THOUGHTSPOT_PASSWORD", "pw"),
        ];
        assert!(env(&vars).unwrap().into_config().unwrap().store.is_none());
        vars.push((
            "THOUGHTSPOT_REDIS_URL",
            "redis://:redis-pw-123@127.0.0.1:6379/0",
        ));
        vars.push(("THOUGHTSPOT_REDIS_KEY_PREFIX", "svc:"));
        let result = env(&vars).and_then(AuthBuilder::into_config);
        #[cfg(feature = "redis")]
        assert!(result.unwrap().store.is_some());
        #[cfg(not(feature = "redis"))]
        {
            let error = result.err().unwrap().to_string();
            assert!(error.contains("`redis` feature"), "{error}");
            assert!(!error.contains("redis-pw-123"));
        }
        vars.retain(|(k, _)| *k != "THOUGHTSPOT_REDIS_URL");
        vars.push(("THOUGHTSPOT_REDIS_URL", "memcached://:redis-pw-123@host"));
        let error = env(&vars).err().unwrap().to_string();
        assert!(!error.contains("redis-pw-123"), "{error}");
    }

    #[test]
    fn from_env_says_what_is_missing_or_wrong_without_secrets() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[], "THOUGHTSPOT_URL is not set"),
            (
                &[("THOUGHTSPOT_URL", "https://x")],
                "THOUGHTSPOT_USERNAME is not set",
            ),
            (
                &[
                    ("THOUGHTSPOT_URL", "https://x"),
                    ("THOUGHTSPOT_USERNAME", "u"),
                ],
                "THOUGHTSPOT_PASSWORD or THOUGHTSPOT_SECRET_KEY",
            ),
            (
                &[
                    ("THOUGHTSPOT_URL", "https://x"),
                    ("THOUGHTSPOT_USERNAME", "u"),
                    ("THOUGHTSPOT_PASSWORD", "hunter2-secret"),
                    ("THOUGHTSPOT_ORG_ID", "one"),
                ],
                "THOUGHTSPOT_ORG_ID must be an integer",
            ),
            (
                &[
                    ("THOUGHTSPOT_URL", "https://x"),
                    ("THOUGHTSPOT_USERNAME", "u"),
                    ("THOUGHTSPOT_PASSWORD", "hunter2-secret"),
                    ("THOUGHTSPOT_API", "v3"),
                ],
                "THOUGHTSPOT_API must be",
            ),
            (
                &[
                    ("THOUGHTSPOT_URL", "https://x"),
                    ("THOUGHTSPOT_USERNAME", "u"),
                    ("THOUGHTSPOT_PASSWORD", "hunter2-secret"),
                    ("THOUGHTSPOT_TOKEN_VALIDITY_SECS", "-1"),
                ],
                "THOUGHTSPOT_TOKEN_VALIDITY_SECS",
            ),
        ];
        for (vars, expected) in cases {
            let err = env(vars)
                .and_then(AuthBuilder::into_config)
                .err()
                .unwrap()
                .to_string();
            assert!(err.contains(expected), "{err}");
            assert!(!err.contains("hunter2-secret"));
        }
        let builder = env(&[
            ("THOUGHTSPOT_URL", "https://x"),
            ("THOUGHTSPOT_USERNAME", "u"),
            ("THOUGHTSPOT_PASSWORD", "hunter2-secret"),
        ])
        .unwrap();
        assert!(!format!("{builder:?}").contains("hunter2-secret"));
    }
}
