//! `certless demo`: the whole flow against an in-process emulator, through the public API
//! exactly as an application would call it, printing what each leg did.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use certless::env::MapEnv;
use certless::{Credential, ManagedIdentityId};
use certless_emulator::{Emulator, EmulatorConfig, StartOptions};

use crate::output::{self, errln, outln, print_claims};

#[derive(clap::Args)]
pub(crate) struct Args {
    /// Print the raw tokens too (they are secrets in real life; these are the emulator's).
    #[arg(long)]
    show_tokens: bool,
    /// The managed-identity source to emulate: imds, app_service, service_fabric, cloud_shell or azure_ml.
    #[arg(long, default_value = "imds")]
    source: String,
    /// The scope to request.
    #[arg(long, default_value = "https://contoso.sharepoint.com/.default")]
    scope: String,
}

const ASSERTION_CLAIMS: &[&str] = &["iss", "sub", "aud", "oid", "tid", "xms_mirid", "iat", "exp"];
const ACCESS_CLAIMS: &[&str] = &["aud", "iss", "appid", "roles", "appidacr", "tid", "exp"];

pub(crate) async fn run(args: Args) -> ExitCode {
    let source = match crate::mi_source(&args.source) {
        Ok(s) => s,
        Err(e) => {
            errln!("certless demo: {e}");
            return ExitCode::from(2);
        }
    };
    let options = StartOptions {
        http_port: 0,
        // Service Fabric's endpoint is HTTPS only.
        https_port: (source == certless_emulator::MiSourceKind::ServiceFabric).then_some(0),
        state_dir: None,
    };
    let emulator = match Emulator::start(EmulatorConfig::default(), options).await {
        Ok(e) => e,
        Err(e) => {
            errln!("certless demo: cannot start the emulator: {e}");
            return ExitCode::from(2);
        }
    };
    outln!("certless demo: managed identity -> federated credential -> access token");
    outln!(
        "emulator on {} (IMDS, App Service and Entra, loopback only)\n",
        emulator.http_url()
    );

    // The application's side: configuration from the environment a host would have.
    let env = MapEnv::new().with_vars(emulator.client_env(source));
    let mi = emulator.default_user_assigned();
    let credential = match Credential::builder()
        .tenant_id(emulator.tenant_id())
        .client_id(emulator.default_app_client_id())
        .authority_host(emulator.authority_host())
        .managed_identity(ManagedIdentityId::ClientId(mi.client_id.clone()))
        .environment(Arc::new(env))
        .build()
    {
        Ok(c) => c,
        Err(e) => return output::fail(&e),
    };
    outln!("[1/3] configuration                      OK");
    outln!("      tenant      {}", credential.tenant_id());
    outln!(
        "      app         {} (the app registration)",
        credential.client_id()
    );
    outln!("      authority   {}", credential.authority_host());
    outln!(
        "      credential  SignedAssertionFromManagedIdentity, user-assigned MI client id {}",
        mi.client_id
    );
    if let Some(sel) = credential.managed_identity_source() {
        outln!("      MI source   {} ({})", sel.source, sel.reason);
    }

    let started = Instant::now();
    let assertion = match credential.managed_identity_assertion().await {
        Ok(t) => t,
        Err(e) => return output::fail(&e),
    };
    outln!(
        "\n[2/3] managed-identity endpoint          OK  {} ms",
        started.elapsed().as_millis()
    );
    outln!(
        "      token for the exchange audience; decoded claims (what the federated credential \
            must match):"
    );
    match certless::jwt::decode_claims(assertion.token.expose()) {
        Ok(claims) => print_claims(&claims.all, ASSERTION_CLAIMS, "        "),
        Err(e) => outln!("        (not a JWT: {e})"),
    }
    if args.show_tokens {
        outln!("      raw: {}", assertion.token.expose());
    }

    let started = Instant::now();
    let token = match credential.get_token(&[args.scope.as_str()]).await {
        Ok(t) => t,
        Err(e) => return output::fail(&e),
    };
    outln!(
        "\n[3/3] Entra token exchange               OK  {} ms",
        started.elapsed().as_millis()
    );
    outln!(
        "      access token for {} ({}, from {}); decoded claims:",
        args.scope,
        token.token_type,
        token.source
    );
    match certless::jwt::decode_claims(token.token.expose()) {
        Ok(claims) => print_claims(&claims.all, ACCESS_CLAIMS, "        "),
        Err(e) => outln!("        (not a JWT: {e})"),
    }
    if args.show_tokens {
        outln!("      raw: {}", token.token.expose());
    }

    let before = emulator.counters();
    let started = Instant::now();
    if let Err(e) = credential.get_token(&[args.scope.as_str()]).await {
        return output::fail(&e);
    }
    let after = emulator.counters();
    let sum = |c: &certless_emulator::Counters| c.managed_identity() + c.entra_token;
    let upstream = sum(&after) - sum(&before);
    outln!(
        "\ncache: a second get_token took {} µs and made {upstream} upstream request(s)",
        started.elapsed().as_micros()
    );
    outln!(
        "upstream requests in all: managed identity {}, Entra {}",
        after.managed_identity(),
        after.entra_token
    );
    emulator.shutdown();
    ExitCode::SUCCESS
}
