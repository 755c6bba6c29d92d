//! The appsettings.json users really have, for tests of configuration reading: what
//! `dotnet new webapi --auth SingleOrg` (Visual Studio's identity template) writes.

/// The identity template's appsettings.json — a comment block at the top, `//` lines commenting
/// out the secret and certificate keys, trailing commas as people leave them — with `instance`,
/// `tenant` and `client` filled in and one `SignedAssertionFromManagedIdentity` entry for the
/// user-assigned identity `managed_identity_client_id`. Line ends are LF; Visual Studio saves
/// CRLF (`.replace('\n', "\r\n")`) and a byte order mark.
pub fn identity_template_appsettings(
    instance: &str,
    tenant: &str,
    client: &str,
    managed_identity_client_id: &str,
) -> String {
    format!(
        r#"{{
  /*
The following identity settings need to be configured
before the project can be successfully executed.
For more info see https://aka.ms/dotnet-template-ms-identity-platform
*/
  "AzureAd": {{
    "Instance": "{instance}/",
    "Domain": "contoso.onmicrosoft.com",
    "TenantId": "{tenant}",
    "ClientId": "{client}",
    "ClientCredentials": [
      {{
        "SourceType": "SignedAssertionFromManagedIdentity",
        "ManagedIdentityClientId": "{managed_identity_client_id}" // the user-assigned identity
      }},
    ],
//    "ClientSecret": "Client secret from app-registration. Check user secrets/azure portal.",
//    "ClientCertificates": [
//    ],
    "Scopes": "access_as_user",
    "CallbackPath": "/signin-oidc"
  }},
  "Logging": {{
    "LogLevel": {{
      "Default": "Information",
      "Microsoft.AspNetCore": "Warning"
    }}
  }},
  "AllowedHosts": "*",
}}
"#
    )
}
