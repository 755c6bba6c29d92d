//! What the AADSTS codes of the managed-identity → federated-credential flow mean, and how to fix
//! them (docs/protocol.md §4). Branch on the numeric code, never on Entra's description text.

/// The codes that mean "no federated credential on the app matches the assertion" (its issuer,
/// subject or audience, or all three).
pub(crate) const NO_MATCHING_FIC: [u32; 7] =
    [70021, 700211, 700212, 7002121, 700213, 7002137, 7002138];

/// Cross-tenant federation is restricted.
pub(crate) const CROSS_TENANT: u32 = 700236;

/// What one AADSTS code means in this flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AadstsInfo {
    /// The number after `AADSTS`.
    pub code: u32,
    /// One line: what Entra is telling us.
    pub meaning: &'static str,
    /// One line: what to do about it.
    pub remedy: &'static str,
    /// Worth retrying as is (Entra's own transient failures).
    pub transient: bool,
}

const fn info(code: u32, meaning: &'static str, remedy: &'static str) -> AadstsInfo {
    AadstsInfo {
        code,
        meaning,
        remedy,
        transient: false,
    }
}

const fn transient(code: u32, meaning: &'static str) -> AadstsInfo {
    AadstsInfo {
        code,
        meaning,
        remedy: "Transient Entra failure: retry with backoff; if it persists, check the Azure \
            status page.",
        transient: true,
    }
}

const FIC_FIX: &str = "The app's federated credential must match the managed-identity token exactly (case-sensitive): \
issuer https://login.microsoftonline.com/<tenant-id>/v2.0, subject = the managed identity's object (principal) id, \
audience api://AzureADTokenExchange; `certless doctor` prints the exact values and the `az ad app federated-credential create` command.";

static TABLE: &[AadstsInfo] = &[
    info(
        70021,
        "No federated identity credential on the app matches the assertion's issuer, subject and \
            audience.",
        FIC_FIX,
    ),
    info(
        700211,
        "No federated identity credential on the app has the assertion's issuer.",
        FIC_FIX,
    ),
    info(
        700212,
        "No federated identity credential on the app has the assertion's audience.",
        FIC_FIX,
    ),
    info(
        7002121,
        "No federated identity credential on the app has the assertion's audience.",
        FIC_FIX,
    ),
    info(
        700213,
        "No federated identity credential on the app has the assertion's subject.",
        FIC_FIX,
    ),
    info(
        7002137,
        "No federated identity credential on the app has the assertion's subject.",
        FIC_FIX,
    ),
    info(
        7002138,
        "No federated identity credential on the app has the assertion's subject: one differs \
            only in case, and matching is case-sensitive.",
        FIC_FIX,
    ),
    info(
        700024,
        "The client assertion is not within its valid time range (expired, or not yet valid).",
        "Check this machine's clock (NTP) against real time; the managed-identity token must \
            have minutes of life left when it is sent — certless refreshes it 5 minutes before \
            expiry, so a recurring 700024 means clock skew or a token cached elsewhere.",
    ),
    info(
        700027,
        "The client assertion's signature is not valid.",
        "The assertion was not issued by Entra for this cloud: is something intercepting the \
            managed-identity endpoint (a proxy on 169.254.169.254), or does the authority belong \
            to a different cloud than the managed identity?",
    ),
    info(
        700021,
        "The client assertion's iss/sub is not the ClientId it was sent with.",
        "A certificate assertion must have iss = sub = the app's client id; a federated token's \
            issuer must be trusted by a federated credential. Check ClientId.",
    ),
    info(
        700023,
        "The client assertion's audience is not this token endpoint.",
        "A certificate assertion's aud must be the token endpoint of the authority and tenant it \
            is sent to (certless sets it); check Instance/AZURE_AUTHORITY_HOST and TenantId.",
    ),
    info(
        50027,
        "The client assertion is not a valid JWT.",
        "The managed-identity endpoint returned something that is not a token, or a proxy \
            altered it; run `certless doctor`.",
    ),
    info(
        700016,
        "The application (ClientId) was not found in the tenant.",
        "ClientId must be the app registration's Application (client) ID — not its object id, \
            and not the managed identity's client id — and TenantId must be the tenant the app \
            lives in; for a multi-tenant app, admin consent must have been granted in this \
            tenant.",
    ),
    info(
        7000112,
        "The application is disabled.",
        "Enable the app registration's service principal in Entra (Enterprise applications → \
            Properties → Enabled for users to sign in).",
    ),
    info(
        7000215,
        "The client secret is invalid.",
        "The secret is wrong or expired: copy the secret's value (not its id), or better, use \
            the managed identity's federated credential.",
    ),
    info(
        7000222,
        "The client secret has expired.",
        "Create a new secret, or better, use the managed identity's federated credential.",
    ),
    info(
        700222,
        "An Entra-issued token may not be used as a federated assertion here.",
        "Use a managed-identity token (from IMDS/App Service) with audience \
            api://AzureADTokenExchange as the assertion, not an access token for another API.",
    ),
    info(
        700226,
        "Only managed-identity tokens are accepted as assertions for this credential.",
        "Send the managed identity's token, issued for audience api://AzureADTokenExchange.",
    ),
    info(
        700227,
        "The assertion's audience is forbidden.",
        "Request the managed-identity token for api://AzureADTokenExchange (or the sovereign \
            cloud's variant); TokenExchangeUrl must not be another API's audience.",
    ),
    info(
        700236,
        "Cross-tenant federation is restricted: the managed identity and the app are in \
            different tenants.",
        "Create the managed identity in the app registration's home tenant, or use a \
            multi-tenant app whose federated credential lives in the managed identity's tenant.",
    ),
    info(
        700229,
        "Only app-only tokens may be federated.",
        "The assertion was a user token; use the managed identity's token.",
    ),
    info(
        50049,
        "Unknown or invalid authority instance.",
        "Instance must be the cloud's login host (https://login.microsoftonline.com/, \
            https://login.microsoftonline.us/, https://login.chinacloudapi.cn/).",
    ),
    info(
        90002,
        "The tenant was not found.",
        "Check TenantId (a GUID or a verified domain) and that Instance is the cloud the tenant \
            lives in.",
    ),
    info(
        500011,
        "The resource (from the scope) was not found in the tenant.",
        "Check the scope: it must be the resource's identifier plus /.default (for SharePoint: \
            https://<tenant>.sharepoint.com/.default), and the resource's service principal must \
            exist in the tenant (admin consent).",
    ),
    info(
        70011,
        "The scope is not valid.",
        "For an app-only token the scope must be '<resource>/.default', one resource per request.",
    ),
    info(
        1002012,
        "The scope is not valid.",
        "For an app-only token the scope must be '<resource>/.default', one resource per request.",
    ),
    info(
        7000114,
        "The application is not allowed to request app-only tokens for this resource.",
        "Grant the app an application permission (app role) on the resource and admin consent.",
    ),
    transient(50033, "Entra hit a transient error (retry)."),
    transient(90006, "Entra hit a transient error (retry)."),
    transient(90024, "Entra hit a transient error (retry)."),
    transient(90033, "Entra hit a transient error (retry)."),
    transient(90055, "Entra is throttling requests (retry after a delay)."),
];

