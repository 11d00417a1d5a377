//! Typed configuration from the environment: read once at cold start; a missing or invalid
//! variable fails with its name. Each function's `Config` lists the variables it reads
//! (`Config::VARIABLES`, as [`Var`]s) and reads them through those constants, and a test runs
//! its `from_env` over a [`Recording`] environment to check that it reads exactly that list:
//! the list is what the deployment's consistency check compares with Terraform.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
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

/// One environment variable a function reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Var {
    /// The variable's name.
    pub name: &'static str,
    /// Whether the function refuses to start without it (else it has a default).
    pub required: bool,
    /// Who sets it in a deployed function: what `tests/infra` expects of the Terraform
    /// environment.
    pub set_by: SetBy,
    /// What it sets, and its default when it has one.
    pub about: &'static str,
}

/// Who sets a variable in a deployed function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SetBy {
    /// The deployment: the function's Terraform `environment` sets it (exactly these).
    Deployment,
    /// The Lambda service (from the function's `logging_config`); `AWS_LAMBDA_*` names are
    /// reserved, so Terraform cannot set them.
    LambdaService,
    /// Nobody in AWS: an override for emulators and local debugging (`cargo lambda watch`),
    /// which Terraform must leave unset.
    Override,
}

impl Var {
    /// A variable the function cannot start without, set by the deployment.
    pub const fn required(name: &'static str, about: &'static str) -> Self {
        Self {
            name,
            required: true,
            set_by: SetBy::Deployment,
            about,
        }
    }

    /// A variable with a default, set by the deployment.
    pub const fn optional(name: &'static str, about: &'static str) -> Self {
        Self {
            name,
            required: false,
            set_by: SetBy::Deployment,
            about,
        }
    }

    /// A variable with a default that the deployment leaves to `set_by`.
    pub const fn set_by(name: &'static str, set_by: SetBy, about: &'static str) -> Self {
        Self {
            name,
            required: false,
            set_by,
            about,
        }
    }

    /// Its value; [`ConfigError::Missing`] when it is not set.
    pub fn read(&self, env: &dyn Env) -> Result<String, ConfigError> {
        required(env, self.name)
    }

    /// Its value parsed as `T`, or `default` when it is not set.
    pub fn parse<T: FromStr>(&self, env: &dyn Env, default: T) -> Result<T, ConfigError>
    where
        T::Err: std::fmt::Display,
    {
        parsed(env, self.name, default)
    }

    /// Its value as a yes/no flag (`1`, `true`, `yes` ignoring case: yes; anything else or
    /// unset: no).
    pub fn flag(&self, env: &dyn Env) -> bool {
        env.var(self.name)
            .is_some_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes"))
    }
}

/// The lake bucket's name.
pub const LAKE_BUCKET: Var = Var::required("LAKE_BUCKET", "the lake bucket's name");
/// The CloudWatch namespace of the EMF metrics.
pub const METRICS_NAMESPACE: Var = Var::optional(
    "METRICS_NAMESPACE",
    "CloudWatch namespace of the EMF metrics (default ShopFlow)",
);
/// Path-style S3 addressing, for emulators.
pub const S3_FORCE_PATH_STYLE: Var = Var::set_by(
    "SHOPFLOW_S3_FORCE_PATH_STYLE",
    SetBy::Override,
    "1/true/yes: path-style S3 addressing (emulators only; unset in AWS)",
);
/// The product APIs, `name=base_url,…`.
pub const PRODUCT_SOURCES: Var = Var::optional(
    "PRODUCT_SOURCES",
    "product APIs as name=base_url,name=base_url (default DummyJSON and FakeStore)",
);

/// The log filter of every function's JSON logs (read by `shopflow-lambda`'s set-up).
pub const RUST_LOG: Var = Var::set_by(
    "RUST_LOG",
    SetBy::Override,
    "log filter, tracing's EnvFilter syntax, when Lambda sets no AWS_LAMBDA_LOG_LEVEL (default info, with the dependencies quieter)",
);

/// The log format Lambda's advanced logging controls give a function, set by the Lambda
/// service from its `logging_config` (never by Terraform's `environment`, where `AWS_LAMBDA_*`
/// names are reserved).
pub const AWS_LAMBDA_LOG_FORMAT: Var = Var::set_by(
    "AWS_LAMBDA_LOG_FORMAT",
    SetBy::LambdaService,
    "set by Lambda from logging_config.log_format: JSON (JSON lines, also the default) or Text",
);

/// The application log level Lambda's advanced logging controls give a function, set by the
/// Lambda service from its `logging_config`.
pub const AWS_LAMBDA_LOG_LEVEL: Var = Var::set_by(
    "AWS_LAMBDA_LOG_LEVEL",
    SetBy::LambdaService,
    "set by Lambda from logging_config.application_log_level (TRACE to FATAL); takes precedence over RUST_LOG, the dependencies staying quieter",
);

/// The metrics namespace, `ShopFlow` unless [`METRICS_NAMESPACE`] says otherwise.
pub fn metrics_namespace(env: &dyn Env) -> Result<String, ConfigError> {
    METRICS_NAMESPACE.parse(env, "ShopFlow".to_string())
}

/// An [`Env`] that remembers every name asked for, to check that a `Config::from_env` reads
/// exactly the variables its `VARIABLES` lists.
pub struct Recording<'a> {
    inner: &'a dyn Env,
    asked: RefCell<BTreeSet<String>>,
}

impl<'a> Recording<'a> {
    /// Records the names asked of `inner`, answering with its values.
    pub fn new(inner: &'a dyn Env) -> Self {
        Self {
            inner,
            asked: RefCell::new(BTreeSet::new()),
        }
    }

    /// The names asked so far.
    pub fn asked(&self) -> BTreeSet<String> {
        self.asked.borrow().clone()
    }
}

impl Env for Recording<'_> {
    fn var(&self, name: &str) -> Option<String> {
        self.asked.borrow_mut().insert(name.to_string());
        self.inner.var(name)
    }
}

/// The names of `vars`, to compare with a [`Recording`]'s.
pub fn names(vars: &[Var]) -> BTreeSet<String> {
    vars.iter().map(|v| v.name.to_string()).collect()
}

/// Runs `from_env` over exactly the variables `pairs` sets, checks that it asked for exactly
/// the names `vars` lists, and returns what it read: the check each function's `Config` test
/// makes.
#[cfg(test)]
pub(crate) fn read_exactly<T>(
    vars: &[Var],
    pairs: &[(&str, &str)],
    from_env: impl Fn(&dyn Env) -> Result<T, ConfigError>,
) -> T {
    let set: BTreeMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let env = Recording::new(&set);
    let out = from_env(&env).unwrap();
    assert_eq!(env.asked(), names(vars));
    out
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
    const NAME: &str = PRODUCT_SOURCES.name;
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
