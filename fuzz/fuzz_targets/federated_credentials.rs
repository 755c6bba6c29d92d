//! The doctor's read-back of an app's federated credentials (`az ad app federated-credential
//! list` output or Graph's list), held against a fixed managed-identity token.
//! Properties: no panic; a list that parses is judged, and then a matching credential is
//! reported exactly when one has the token's issuer, subject and audience, nothing blocks when
//! one matches, something blocks when none does, and every fix is an `az` command.
#![no_main]

use certless::fuzzing::{FIC_ISSUER, FIC_SUBJECT, federated_credentials};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let gone = vec![
        FIC_SUBJECT.to_uppercase(),
        "5f0c4e2a-1b3d-4e6f-9a8b-7c6d5e4f3a21".into(),
    ];
    let Ok(found) = federated_credentials(&text, &gone) else {
        return;
    };
    // The same question, asked of the JSON directly.
    let value: Value = serde_json::from_str(text.trim_start_matches('\u{feff}')).unwrap();
    let items = match &value {
        Value::Array(items) => items.clone(),
        Value::Object(map) => match map.get("value") {
            Some(Value::Array(items)) => items.clone(),
            _ => vec![value.clone()],
        },
        _ => unreachable!("parsed as a list"),
    };
    let matches = items.iter().any(|c| {
        c["issuer"] == FIC_ISSUER
            && c["subject"] == FIC_SUBJECT
            && c["audiences"]
                .as_array()
                .is_some_and(|a| a.iter().any(|a| a == "api://AzureADTokenExchange"))
    });
    assert_eq!(found.matching.is_some(), matches);
    let blocking = found.findings.iter().any(|(blocks, _)| *blocks);
    assert_eq!(blocking, !matches);
    for (_, fix) in &found.findings {
        if let Some(fix) = fix {
            assert!(fix.starts_with("az ad app federated-credential "), "{fix}");
        }
    }
});
