//! `certless token`: one access token, printed raw (for `$(certless token ...)`) or as JSON.

use std::path::PathBuf;
use std::process::ExitCode;

use certless::TokenRequestOptions;

use crate::output::{self, outln};

#[derive(clap::Args)]
pub(crate) struct Args {
    /// The scope, e.g. https://contoso.sharepoint.com/.default (repeatable, one resource).
    #[arg(long = "scope", short = 's', required = true)]
    scopes: Vec<String>,
    /// A Microsoft.Identity.Web appsettings.json (or its AzureAd section); default: the environment.
    #[arg(long, short = 'c')]
    config: Option<PathBuf>,
    /// Print {accessToken, expiresOn, expires_on, tokenType, source} as JSON.
    #[arg(long)]
    json: bool,
    /// Another tenant than the configured one (multi-tenant apps).
    #[arg(long)]
    tenant: Option<String>,
}

pub(crate) async fn run(args: Args) -> ExitCode {
    let credential = match crate::credential_from(args.config.as_ref()) {
        Ok(c) => c,
        Err(e) => return output::fail(&e),
    };
    let options = TokenRequestOptions {
        tenant_id: args.tenant,
        ..Default::default()
    };
    match credential.get_token_with(&args.scopes, &options).await {
        Ok(token) if args.json => {
            let json = serde_json::json!({
                "accessToken": token.token.expose(),
                "expiresOn": output::iso8601(token.expires_on),
                "expires_on": token.expires_on,
                "tokenType": &*token.token_type,
                "source": token.source.as_str(),
            });
            outln!(
                "{}",
                serde_json::to_string_pretty(&json).unwrap_or_default()
            );
            ExitCode::SUCCESS
        }
        Ok(token) => {
            outln!("{}", token.token.expose());
            ExitCode::SUCCESS
        }
        Err(e) => output::fail(&e),
    }
}
