//! `certless`: get Entra access tokens from a managed identity, run the local emulator, and
//! show the whole flow leg by leg.

#[cfg(feature = "emulator")]
mod demo;
mod doctor;
#[cfg(feature = "emulator")]
mod emulator;
mod output;
mod serve;
mod shared_cache_key;
mod token;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::output::errln;

#[derive(Parser)]
#[command(
    name = "certless",
    version,
    about = "Microsoft Entra access tokens with no certificate and no secret"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run managed identity → federated credential → access token against a local emulator,
    /// printing each leg. Needs nothing but this binary.
    #[cfg(feature = "emulator")]
    Demo(demo::Args),
    /// Get an access token (like `az account get-access-token`).
    Token(token::Args),
    /// Walk the flow leg by leg and say why it fails, and how to fix it.
    Doctor(doctor::Args),
    /// Run the emulator of the managed-identity endpoints and Entra in the foreground.
    #[cfg(feature = "emulator")]
    Emulator(emulator::Args),
    /// Serve tokens to this machine's processes: one broker per machine, speaking App
    /// Service's managed-identity protocol (IDENTITY_ENDPOINT/IDENTITY_HEADER for Azure SDKs,
    /// CERTLESS_BROKER for certless).
    Serve(Box<serve::Args>),
    /// Print a new random key for the shared token cache (docs/shared-cache.md): write it to a
    /// file readable only by the service account, the same file on every machine of the farm.
    SharedCacheKey(shared_cache_key::Args),
}

/// Where the credential's configuration comes from: a Microsoft.Identity.Web appsettings.json,
/// or else the environment (AZURE_TENANT_ID, AZURE_CLIENT_ID, ...).
pub(crate) fn credential_from(
    config: Option<&PathBuf>,
) -> Result<certless::Credential, certless::Error> {
    builder_from(config)?.build()
}

pub(crate) fn builder_from(
    config: Option<&PathBuf>,
) -> Result<certless::CredentialBuilder, certless::Error> {
    match config {
        Some(path) => certless::CredentialBuilder::from_config_file(path),
        None => certless::CredentialBuilder::from_env(),
    }
}

/// `--source` of `demo` and `emulator`.
#[cfg(feature = "emulator")]
pub(crate) fn mi_source(name: &str) -> Result<certless_emulator::MiSourceKind, String> {
    use certless_emulator::MiSourceKind::*;
    match name.to_ascii_lowercase().replace('-', "_").as_str() {
        "imds" => Ok(Imds),
        "app_service" | "appservice" => Ok(AppService),
        "cloud_shell" | "cloudshell" => Ok(CloudShell),
        "azure_ml" | "azureml" => Ok(AzureMl),
        "service_fabric" | "servicefabric" => Ok(ServiceFabric),
        other => Err(format!(
            "--source must be imds, app_service, service_fabric, cloud_shell or azure_ml, not \
                '{other}'"
        )),
    }
}

fn main() -> ExitCode {
    // SIGPIPE stays ignored, as Rust's runtime leaves it: with the default disposition a server
    // resetting a TLS connection would kill the process (the close alert written after the reset
    // raises it). A closed standard output is handled where it is written (`output::outln!`).
    let cli = Cli::parse();
    #[cfg(windows)]
    if let Command::Serve(args) = cli.command {
        if args.service {
            return serve::run_service(*args);
        }
        return run(Command::Serve(args));
    }
    run(cli.command)
}

fn run(command: Command) -> ExitCode {
    certless::telemetry::set_host("cli");
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            errln!("certless: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(async move {
        match command {
            #[cfg(feature = "emulator")]
            Command::Demo(args) => demo::run(args).await,
            Command::Token(args) => token::run(args).await,
            Command::Doctor(args) => doctor::run(args).await,
            #[cfg(feature = "emulator")]
            Command::Emulator(args) => emulator::run(args).await,
            Command::Serve(args) => serve::run(*args).await,
            Command::SharedCacheKey(args) => shared_cache_key::run(&args),
        }
    });
    // A short-lived command's metrics and spans are sent before it exits, when OTLP export is on
    // (docs/telemetry.md); with it off this returns at once.
    certless::telemetry::flush(std::time::Duration::from_secs(5));
    code
}
