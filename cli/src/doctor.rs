//! `certless doctor`: why the federated credential fails, and how to fix it.

use std::path::PathBuf;
use std::process::ExitCode;

use certless::diagnose::{
    DEFAULT_SCOPE, DiagnoseSettings, GraphAccess, diagnose_with, unusable_configuration,
};

use crate::output::{out, outln};

/// The token command `--graph` runs when no token source is named.
const AZ_GRAPH_TOKEN: &str = "az account get-access-token --resource-type ms-graph";

#[derive(clap::Args)]
pub(crate) struct Args {
    /// A Microsoft.Identity.Web appsettings.json (or its AzureAd section); default: the environment.
    #[arg(long, short = 'c')]
    config: Option<PathBuf>,
    /// The scope to get a token for.
    #[arg(long, short = 's', default_value = DEFAULT_SCOPE)]
    scope: String,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// The app's federated credentials, as `az ad app federated-credential list --id <app>`
    /// prints them (or Microsoft Graph's list): held against this host's managed identity.
    #[arg(long, value_name = "FILE", conflicts_with = "graph")]
    federated_credentials: Option<PathBuf>,
    /// Read the app's federated credentials from Microsoft Graph (read access only; the token is
    /// never stored). The token comes from --graph-token-env, --graph-token-command, or else
    /// `az account get-access-token --resource-type ms-graph`.
    #[arg(long)]
    graph: bool,
    /// The environment variable that holds the Microsoft Graph token.
    #[arg(
        long,
        value_name = "NAME",
        requires = "graph",
        conflicts_with = "graph_token_command"
    )]
    graph_token_env: Option<String>,
    /// A command that prints the Microsoft Graph token (or az's JSON with accessToken).
    #[arg(long, value_name = "COMMAND", requires = "graph")]
    graph_token_command: Option<String>,
    /// Microsoft Graph's URL (default: the configured cloud's).
    #[arg(long, value_name = "URL", requires = "graph")]
    graph_url: Option<String>,
}

impl Args {
    fn settings(&self) -> DiagnoseSettings {
        let graph = self.graph.then(|| GraphAccess {
            token_command: match (&self.graph_token_env, &self.graph_token_command) {
                (None, None) => Some(AZ_GRAPH_TOKEN.to_string()),
                (_, command) => command.clone(),
            },
            token_env: self.graph_token_env.clone(),
            url: self.graph_url.clone(),
        });
        DiagnoseSettings {
            scope: Some(self.scope.clone()),
            federated_credentials_file: self.federated_credentials.clone(),
            federated_credentials: None,
            graph,
        }
    }
}

/// Exit 0 only when a token was obtained.
pub(crate) async fn run(args: Args) -> ExitCode {
    let settings = args.settings();
    let report = match crate::builder_from(args.config.as_ref()) {
        Ok(builder) => diagnose_with(builder, &settings).await,
        // A configuration that cannot even be read is the diagnosis.
        Err(e) => unusable_configuration(&e),
    };
    if args.json {
        outln!("{}", report.to_json());
    } else {
        out!("{}", report.to_text());
    }
    if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