/// What certless knows about `code`.
pub fn lookup(code: u32) -> Option<&'static AadstsInfo> {
    TABLE.iter().find(|i| i.code == code)
}

/// Every code certless knows, for documentation and diagnostics.
pub fn known_codes() -> impl Iterator<Item = &'static AadstsInfo> {
    TABLE.iter()
}

/// AADSTS codes quoted in a description (`"AADSTS70021: ..."`), for servers that send no
/// `error_codes` array.
pub(crate) fn codes_in_text(text: &str) -> Vec<u32> {
    let mut codes = Vec::new();
    let mut rest = text;
    while let Some(pos) = rest.find("AADSTS") {
        let digits: String = rest[pos + 6..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        if let Ok(code) = digits.parse::<u32>() {
            if !codes.contains(&code) {
                codes.push(code);
            }
        }
        rest = &rest[pos + 6..];
    }
    codes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_protocol_code_has_a_remedy() {
        for code in [
            70021, 700211, 7002121, 700213, 700024, 700027, 700016, 7000112, 7000215, 700222,
            700226, 700227, 700236, 700229, 50049, 90002, 500011,
        ] {
            let i = lookup(code).unwrap_or_else(|| panic!("AADSTS{code} missing"));
            assert!(!i.remedy.is_empty() && !i.meaning.is_empty());
        }
        assert!(lookup(90055).unwrap().transient);
        assert!(!lookup(70021).unwrap().transient);
        assert!(lookup(1).is_none());
    }

    #[test]
    fn codes_are_found_in_descriptions() {
        assert_eq!(
            codes_in_text("AADSTS70021: No matching ... AADSTS700213: x"),
            vec![70021, 700213]
        );
        assert!(codes_in_text("nothing here AADSTS").is_empty());
    }
}
