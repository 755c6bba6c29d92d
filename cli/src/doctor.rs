//! `certless doctor`: why the federated credential fails, and how to fix it.

use std::path::PathBuf;
use std::process::ExitCode;

use certless::diagnose::{DEFAULT_SCOPE, diagnose, unusable_configuration};

use crate::output::{out, outln};

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
}

/// Exit 0 only when a token was obtained.
pub(crate) async fn run(args: Args) -> ExitCode {
    let report = match crate::builder_from(args.config.as_ref()) {
        Ok(builder) => diagnose(builder, &args.scope).await,
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
