//! Typed configuration from the environment: read once at cold start; a missing or invalid
//! variable fails with its name.

use std::collections::BTreeMap;
use std::str::FromStr;

/// A configuration problem.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A required variable is not set (or empty).
    #[error("environment variable {name} is not set")]
    Missing {
        /// The variable.
        name: &'static str,
    },
    /// A variable does not parse.
    #[error("environment variable {name}={value:?} is invalid: {reason}")]
    Invalid {
        /// The variable.
        name: &'static str,
        /// Its value.
        value: String,
        /// Why.
        reason: String,
    },
}

/// Where variables come from (the process environment, or a map in tests).
pub trait Env {
    /// The value of `name`, if set and non-empty.
    fn var(&self, name: &str) -> Option<String>;
}

/// The process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.trim().is_empty())
    }
}

impl Env for BTreeMap<String, String> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).cloned().filter(|v| !v.trim().is_empty())
    }
}

/// A required variable.
pub fn required(env: &dyn Env, name: &'static str) -> Result<String, ConfigError> {
    env.var(name).ok_or(ConfigError::Missing { name })
}

/// An optional variable parsed as `T`, or `default`.
pub fn parsed<T: FromStr>(env: &dyn Env, name: &'static str, default: T) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    match env.var(name) {
        None => Ok(default),
        Some(value) => value
            .trim()
            .parse()
            .map_err(|e: T::Err| ConfigError::Invalid {
                name,
                reason: e.to_string(),
                value,
            }),
    }
}

/// Product API sources: `name=base_url,name=base_url` (default: DummyJSON and FakeStore).
pub fn product_sources(env: &dyn Env) -> Result<BTreeMap<String, String>, ConfigError> {
    const NAME: &str = "PRODUCT_SOURCES";
    let text = env.var(NAME).unwrap_or_else(|| {
        "dummyjson=https://dummyjson.com/products,fakestore=https://fakestoreapi.com/products"
            .into()
    });
    let mut out = BTreeMap::new();
    for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, url) = pair.split_once('=').ok_or_else(|| ConfigError::Invalid {
            name: NAME,
            value: text.clone(),
            reason: format!("{pair:?} is not name=url"),
        })?;
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(ConfigError::Invalid {
                name: NAME,
                value: text.clone(),
                reason: format!("{url:?} is not an http(s) URL"),
            });
        }
        out.insert(
            name.trim().to_string(),
            url.trim().trim_end_matches('/').to_string(),
        );
    }
    if out.is_empty() {
        return Err(ConfigError::Invalid {
            name: NAME,
            value: text,
            reason: "no source".into(),
        });
    }
    Ok(out)
}

/// Whether a source name is the FakeStore API (no pagination: one page holds everything).
pub fn is_unpaginated(source: &str) -> bool {
    source.eq_ignore_ascii_case("fakestore")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn names_the_missing_variable() {
        let err = required(&env(&[]), "LAKE_BUCKET").unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment variable LAKE_BUCKET is not set"
        );
    }

    #[test]
    fn names_the_invalid_variable() {
        let err = parsed::<u32>(&env(&[("MAX_ATTEMPTS", "many")]), "MAX_ATTEMPTS", 3).unwrap_err();
        assert!(err.to_string().contains("MAX_ATTEMPTS=\"many\""), "{err}");
        assert_eq!(parsed::<u32>(&env(&[]), "MAX_ATTEMPTS", 3).unwrap(), 3);
    }

    #[test]
    fn parses_product_sources() {
        let s = product_sources(&env(&[(
            "PRODUCT_SOURCES",
            "dummyjson=http://127.0.0.1:9/products/",
        )]))
        .unwrap();
        assert_eq!(s["dummyjson"], "http://127.0.0.1:9/products");
        assert!(product_sources(&env(&[("PRODUCT_SOURCES", "x=ftp://a")])).is_err());
        assert_eq!(product_sources(&env(&[])).unwrap().len(), 2);
    }
}
