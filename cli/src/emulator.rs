//! `certless emulator`: the local emulator in the foreground, for manual use and for test
//! suites in other languages (which read `--ready-file` to find it).

use std::path::PathBuf;
use std::process::ExitCode;

use certless_emulator::{Emulator, EmulatorConfig, StartOptions};

use crate::output::{errln, outln};

#[derive(clap::Args)]
pub(crate) struct Args {
    /// A registry file (identities, apps, federated credentials); default: the built-in demo registry.
    #[arg(long, short = 'c')]
    config: Option<PathBuf>,
    /// The http port (0: any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Also serve https on this port (0: any free port); the CA is written to the state directory.
    #[arg(long)]
    https_port: Option<u16>,
    /// Where to write ca.pem (default: a new temporary directory).
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// Once listening, write the emulator's URLs and the client environment as JSON to this file.
    #[arg(long)]
    ready_file: Option<PathBuf>,
    /// Which managed-identity source the printed environment selects: imds, app_service, service_fabric, cloud_shell or azure_ml.
    #[arg(long, default_value = "imds")]
    source: String,
}

pub(crate) async fn run(args: Args) -> ExitCode {
    let config = match &args.config {
        Some(path) => EmulatorConfig::from_file(path),
        None => Ok(EmulatorConfig::default()),
    };
    let config = match config {
        Ok(c) => c,
        Err(e) => {
            errln!("certless emulator: {e}");
            return ExitCode::from(2);
        }
    };
    let source = match crate::mi_source(&args.source) {
        Ok(s) => s,
        Err(e) => {
            errln!("certless emulator: {e}");
            return ExitCode::from(2);
        }
    };
    let options = StartOptions {
        http_port: args.port,
        // Service Fabric's endpoint is HTTPS only.
        https_port: args
            .https_port
            .or((source == certless_emulator::MiSourceKind::ServiceFabric).then_some(0)),
        state_dir: args.state_dir.clone(),
    };
    let emulator = match Emulator::start(config, options).await {
        Ok(e) => e,
        Err(e) => {
            errln!("certless emulator: {e}");
            return ExitCode::from(2);
        }
    };
    let env = emulator.client_env(source);
    outln!("certless emulator listening on {}", emulator.http_url());
    if let Some(https) = emulator.https_url() {
        outln!(
            "  https: {https} (CA: {})",
            emulator
                .ca_pem_path()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        );
    }
    outln!(
        "  admin: {}/_emulator/info, /_emulator/counters, /_emulator/faults",
        emulator.http_url()
    );
    outln!("Environment for a client (POSIX shell):");
    for (k, v) in &env {
        outln!("export {k}={v}");
    }
    if let Some(path) = &args.ready_file {
        let info = serde_json::json!({
            "http_url": emulator.http_url(),
            "https_url": emulator.https_url(),
            "ca_pem_path": emulator.ca_pem_path(),
            "tenant_id": emulator.tenant_id(),
            "client_id": emulator.default_app_client_id(),
            "env": env.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))).collect::<serde_json::Map<_, _>>(),
        });
        // Write then rename, so a reader never sees half a file.
        let tmp = path.with_extension("tmp");
        if let Err(e) =
            std::fs::write(&tmp, info.to_string()).and_then(|()| std::fs::rename(&tmp, path))
        {
            errln!("certless emulator: cannot write {}: {e}", path.display());
            return ExitCode::from(2);
        }
    }
    outln!("Press Ctrl-C to stop.");
    let _ = tokio::signal::ctrl_c().await;
    emulator.shutdown();
    ExitCode::SUCCESS
}
