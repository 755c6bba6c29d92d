//! Answers that are odd but valid: a byte order mark before the JSON, a gateway's flood of
//! headers. They work; one past the limits is refused as what it is, once, not retried.

mod common;

use certless::ErrorCode;
use certless_emulator::{Endpoint, Fault, MiSourceKind};
use common::*;

#[tokio::test]
async fn a_byte_order_mark_before_the_json_is_accepted_on_every_leg() {
    let emu = emulator().await;
    for (source, endpoint) in [
        (MiSourceKind::Imds, Endpoint::Imds),
        (MiSourceKind::AppService, Endpoint::AppService),
        (MiSourceKind::Imds, Endpoint::EntraToken),
    ] {
        emu.set_fault(endpoint, Fault::bom());
        let token = credential(&emu, source).get_token(&[SHAREPOINT]).await;
        emu.clear_faults();
        let token = token.unwrap_or_else(|e| panic!("{endpoint:?} with a BOM: {e}"));
        emu.verify_access_token(token.token.expose()).unwrap();
    }
}

#[tokio::test]
async fn a_gateway_setting_150_cookies_is_accepted() {
    let emu = emulator().await;
    for endpoint in [Endpoint::Imds, Endpoint::EntraToken] {
        emu.set_fault(endpoint, Fault::header_flood(150));
        let token = credential(&emu, MiSourceKind::Imds)
            .get_token(&[SHAREPOINT])
            .await;
        emu.clear_faults();
        token.unwrap_or_else(|e| panic!("{endpoint:?} with 150 cookies: {e}"));
    }
}

#[tokio::test]
async fn a_response_with_too_many_headers_is_refused_once_and_says_so() {
    let emu = emulator().await;
    emu.set_fault(Endpoint::Imds, Fault::header_flood(5000));
    emu.reset_counters();
    let error = credential(&emu, MiSourceKind::Imds)
        .get_token(&[SHAREPOINT])
        .await
        .unwrap_err();
    assert_eq!(
        error.code(),
        ErrorCode::ManagedIdentityInvalidResponse,
        "{error}"
    );
    let text = error.to_string();
    assert!(text.contains("head is too large"), "{text}");
    assert!(!text.contains("identity is enabled"), "{text}");
    assert_eq!(emu.counters().imds, 1, "not retried as a network failure");
}

#[tokio::test]
async fn a_tls_close_without_close_notify_is_named_for_what_it_is() {
    // Service Fabric's endpoint is https only: the answer comes through rustls, which refuses an
    // answer whose end it cannot know (no Content-Length, the connection dropped without
    // close_notify). That is an endpoint that answers badly, not one that cannot be reached.
    let emu = emulator_https().await;
    emu.set_fault(Endpoint::ServiceFabric, Fault::tls_close_without_notify());
    let error = builder(&emu, MiSourceKind::ServiceFabric)
        .managed_identity(certless::ManagedIdentityId::SystemAssigned)
        .build()
        .unwrap()
        .get_token(&[SHAREPOINT])
        .await
        .unwrap_err();
    emu.clear_faults();
    assert_eq!(
        error.code(),
        ErrorCode::ManagedIdentityInvalidResponse,
        "{error}"
    );
    let text = error.to_string();
    assert!(text.contains("without close_notify"), "{text}");
    assert!(!text.contains("could not be reached"), "{text}");
    assert!(
        error.remedy().is_some_and(|r| r.contains("Content-Length")),
        "{:?}",
        error.remedy()
    );
}
