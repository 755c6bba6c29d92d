//! The clouds: one table of what differs between Microsoft's clouds (login hosts, the
//! token-exchange audience, the hosts of the resources certless talks to), and the validated
//! authority host a configuration names (docs/protocol.md §1, §5).

use std::net::IpAddr;

use url::Url;

use crate::error::{Error, ErrorCode, Result};
use crate::support::echo::echo;

/// One of Microsoft's clouds, as far as certless needs to tell them apart.
#[derive(Debug, PartialEq, Eq)]
pub struct Cloud {
    /// A short stable name: `public`, `us-government`, `china`, `us-nat`, `us-sec`.
    pub name: &'static str,
    /// The name people use for it.
    pub display_name: &'static str,
    /// Its login hosts (host names only); the first is the one to configure.
    pub login_hosts: &'static [&'static str],
    /// The audience its managed-identity tokens carry for a federated credential.
    pub exchange_audience: &'static str,
    /// Microsoft Graph's URL.
    pub graph: &'static str,
    /// Key Vault's resource (the audience of a vault token); vault hosts end in its host.
    pub key_vault: &'static str,
    /// The host suffixes of SharePoint Online (empty where it is not documented publicly).
    pub sharepoint_suffixes: &'static [&'static str],
    /// Azure Resource Manager's URL.
    pub resource_manager: &'static str,
}

/// Every cloud certless knows, the public cloud first (docs/protocol.md §1).
pub static CLOUDS: [Cloud; 5] = [
    Cloud {
        name: "public",
        display_name: "Azure public cloud",
        login_hosts: &[
            "login.microsoftonline.com",
            "login.windows.net",
            "sts.windows.net",
        ],
        exchange_audience: GLOBAL_EXCHANGE_AUDIENCE,
        graph: "https://graph.microsoft.com",
        key_vault: "https://vault.azure.net",
        sharepoint_suffixes: &[".sharepoint.com"],
        resource_manager: "https://management.azure.com",
    },
    Cloud {
        name: "us-government",
        display_name: "Azure US Government",
        login_hosts: &["login.microsoftonline.us", "login.usgovcloudapi.net"],
        exchange_audience: US_GOVERNMENT_EXCHANGE_AUDIENCE,
        graph: "https://graph.microsoft.us",
        key_vault: "https://vault.usgovcloudapi.net",
        sharepoint_suffixes: &[".sharepoint.us", ".sharepoint-mil.us"],
        resource_manager: "https://management.usgovcloudapi.net",
    },
    Cloud {
        name: "china",
        display_name: "Azure operated by 21Vianet (China)",
        login_hosts: &["login.chinacloudapi.cn", "login.partner.microsoftonline.cn"],
        exchange_audience: CHINA_EXCHANGE_AUDIENCE,
        graph: "https://microsoftgraph.chinacloudapi.cn",
        key_vault: "https://vault.azure.cn",
        sharepoint_suffixes: &[".sharepoint.cn"],
        resource_manager: "https://management.chinacloudapi.cn",
    },
    Cloud {
        name: "us-nat",
        display_name: "Azure US Government Secret (USNat)",
        login_hosts: &["login.microsoftonline.eaglex.ic.gov"],
        exchange_audience: US_NAT_EXCHANGE_AUDIENCE,
        graph: "https://graph.eaglex.ic.gov",
        key_vault: "https://vault.cloudapi.eaglex.ic.gov",
        sharepoint_suffixes: &[],
        resource_manager: "https://management.azure.eaglex.ic.gov",
    },
    Cloud {
        name: "us-sec",
        display_name: "Azure US Government Top Secret (USSec)",
        login_hosts: &["login.microsoftonline.microsoft.scloud"],
        exchange_audience: US_SEC_EXCHANGE_AUDIENCE,
        graph: "https://graph.microsoft.scloud",
        key_vault: "https://vault.cloudapi.microsoft.scloud",
        sharepoint_suffixes: &[],
        resource_manager: "https://management.azure.microsoft.scloud",
    },
];

