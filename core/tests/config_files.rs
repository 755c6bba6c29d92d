//! appsettings.json read as .NET reads it: the encoding from its byte order mark, `//` and
//! `/* */` comments skipped, trailing commas allowed; and when the file is broken, an error that
//! names the file and the place in it.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use certless::env::MapEnv;
use certless::{CredentialBuilder, ErrorCode, Leg};
use certless_emulator::{MiSourceKind, RunningEmulator, identity_template_appsettings};
use common::*;

/// The identity template's appsettings.json as Visual Studio saves it (CRLF line ends).
fn identity_template(instance: &str, tenant: &str, client: &str, mi: &str) -> String {
    identity_template_appsettings(instance, tenant, client, mi).replace('\n', "\r\n")
}

fn template_for(emu: &RunningEmulator) -> String {
    emu.identity_template_appsettings().replace('\n', "\r\n")
}

fn utf8_bom(text: &str) -> Vec<u8> {
    [&[0xEF, 0xBB, 0xBF][..], text.as_bytes()].concat()
}

/// What Notepad's "UTF-16 LE" (and Windows PowerShell 5's `Out-File`) writes.
fn utf16_le(text: &str) -> Vec<u8> {
    let mut bytes = vec![0xFF, 0xFE];
    bytes.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    bytes
}

fn utf16_be(text: &str) -> Vec<u8> {
    let mut bytes = vec![0xFE, 0xFF];
    bytes.extend(text.encode_utf16().flat_map(u16::to_be_bytes));
    bytes
}

fn utf32_le(text: &str) -> Vec<u8> {
    let mut bytes = vec![0xFF, 0xFE, 0x00, 0x00];
    bytes.extend(text.chars().flat_map(|c| u32::from(c).to_le_bytes()));
    bytes
}

fn utf32_be(text: &str) -> Vec<u8> {
    let mut bytes = vec![0x00, 0x00, 0xFE, 0xFF];
    bytes.extend(text.chars().flat_map(|c| u32::from(c).to_be_bytes()));
    bytes
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn emulator_env(emu: &RunningEmulator) -> Arc<MapEnv> {
    Arc::new(MapEnv::new().with_vars(emu.client_env(MiSourceKind::Imds)))
}

#[tokio::test]
async fn the_identity_template_saved_by_visual_studio_gets_a_token() {
    let emu = emulator().await;
    let dir = scratch_dir("config-template");
    let file = write(&dir, "appsettings.json", &utf8_bom(&template_for(&emu)));
    let credential = CredentialBuilder::from_config_file(&file)
        .unwrap()
        .environment(emulator_env(&emu))
        .build()
        .unwrap();
    assert_eq!(credential.client_id(), emu.default_app_client_id());
    let token = credential.get_token(&[SHAREPOINT]).await.unwrap();
    let claims = emu.verify_access_token(token.token.expose()).unwrap();
    assert_eq!(claims["aud"], "https://contoso.sharepoint.com");
}

#[tokio::test]
async fn every_encoding_dotnet_detects_is_read() {
    let emu = emulator().await;
    let dir = scratch_dir("config-encodings");
    let text = template_for(&emu);
    let files = [
        ("utf8.json", text.as_bytes().to_vec()),
        ("utf8-bom.json", utf8_bom(&text)),
        ("utf16le.json", utf16_le(&text)),
        ("utf16be.json", utf16_be(&text)),
        ("utf32le.json", utf32_le(&text)),
        ("utf32be.json", utf32_be(&text)),
    ];
    for (name, bytes) in &files {
        let file = write(&dir, name, bytes);
        let credential = CredentialBuilder::from_config_file(&file)
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .environment(emulator_env(&emu))
            .build()
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(credential.tenant_id(), emu.tenant_id(), "{name}");
    }
    // The file Notepad writes is not just parsed: it gets a token.
    let credential = CredentialBuilder::from_config_file(dir.join("utf16le.json"))
        .unwrap()
        .environment(emulator_env(&emu))
        .build()
        .unwrap();
    credential.get_token(&[SHAREPOINT]).await.unwrap();

    // Characters outside the BMP survive UTF-16's surrogate pairs (the value is echoed back in
    // the error, so what was decoded can be seen).
    let odd = identity_template("https://login.microsoftonline.com", "🔑", "c", "m");
    for bytes in [utf16_le(&odd), utf16_be(&odd), utf32_le(&odd)] {
        let file = write(&dir, "astral.json", &bytes);
        let e = CredentialBuilder::from_config_file(&file)
            .unwrap()
            .build()
            .unwrap_err();
        assert!(e.to_string().contains("TenantId '🔑'"), "{e}");
    }
}

#[test]
fn a_json_string_may_start_with_a_bom_and_have_comments() {
    let text = identity_template(
        "https://login.microsoftonline.com",
        "72f988bf-86f1-41af-91ab-2d7cd011db47",
        "11111111-2222-3333-4444-555555555555",
        "aaaaaaaa-2222-3333-4444-555555555555",
    );
    // A BOM read into a string by a host that did not strip it (File.ReadAllText does; a byte
    // decoder often does not).
    let credential = CredentialBuilder::from_config_json(&format!("\u{feff}{text}"))
        .unwrap()
        .environment(Arc::new(MapEnv::new()))
        .build()
        .unwrap();
    assert_eq!(
        credential.tenant_id(),
        "72f988bf-86f1-41af-91ab-2d7cd011db47"
    );
}

#[test]
fn comment_markers_inside_strings_are_text() {
    // `//` in the Instance URL and `/*` in an ignored value are not comments; a `//` after the
    // last value is.
    let json = r#"{"AzureAd": {"Instance": "https://login.microsoftonline.us/", "Domain": "a/*b", "CallbackPath": "/*//\"*/",
        "TenantId": "contoso.onmicrosoft.us", "ClientId": "11111111-2222-3333-4444-555555555555",
        "ClientCredentials": [{"SourceType": "SignedAssertionFromManagedIdentity"}]} // done
    }"#;
    let credential = CredentialBuilder::from_config_json(json)
        .unwrap()
        .environment(Arc::new(MapEnv::new()))
        .build()
        .unwrap();
    assert_eq!(credential.tenant_id(), "contoso.onmicrosoft.us");
}

