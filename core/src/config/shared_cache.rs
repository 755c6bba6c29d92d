//! The shared cache's one setting, wherever it is given: a builder method, an option of any host,
//! `SharedCache` in the Microsoft.Identity.Web JSON, `certless serve --shared-cache`, or the
//! environment (`CERTLESS_SHARED_CACHE` and its key). What is set in code or configuration wins
//! over the environment, value by value; `off` turns the cache off whatever the environment says.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::builder::SharedCacheSetting;
use super::load::read_text_file;
use crate::error::{Error, ErrorCode, Result};
use crate::shared_cache::{
    AddressError, DEFAULT_LEASE_WAIT, DEFAULT_READ_BUDGET, SealKeys, Settings, parse_address,
};
use crate::support::echo::echo;
use crate::support::env::{Environment, vars};
use crate::support::secret::Secret;

/// The settings the credential uses, or `None` when the shared cache is off.
pub(super) fn resolve(set: &SharedCacheSetting, env: &dyn Environment) -> Result<Option<Settings>> {
    let url = match (&set.url, env.var(vars::SHARED_CACHE)) {
        (Some(url), _) => url.clone(),
        (None, Some(url)) => Secret::from(url),
        (None, None) => return Ok(None),
    };
    if url.expose().trim().eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let address = parse_address(url.expose()).map_err(|AddressError { why, remedy }| {
        Error::config(ErrorCode::InvalidConfig, why).with_remedy(remedy)
    })?;
    let keys = keys(set, env)?;
    let ca_file = set
        .ca_file
        .clone()
        .or_else(|| env.var(vars::SHARED_CACHE_CA_FILE).map(PathBuf::from));
    let ca_pem = match &ca_file {
        Some(path) => Some(read_text_file(path, "shared cache CA file")?.into_bytes()),
        None => None,
    };
    Ok(Some(Settings {
        address,
        keys: Arc::new(keys),
        ca_pem,
        ca_file,
        read_budget: duration(set.read_budget, env, vars::SHARED_CACHE_READ_BUDGET_MS)?
            .unwrap_or(DEFAULT_READ_BUDGET),
        lease_wait: duration(set.lease_wait, env, vars::SHARED_CACHE_LEASE_WAIT_MS)?
            .unwrap_or(DEFAULT_LEASE_WAIT),
    }))
}

/// A duration set in code, else milliseconds from the environment variable `name`.
fn duration(set: Option<Duration>, env: &dyn Environment, name: &str) -> Result<Option<Duration>> {
    if set.is_some() {
        return Ok(set);
    }
    let Some(text) = env.var(name) else {
        return Ok(None);
    };
    match text.trim().parse::<u64>() {
        Ok(ms) if (1..=600_000).contains(&ms) => Ok(Some(Duration::from_millis(ms))),
        _ => Err(Error::config(
            ErrorCode::InvalidConfig,
            format!(
                "{name} is '{}'; it takes milliseconds, 1 to 600000",
                echo(&text)
            ),
        )
        .with_remedy("Set a whole number of milliseconds, or unset it for the default.")),
    }
}

fn keys(set: &SharedCacheSetting, env: &dyn Environment) -> Result<SealKeys> {
    let file = set
        .key_file
        .clone()
        .or_else(|| env.var(vars::SHARED_CACHE_KEY_FILE).map(PathBuf::from));
    if let Some(path) = file {
        let text = read_text_file(&path, "shared cache key file")?;
        return SealKeys::parse(
            &text,
            &format!("the shared cache key file {}", shown(&path)),
        );
    }
    if let Some(text) = env.var(vars::SHARED_CACHE_KEY) {
        let text = Secret::from(text);
        return SealKeys::parse(text.expose(), vars::SHARED_CACHE_KEY);
    }
    Err(Error::config(
        ErrorCode::MissingConfig,
        "the shared cache is on but no key to seal its entries is given",
    )
    .with_remedy(format!(
        "Every machine of the farm needs the same key: write one with `certless shared-cache-key > \
         FILE` and give the file as {} (or the shared_cache_key_file option, or KeyFile under \
         SharedCache); {} takes the key itself.",
        vars::SHARED_CACHE_KEY_FILE,
        vars::SHARED_CACHE_KEY
    )))
}

fn shown(path: &Path) -> String {
    echo(&path.display().to_string()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::support::env::MapEnv;

    const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

    fn env(vars: &[(&str, &str)]) -> MapEnv {
        MapEnv::new().with_vars(vars.iter().copied())
    }

    #[test]
    fn the_environment_turns_it_on_and_code_wins() {
        let on = env(&[
            (
                vars::SHARED_CACHE,
                "redis://:hunter2-password@cache.internal:6390/2",
            ),
            (vars::SHARED_CACHE_KEY, KEY),
        ]);
        let settings = resolve(&SharedCacheSetting::default(), &on)
            .unwrap()
            .unwrap();
        assert_eq!(settings.address.target, "redis://cache.internal:6390/2");
        assert!(!format!("{settings:?}").contains("hunter2"));
        assert!(!format!("{settings:?}").contains(KEY));
        let off = SharedCacheSetting {
            url: Some(Secret::new("off")),
            ..Default::default()
        };
        assert!(resolve(&off, &on).unwrap().is_none());
        assert!(
            resolve(&SharedCacheSetting::default(), &env(&[]))
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn sentinel_and_cluster_addresses_hide_their_passwords() {
        for (url, target) in [
            (
                "redis+sentinel://:pw-of-master-42@s1,s2:26380/mymaster?sentinel_password=pw-of-sentinel-42",
                "redis+sentinel://s1:26379,s2:26380/mymaster",
            ),
            (
                "rediss+cluster://app:pw-of-cluster-42@n1:7000,n2:7001",
                "rediss+cluster://n1:7000,n2:7001",
            ),
        ] {
            let vars = env(&[(vars::SHARED_CACHE, url), (vars::SHARED_CACHE_KEY, KEY)]);
            let settings = resolve(&SharedCacheSetting::default(), &vars)
                .unwrap()
                .unwrap();
            assert_eq!(settings.address.target, target);
            assert!(!format!("{settings:?}").contains("-42"), "{settings:?}");
        }
    }

    #[test]
    fn mistakes_are_config_errors_that_say_what_to_do() {
        for (url, key, says) in [
            ("http://cache:6379", Some(KEY), "scheme 'http'"),
            ("not a url", Some(KEY), "not a URL"),
            (
                "redis+sentinel://:secret-pass@s1:26379,s2:26379",
                Some(KEY),
                "names no master",
            ),
            (
                "redis+sentinel://s1/mymaster?sentinel_password=secret-pass&sentinel_db=1",
                Some(KEY),
                "parameter 'sentinel_db'",
            ),
            (
                "redis+cluster://:secret-pass@n1:7000/2",
                Some(KEY),
                "only database 0",
            ),
            ("rediss+cluster://:secret-pass@n1:0", Some(KEY), "port '0'"),
            ("redis://cache:6379", None, "no key"),
            (
                "rediss://:secret-pass@cache:6380",
                Some("short"),
                "not base64 of 32 bytes",
            ),
        ] {
            let mut vars = vec![(vars::SHARED_CACHE, url)];
            if let Some(key) = key {
                vars.push((vars::SHARED_CACHE_KEY, key));
            }
            let e = resolve(&SharedCacheSetting::default(), &env(&vars)).unwrap_err();
            let text = format!("{e} {:?}", e.remedy());
            assert!(text.contains(says), "{url}: {text}");
            assert!(!text.contains("secret-pass"), "{text}");
        }
    }
}
