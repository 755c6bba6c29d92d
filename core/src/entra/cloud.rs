//! Authority hosts and token-exchange audiences per cloud (docs/protocol.md §1, §5).

use std::net::IpAddr;

use url::Url;

use crate::error::{Error, ErrorCode, Result};
use crate::support::echo::echo;

/// The global cloud's login host.
pub const GLOBAL_AUTHORITY_HOST: &str = "https://login.microsoftonline.com";
/// The US Government cloud's login host.
pub const US_GOVERNMENT_AUTHORITY_HOST: &str = "https://login.microsoftonline.us";
/// The China cloud's login host.
pub const CHINA_AUTHORITY_HOST: &str = "https://login.chinacloudapi.cn";

/// The global cloud's token-exchange audience (docs/protocol.md §1).
pub const GLOBAL_EXCHANGE_AUDIENCE: &str = "api://AzureADTokenExchange";
/// The US Government cloud's token-exchange audience.
pub const US_GOVERNMENT_EXCHANGE_AUDIENCE: &str = "api://AzureADTokenExchangeUSGov";
/// The China cloud's token-exchange audience.
pub const CHINA_EXCHANGE_AUDIENCE: &str = "api://AzureADTokenExchangeChina";

/// A validated authority host: `https://host[:port]`, or `http://` on a loopback address
/// (the emulator). Stored without a trailing slash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthorityHost(String);

impl AuthorityHost {
    /// An authority host from configuration: https (or http on loopback only), a host and nothing else.
    pub fn parse(value: &str) -> Result<Self> {
        let trimmed = value.trim();
        let shown = echo(trimmed);
        let url = Url::parse(trimmed).map_err(|e| {
            Error::config(
                ErrorCode::InvalidConfig,
                format!("authority host '{shown}' is not a URL ({e})"),
            )
            .with_remedy("Use the cloud's login host, e.g. https://login.microsoftonline.com/.")
        })?;
        let host = url.host_str().unwrap_or_default().to_string();
        match url.scheme() {
            "https" => {}
            "http" if is_loopback(&host) => {}
            scheme => {
                return Err(Error::config(
                    ErrorCode::InsecureAuthority,
                    format!(
                        "authority host '{shown}' uses {scheme}: tokens and assertions would \
                        travel unencrypted"
                    ),
                )
                .with_remedy(
                    "Use https:// (plain http is allowed only for loopback addresses, \
                    such as the certless emulator).",
                ));
            }
        }
        if host.is_empty() {
            return Err(Error::config(
                ErrorCode::InvalidConfig,
                format!("authority host '{shown}' has no host name"),
            ));
        }
        if url.query().is_some()
            || url.fragment().is_some()
            || !url.username().is_empty()
            || url.password().is_some()
        {
            return Err(Error::config(
                ErrorCode::InvalidConfig,
                format!(
                    "authority host '{shown}' must be a bare scheme://host[:port], without user, \
                        query or fragment"
                ),
            ));
        }
        let path = url.path().trim_matches('/');
        if !path.is_empty() {
            return Err(Error::config(
                ErrorCode::InvalidConfig,
                format!(
                    "authority host '{shown}' has a path ('/{}'); the tenant goes in \
                    TenantId, not in Instance",
                    echo(path)
                ),
            )
            .with_remedy(
                "Set Instance to the bare login host \
                (https://login.microsoftonline.com/) and TenantId to the tenant.",
            ));
        }
        let mut s = format!("{}://{}", url.scheme(), url.host_str().unwrap_or_default());
        if let Some(port) = url.port() {
            s.push_str(&format!(":{port}"));
        }
        Ok(AuthorityHost(s))
    }

    /// The global cloud's authority host.
    pub fn global() -> Self {
        AuthorityHost(GLOBAL_AUTHORITY_HOST.to_string())
    }

    /// The host as a URL without a trailing slash (`https://login.microsoftonline.com`).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The audience a managed-identity token must have to be exchanged at this authority:
    /// the sovereign clouds have their own (docs/protocol.md §1). Any other host (a private cloud, the
    /// emulator) gets the global one; it is overridable in the configuration.
    pub fn default_exchange_audience(&self) -> &'static str {
        let host = self.0.split("://").nth(1).unwrap_or_default();
        let host = host.split(':').next().unwrap_or_default();
        if host.eq_ignore_ascii_case("login.microsoftonline.us")
            || host.eq_ignore_ascii_case("login.usgovcloudapi.net")
        {
            US_GOVERNMENT_EXCHANGE_AUDIENCE
        } else if host.eq_ignore_ascii_case("login.chinacloudapi.cn")
            || host.eq_ignore_ascii_case("login.partner.microsoftonline.cn")
        {
            CHINA_EXCHANGE_AUDIENCE
        } else {
            GLOBAL_EXCHANGE_AUDIENCE
        }
    }

    /// `{authority}/{tenant}/oauth2/v2.0/token`
    pub fn token_endpoint(&self, tenant: &str) -> String {
        format!("{}/{}/oauth2/v2.0/token", self.0, tenant)
    }
}

pub(crate) fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if bare.eq_ignore_ascii_case("localhost") {
        return true;
    }
    bare.parse::<IpAddr>()
        .map(|ip| ip.is_loopback())
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_and_loopback_http_are_accepted() {
        assert_eq!(
            AuthorityHost::parse("https://login.microsoftonline.com/")
                .unwrap()
                .as_str(),
            GLOBAL_AUTHORITY_HOST
        );
        assert_eq!(
            AuthorityHost::parse("http://127.0.0.1:8080")
                .unwrap()
                .as_str(),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            AuthorityHost::parse("http://[::1]:9/").unwrap().as_str(),
            "http://[::1]:9"
        );
        assert_eq!(
            AuthorityHost::parse("http://localhost:1").unwrap().as_str(),
            "http://localhost:1"
        );
    }

    #[test]
    fn http_elsewhere_is_refused_clearly() {
        for bad in [
            "http://login.microsoftonline.com",
            "http://10.0.0.1",
            "ftp://x",
            "http://127.0.0.1.evil.com",
        ] {
            let e = AuthorityHost::parse(bad).unwrap_err();
            assert_eq!(e.code(), ErrorCode::InsecureAuthority, "{bad}");
            assert!(e.to_string().contains("https://"), "{e}");
        }
        assert_eq!(
            AuthorityHost::parse("https://login.microsoftonline.com/contoso")
                .unwrap_err()
                .code(),
            ErrorCode::InvalidConfig
        );
        assert_eq!(
            AuthorityHost::parse("not a url").unwrap_err().code(),
            ErrorCode::InvalidConfig
        );
    }

    #[test]
    fn sovereign_clouds_have_their_own_audience() {
        assert_eq!(
            AuthorityHost::parse("https://login.microsoftonline.us")
                .unwrap()
                .default_exchange_audience(),
            US_GOVERNMENT_EXCHANGE_AUDIENCE
        );
        assert_eq!(
            AuthorityHost::parse("https://login.chinacloudapi.cn/")
                .unwrap()
                .default_exchange_audience(),
            CHINA_EXCHANGE_AUDIENCE
        );
        assert_eq!(
            AuthorityHost::global().default_exchange_audience(),
            GLOBAL_EXCHANGE_AUDIENCE
        );
    }
}