fn config_error(dir: &Path, name: &str, bytes: &[u8]) -> (certless::Error, String) {
    let file = write(dir, name, bytes);
    let e = CredentialBuilder::from_config_file(&file).unwrap_err();
    assert_eq!(e.leg(), Leg::Config, "{e}");
    let text = e.to_string();
    assert!(text.contains(&file.display().to_string()), "{text}");
    (e, text)
}

#[test]
fn broken_files_are_reported_with_the_place_in_the_file() {
    let dir = scratch_dir("config-broken");

    // A comment block that is never closed: where it was opened.
    let (e, text) = config_error(
        &dir,
        "unclosed.json",
        &utf8_bom("{\r\n  \"AzureAd\": {} /* never closed\r\n}\r\n"),
    );
    assert_eq!(e.code(), ErrorCode::InvalidConfig);
    assert!(text.contains("line 2, column 17"), "{text}");
    assert!(text.contains("*/"), "{text}");

    // A syntax error after the comment block is reported on the line the user sees, in UTF-8
    // and in UTF-16 alike (a comma is missing at the end of line 9).
    let template = identity_template("https://login.microsoftonline.com", "t", "c", "m");
    let broken = template.replace(
        "\"Domain\": \"contoso.onmicrosoft.com\",",
        "\"Domain\": \"contoso.onmicrosoft.com\"",
    );
    for (name, bytes) in [
        ("comma8.json", utf8_bom(&broken)),
        ("comma16.json", utf16_le(&broken)),
    ] {
        let (e, text) = config_error(&dir, name, &bytes);
        assert_eq!(e.code(), ErrorCode::InvalidConfig);
        assert!(text.contains("line 10, column 5"), "{name}: {text}");
    }

    // Columns count characters, not bytes.
    let (_, text) = config_error(&dir, "column.json", "{\"é€\": 1 2}".as_bytes());
    assert!(text.contains("line 1, column 10"), "{text}");

    // Bytes that are not UTF-8: the offset in the file.
    let mut bad = b"{\"AzureAd\": {\"TenantId\": \"".to_vec();
    bad.extend([0xC3, 0x28]);
    bad.extend(b"\"}}");
    let (e, text) = config_error(&dir, "latin1.json", &bad);
    assert_eq!(e.code(), ErrorCode::InvalidConfig);
    assert!(
        text.contains("not valid UTF-8") && text.contains("byte 26"),
        "{text}"
    );

    // UTF-16 cut in the middle of a character, and a lone surrogate.
    let mut odd = utf16_le("{\"AzureAd\": {}}");
    odd.push(b' ');
    let (_, text) = config_error(&dir, "odd.json", &odd);
    assert!(
        text.contains("not valid UTF-16") && text.contains("byte 32"),
        "{text}"
    );
    let mut lone = utf16_le("{\"a\": \"");
    lone.extend([0x00, 0xD8, 0x41, 0x00]);
    lone.extend(&utf16_le("\"}")[2..]);
    let (_, text) = config_error(&dir, "surrogate.json", &lone);
    assert!(
        text.contains("not valid UTF-16") && text.contains("byte 16"),
        "{text}"
    );

    // UTF-16 saved without a byte order mark: .NET cannot read it either; say what it is.
    let no_bom = utf16_le("{\"AzureAd\": {}}")[2..].to_vec();
    let (_, text) = config_error(&dir, "nobom.json", &no_bom);
    assert!(text.contains("byte order mark"), "{text}");
}

/// Two `TenantId`s (the last one would silently win): refused as .NET's JSON configuration
/// refuses it, naming the key's path and both places; keys differing only in case are the same
/// key, in nested sections and in array elements too.
#[test]
fn a_key_twice_is_refused_with_its_path_and_both_places() {
    let dir = scratch_dir("duplicate-keys");
    let cases = [
        (
            "{\n  \"AzureAd\": {\n    \"TenantId\": \"contoso.onmicrosoft.com\",\n    \
             \"ClientId\": \"00000000-1111-2222-3333-444444444444\",\n    \
             \"TenantId\": \"fabrikam.onmicrosoft.com\"\n  }\n}\n",
            "AzureAd:TenantId",
            "at line 3, column 5 and at line 5, column 5",
        ),
        (
            "{\"AzureAd\":{\"tenantid\":\"a.com\",\"TENANTID\":\"b.com\"}}",
            "AzureAd:TENANTID",
            "line 1, column 13 and at line 1, column 32",
        ),
        (
            "{\"AzureAd\":{\"ClientCredentials\":[\n  {\"SourceType\":\"ClientSecret\",\
             \"ClientSecret\":\"x\"},\n  {\"SourceType\":\"A\",\"SourceType\":\"B\"}]}}",
            "AzureAd:ClientCredentials:1:SourceType",
            "line 3, column 4 and at line 3, column 21",
        ),
    ];
    for (n, (json, path, places)) in cases.into_iter().enumerate() {
        let file = write(&dir, &format!("appsettings.{n}.json"), json.as_bytes());
        let e = CredentialBuilder::from_config_file(&file).unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidConfig, "{e}");
        let text = e.to_string();
        assert!(
            text.contains(&format!("'{path}'")) || text.contains(path),
            "{text}"
        );
        assert!(text.contains(places), "{text}");
    }
}
