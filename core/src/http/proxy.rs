//! Proxy rules for the Entra leg: the settings read from the credential's environment, the
//! client configured with exactly them, and the proxy a request goes through as errors name it.

use crate::error::{Error, ErrorCode, Result};

/// Proxy settings for Entra, read from the credential's environment (so that they are the
/// same, and as testable, as every other setting): `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`,
/// `NO_PROXY`, lower case first as curl does.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ProxySettings {
    https: Option<ProxyVariable>,
    http: Option<ProxyVariable>,
    all: Option<ProxyVariable>,
    no_proxy: Option<String>,
}

/// A proxy URL and the name of the variable it came from, as the user spelled it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct ProxyVariable {
    name: &'static str,
    url: String,
}

impl ProxySettings {
    pub(crate) fn from_env(env: &dyn crate::support::env::Environment) -> Self {
        let var = |lower: &'static str, upper: &'static str| {
            [lower, upper]
                .into_iter()
                .find_map(|name| env.var(name).map(|url| ProxyVariable { name, url }))
        };
        ProxySettings {
            https: var("https_proxy", "HTTPS_PROXY"),
            http: var("http_proxy", "HTTP_PROXY"),
            all: var("all_proxy", "ALL_PROXY"),
            no_proxy: env.var("no_proxy").or_else(|| env.var("NO_PROXY")),
        }
    }

    /// The proxy a request to `url` goes through, by the same rules reqwest applies (the first
    /// of HTTPS_PROXY/HTTP_PROXY, ALL_PROXY that covers the scheme, unless NO_PROXY exempts the
    /// host).
    pub(crate) fn route(&self, url: &reqwest::Url) -> Option<ProxyRoute> {
        use hyper_util::client::proxy::matcher::Matcher;
        let destination: ::http::Uri = url.as_str().parse().ok()?;
        let no_proxy = self.no_proxy.as_deref().unwrap_or_default();
        let entries = [(&self.https, 0), (&self.http, 1), (&self.all, 2)];
        entries.into_iter().find_map(|(variable, kind)| {
            let ProxyVariable { name, url } = variable.as_ref()?;
            let matcher = match kind {
                0 => Matcher::builder().https(url.as_str()),
                1 => Matcher::builder().http(url.as_str()),
                _ => Matcher::builder().all(url.as_str()),
            };
            let proxy = matcher.no(no_proxy).build().intercept(&destination)?;
            let uri = proxy.uri();
            let port = uri.port_u16().unwrap_or(match uri.scheme_str() {
                Some("https") => 443,
                Some(s) if s.starts_with("socks") => 1080,
                _ => 80,
            });
            Some(ProxyRoute {
                variable: name,
                // Rebuilt from host and port: the credentials in the variable stay out.
                address: format!("{}:{port}", uri.host()?),
            })
        })
    }

    pub(super) fn apply(
        &self,
        mut builder: reqwest::ClientBuilder,
    ) -> Result<reqwest::ClientBuilder> {
        // Never the process environment behind our back: exactly these settings.
        builder = builder.no_proxy();
        let no_proxy = self
            .no_proxy
            .as_deref()
            .and_then(reqwest::NoProxy::from_string);
        let entries = [(&self.https, 0), (&self.http, 1), (&self.all, 2)];
        for (variable, kind) in entries {
            let Some(ProxyVariable { name, url }) = variable else {
                continue;
            };
            let proxy = match kind {
                0 => reqwest::Proxy::https(url.as_str()),
                1 => reqwest::Proxy::http(url.as_str()),
                _ => reqwest::Proxy::all(url.as_str()),
            }
            .map_err(|_| {
                // The value may hold proxy credentials: it is not repeated.
                Error::config(
                    ErrorCode::InvalidConfig,
                    format!("{name} is not a proxy URL"),
                )
                .with_remedy(format!("Set {name} to http://host:port (or unset it)."))
            })?;
            builder = builder.proxy(proxy.no_proxy(no_proxy.clone()));
        }
        Ok(builder)
    }
}

/// The proxy a request goes through, as errors name it: `host:port` and the variable that set it,
/// never the credentials the variable may hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ProxyRoute {
    pub variable: &'static str,
    pub address: String,
}

impl ProxyRoute {
    /// `error`, a failure to connect through this proxy, saying so and how to fix it.
    pub(super) fn explain(&self, error: Error, host: &str) -> Error {
        let ProxyRoute { variable, address } = self;
        let (what, fix) = if error.connect_failed() {
            (
                format!("the proxy {address} (set by {variable}) refused the connection"),
                format!("Start the proxy, or correct {variable} (it names {address}); "),
            )
        } else {
            (
                format!("the connection went through the proxy {address} (set by {variable})"),
                format!(
                    "Check that the proxy {address} ({variable}) lets connections to {host} \
                        through; "
                ),
            )
        };
        let remedy = format!(
            "{fix}if {host} is reachable without a proxy, add it to NO_PROXY or unset {variable}."
        );
        error
            .with_message_suffix(&format!(": {what}"))
            .with_remedy(remedy)
    }
}
