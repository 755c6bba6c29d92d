//! `certless shared-cache-key`: a new key for the shared token cache, in the form its key file
//! takes (`id:base64`). Rotation: put the new line first and keep the old one below it until
//! every machine has the new file (docs/shared-cache.md, "Keys and rotation").

use std::process::ExitCode;

use crate::output::{errln, outln};

#[derive(clap::Args)]
pub(crate) struct Args {
    /// The key's id, written into every entry it seals (default: today's date, e.g. 2026-12-07).
    #[arg(long)]
    id: Option<String>,
}

pub(crate) fn run(args: &Args) -> ExitCode {
    let id = args.id.clone().unwrap_or_else(today);
    match certless::shared_cache::generate_key(&id) {
        Ok(line) => {
            outln!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            errln!("certless: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Today's date (UTC), `YYYY-MM-DD`.
fn today() -> String {
    let now = certless::clock::unix_seconds(std::time::SystemTime::now());
    certless::clock::to_iso8601(now)[..10].to_string()
}