impl Cloud {
    /// The public cloud.
    pub fn public() -> &'static Cloud {
        &CLOUDS[0]
    }

    /// The cloud one of whose login hosts is `host` (a host name, any case).
    pub fn with_login_host(host: &str) -> Option<&'static Cloud> {
        CLOUDS
            .iter()
            .find(|c| c.login_hosts.iter().any(|h| h.eq_ignore_ascii_case(host)))
    }

    /// The cloud whose token-exchange audience is `audience` (exactly: Entra compares it so).
    pub fn with_exchange_audience(audience: &str) -> Option<&'static Cloud> {
        CLOUDS.iter().find(|c| c.exchange_audience == audience)
    }

    /// The cloud named `name` (one of [`Cloud::name`], any case).
    pub fn named(name: &str) -> Option<&'static Cloud> {
        CLOUDS.iter().find(|c| c.name.eq_ignore_ascii_case(name))
    }

    /// The cloud whose Key Vault serves `host` (`contoso.vault.azure.net`).
    pub fn with_key_vault_host(host: &str) -> Option<&'static Cloud> {
        let host = host.to_ascii_lowercase();
        CLOUDS.iter().find(|c| {
            let suffix = c.key_vault.trim_start_matches("https://");
            host.strip_suffix(suffix).is_some_and(|h| h.ends_with('.'))
        })
    }

    /// The login host to configure, as a URL (`https://login.microsoftonline.us`).
    pub fn authority_host(&self) -> String {
        format!("https://{}", self.login_hosts[0])
    }
}

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
/// The US Nat cloud's token-exchange audience.
pub const US_NAT_EXCHANGE_AUDIENCE: &str = "api://AzureADTokenExchangeUSNat";
/// The US Sec cloud's token-exchange audience.
pub const US_SEC_EXCHANGE_AUDIENCE: &str = "api://AzureADTokenExchangeUSSec";

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

    /// The host name alone (`login.microsoftonline.com`).
    pub fn host(&self) -> &str {
        let host = self.0.split("://").nth(1).unwrap_or_default();
        match host.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or_default(),
            None => host.split(':').next().unwrap_or_default(),
        }
    }

    /// The cloud this host belongs to; `None` for any other host (a private cloud, a proxy,
    /// the emulator).
    pub fn known_cloud(&self) -> Option<&'static Cloud> {
        Cloud::with_login_host(self.host())
    }

    /// The cloud to assume: this host's, or the public cloud for any other host.
    pub fn cloud(&self) -> &'static Cloud {
        self.known_cloud().unwrap_or(Cloud::public())
    }

    /// The audience a managed-identity token must have to be exchanged at this authority: the
    /// sovereign clouds have their own (docs/protocol.md §1). Any other host (a private cloud,
    /// the emulator) gets the public one; it is overridable in the configuration.
    pub fn default_exchange_audience(&self) -> &'static str {
        self.cloud().exchange_audience
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

    #[test]
    fn every_cloud_is_found_by_its_hosts_and_its_audience() {
        let names: Vec<&str> = CLOUDS.iter().map(|c| c.name).collect();
        assert_eq!(
            names,
            ["public", "us-government", "china", "us-nat", "us-sec"]
        );
        for cloud in &CLOUDS {
            for host in cloud.login_hosts {
                assert_eq!(Cloud::with_login_host(host), Some(cloud), "{host}");
                let authority = AuthorityHost::parse(&format!("https://{host}/")).unwrap();
                assert_eq!(authority.known_cloud(), Some(cloud));
                assert_eq!(
                    authority.default_exchange_audience(),
                    cloud.exchange_audience
                );
            }
            assert_eq!(
                Cloud::with_exchange_audience(cloud.exchange_audience),
                Some(cloud)
            );
            assert_eq!(Cloud::named(&cloud.name.to_uppercase()), Some(cloud));
            let vault = format!("contoso.{}", cloud.key_vault.trim_start_matches("https://"));
            assert_eq!(Cloud::with_key_vault_host(&vault), Some(cloud), "{vault}");
            assert!(
                cloud.graph.starts_with("https://")
                    && cloud.resource_manager.starts_with("https://")
            );
        }
        // Audiences are compared exactly, as Entra compares them.
        assert_eq!(
            Cloud::with_exchange_audience("api://azureadtokenexchange"),
            None
        );
        assert_eq!(Cloud::with_key_vault_host("vault.azure.net.evil.com"), None);
        assert_eq!(
            Cloud::with_login_host("LOGIN.MICROSOFTONLINE.US").map(|c| c.name),
            Some("us-government")
        );
        assert_eq!(
            AuthorityHost::parse("https://login.microsoftonline.eaglex.ic.gov")
                .unwrap()
                .default_exchange_audience(),
            US_NAT_EXCHANGE_AUDIENCE
        );
        assert_eq!(
            AuthorityHost::parse("https://login.microsoftonline.microsoft.scloud:443/")
                .unwrap()
                .default_exchange_audience(),
            US_SEC_EXCHANGE_AUDIENCE
        );
    }

    #[test]
    fn other_hosts_are_no_known_cloud_and_get_the_public_defaults() {
        for host in [
            "http://127.0.0.1:8080",
            "http://[::1]:9",
            "https://login.contoso.internal",
        ] {
            let authority = AuthorityHost::parse(host).unwrap();
            assert_eq!(authority.known_cloud(), None, "{host}");
            assert_eq!(authority.cloud(), Cloud::public());
        }
        assert_eq!(
            AuthorityHost::parse("http://[::1]:9").unwrap().host(),
            "::1"
        );
        assert_eq!(
            AuthorityHost::parse("http://127.0.0.1:8080")
                .unwrap()
                .host(),
            "127.0.0.1"
        );
    }
}
