//! One options type for every host: the same names, rules and errors whichever idiom fills it.

mod common;

use certless::{CredentialOptions, ErrorCode, OPTIONS, OptionValue};
use certless_emulator::MiSourceKind;
use common::*;

fn text(s: &str) -> OptionValue {
    OptionValue::Text(s.to_string())
}

#[tokio::test]
async fn options_in_any_idiom_build_a_working_credential() {
    let emu = emulator().await;
    let mut options = CredentialOptions::new();
    options.set("tenantId", text(&emu.tenant_id())).unwrap();
    options
        .set("client_id", text(&emu.default_app_client_id()))
        .unwrap();
    options
        .set("AuthorityHost", text(&emu.authority_host()))
        .unwrap();
    options
        .set(
            "managedIdentityClientId",
            text(&emu.default_user_assigned().client_id),
        )
        .unwrap();
    options
        .set("deadlineMs", OptionValue::Number(30_000.0))
        .unwrap();
    for (name, value) in emu.client_env(MiSourceKind::AppService) {
        options.set_environment_variable(&name, &value).unwrap();
    }
    let credential = options.build().unwrap();
    credential.get_token(&[SHAREPOINT]).await.unwrap();
    assert_eq!(
        emu.counters().app_service,
        1,
        "the given environment chose App Service"
    );
}

#[tokio::test]
async fn a_configuration_base_takes_overrides_and_the_environment() {
    let emu = emulator().await;
    let mut options = CredentialOptions::new();
    options.set("from_env", OptionValue::Flag(true)).unwrap();
    for (name, value) in emu.client_env(MiSourceKind::Imds) {
        options.set_environment_variable(&name, &value).unwrap();
    }
    // An override the environment does not have: a tenant that is not a tenant.
    options.set("tenant_id", text("common")).unwrap();
    let e = options.build().unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidConfig, "{e}");
    options.unset("tenant_id").unwrap();
    options
        .build()
        .unwrap()
        .get_token(&[SHAREPOINT])
        .await
        .unwrap();
}

/// A new option is added once, in core's table; the options table of docs/configuration.md is
/// how users of every host learn its name.
#[test]
fn the_configuration_page_lists_every_option() {
    let page = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/configuration.md"
    ))
    .expect("docs/configuration.md");
    let start = page
        .find("## Options by name")
        .expect("the options section");
    let end = start + page[start..].find("## The typed builder").expect("its end");
    for option in OPTIONS {
        assert!(
            page[start..end].contains(&format!("`{}`", option.name)),
            "docs/configuration.md's options table lacks `{}`",
            option.name
        );
    }
}
