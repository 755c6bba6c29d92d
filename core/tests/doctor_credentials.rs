//! `diagnose` reading the app's federated credentials back (issue: "the doctor reads the app's
//! federated credentials back"): for each case users meet, the report's first line names the
//! credential, what differs, and the command that fixes it. The list comes from a file shaped as
//! `az ad app federated-credential list` prints it, as the emulator's registry holds it, and from
//! the emulator's Microsoft Graph with a token from the command the operator names.

mod common;

use std::path::PathBuf;

use certless::diagnose::{DiagnoseSettings, GraphAccess, Report, Status, diagnose_with};
use certless::{CredentialBuilder, ManagedIdentityId};
use certless_emulator::{MiSourceKind, RunningEmulator};
use common::*;

const OTHER_TENANT: &str = "4a4a4a4a-5b5b-4c6c-8d7d-9e9e9e9e9e9e";

fn user_assigned(emu: &RunningEmulator) -> CredentialBuilder {
    builder(emu, MiSourceKind::Imds).managed_identity(ManagedIdentityId::ClientId(
        emu.default_user_assigned().client_id,
    ))
}

/// What `az ad app federated-credential list --id <app>` prints for the emulator's default app,
/// written to a file.
fn az_list(emu: &RunningEmulator) -> PathBuf {
    let registry = emu.registry();
    let list: Vec<serde_json::Value> = registry.apps[0]
        .federated_credentials
        .iter()
        .enumerate()
        .map(|(i, c)| {
            serde_json::json!({
                "audiences": c.audiences,
                "description": null,
                "id": format!("00000000-0000-0000-0000-{i:012}"),
                "issuer": c.issuer,
                "name": c.name,
                "subject": c.subject,
            })
        })
        .collect();
    let path = scratch_dir("fic-list").join("fics.json");
    std::fs::write(&path, serde_json::to_string_pretty(&list).unwrap()).unwrap();
    path
}

async fn doctor_with(builder: CredentialBuilder, settings: DiagnoseSettings) -> (Report, String) {
    let settings = DiagnoseSettings {
        scope: Some(SHAREPOINT.into()),
        ..settings
    };
    let report = diagnose_with(builder, &settings).await;
    let first = report
        .to_text()
        .lines()
        .next()
        .unwrap_or_default()
        .to_string();
    assert_eq!(first, report.headline);
    (report, first)
}

async fn doctor_with_file(builder: CredentialBuilder, file: PathBuf) -> (Report, String) {
    let settings = DiagnoseSettings {
        federated_credentials_file: Some(file),
        ..Default::default()
    };
    doctor_with(builder, settings).await
}

/// A Graph token from the emulator, in the JSON `az account get-access-token` prints, and the
/// command that prints it (as the operator's `--graph-token-command`).
async fn graph_token_command(emu: &RunningEmulator, body: serde_json::Value) -> String {
    // This test's own client (certless builds its clients with its own provider).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let answer = reqwest::Client::new()
        .post(format!("{}/_emulator/graph-token", emu.http_url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let path = scratch_dir("graph-token").join("token.json");
    std::fs::write(&path, answer.text().await.unwrap()).unwrap();
    format!("cat '{}'", path.display())
}

fn graph(emu: &RunningEmulator, command: String) -> DiagnoseSettings {
    DiagnoseSettings {
        graph: Some(GraphAccess {
            token_command: Some(command),
            url: Some(emu.http_url()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The doctor with the list from a file, then from Graph (a user's delegated token).
async fn from_file_and_graph(
    emu: &RunningEmulator,
    builder: impl Fn() -> CredentialBuilder,
) -> [(Report, String); 2] {
    let file = doctor_with_file(builder(), az_list(emu)).await;
    let command = graph_token_command(emu, serde_json::json!({})).await;
    let graph = doctor_with(builder(), graph(emu, command)).await;
    assert!(
        graph
            .0
            .to_text()
            .contains("read from              Microsoft Graph"),
        "{}",
        graph.0.to_text()
    );
    [file, graph]
}

fn assert_first_line(first: &str, words: &[&str]) {
    assert!(first.starts_with("FAIL: "), "{first}");
    assert!(
        first.contains(" Fix: az ad app federated-credential "),
        "{first}"
    );
    for w in words {
        assert!(first.contains(w), "'{w}' missing from: {first}");
    }
}

fn leg_checks(report: &Report) -> Vec<(String, Status)> {
    report
        .legs
        .iter()
        .find(|l| l.leg == "federated_credentials")
        .expect("the federated_credentials leg")
        .checks
        .iter()
        .map(|c| (c.name.clone(), c.status))
        .collect()
}

/// The VM's system-assigned identity recreated: the app trusted its old object id in a credential
/// named `crm-vm` (and accepts system-assigned identities, as real Entra may); the identity now
/// has a new one. Returns (old, new).
fn recreate_system_assigned(emu: &RunningEmulator) -> (String, String) {
    let old = emu
        .system_assigned()
        .expect("a system-assigned identity")
        .object_id;
    let new = "9b21c0de-7f1e-4c55-8a4e-2f9d5c3b1a07".to_string();
    emu.update_registry(|r| {
        let issuer = r.apps[0].federated_credentials[0].issuer.clone();
        r.apps[0].allow_system_assigned_fic = true;
        r.apps[0]
            .federated_credentials
            .push(certless_emulator::FederatedCredential {
                name: "crm-vm".into(),
                issuer,
                subject: old.clone(),
                audiences: vec!["api://AzureADTokenExchange".into()],
            });
        r.system_assigned.as_mut().unwrap().object_id = new.clone();
    });
    (old, new)
}

#[tokio::test]
async fn the_matching_credential_is_named_on_the_first_line() {
    let emu = emulator().await;
    let name = emu.registry().apps[0].federated_credentials[0].name.clone();
    for (report, first) in from_file_and_graph(&emu, || user_assigned(&emu)).await {
        assert!(report.ok, "{}", report.to_text());
        assert!(first.starts_with("OK: token obtained"), "{first}");
        assert!(
            first.contains(&format!("through federated credential '{name}'")),
            "{first}"
        );
        assert!(leg_checks(&report).contains(&("matching credential".into(), Status::Ok)));
    }
}

#[tokio::test]
async fn a_recreated_system_assigned_identity() {
    let emu = emulator().await;
    let (old, new) = recreate_system_assigned(&emu);
    let system =
        || builder(&emu, MiSourceKind::Imds).managed_identity(ManagedIdentityId::SystemAssigned);
    let [(file, from_file), (graph, from_graph)] = from_file_and_graph(&emu, system).await;
    assert!(!file.ok && !graph.ok);
    for first in [&from_file, &from_graph] {
        assert_first_line(
            first,
            &[
                "'crm-vm'",
                &old,
                &new,
                "AADSTS700213",
                &format!("\"subject\":\"{new}\""),
            ],
        );
    }
    // From a file the doctor cannot know which principal is gone: it names both credentials
    // that name other principals, says what a recreated identity means, and adds a credential
    // rather than taking one another identity may use.
    assert!(
        from_file.contains("if one of them was this host's, the identity was recreated"),
        "{from_file}"
    );
    assert!(from_file.contains("'certless-demo-mi-fic'"), "{from_file}");
    assert!(
        from_file.contains("federated-credential create"),
        "{from_file}"
    );
    assert!(
        from_graph.contains(&format!(
            "'crm-vm': it expects subject {old}, but this host's identity is now {new}"
        )),
        "{from_graph}"
    );
    // Graph says the old object id no longer exists (and the user-assigned one does): the cause
    // is certain, and the credential is updated in place.
    assert!(
        from_graph.contains(
            "no longer exists in the directory: this host's system-assigned identity was recreated"
        ),
        "{from_graph}"
    );
    assert!(
        from_graph.contains("federated-credential update --id"),
        "{from_graph}"
    );
    assert!(
        from_graph.contains("--federated-credential-id crm-vm"),
        "{from_graph}"
    );
    // The identity-kind check explains what system-assigned means, with the commands to switch.
    let kind = graph
        .legs
        .iter()
        .flat_map(|l| &l.checks)
        .find(|c| c.name == "identity kind")
        .unwrap();
    assert_eq!(kind.status, Status::Warn);
    assert!(
        kind.detail.contains("each machine has its own"),
        "{}",
        kind.detail
    );
    assert!(
        kind.fix
            .as_deref()
            .unwrap()
            .contains("az vm identity assign -g "),
        "{:?}",
        kind.fix
    );
}

#[tokio::test]
async fn a_subject_differing_only_in_case() {
    let emu = emulator().await;
    let oid = emu.default_user_assigned().object_id;
    emu.update_registry(|r| r.apps[0].federated_credentials[0].subject = oid.to_uppercase());
    let name = emu.registry().apps[0].federated_credentials[0].name.clone();
    for (_, first) in from_file_and_graph(&emu, || user_assigned(&emu)).await {
        assert_first_line(
            &first,
            &[
                &format!("'{name}'"),
                "only in case",
                &oid.to_uppercase(),
                "AADSTS7002138",
                "update",
            ],
        );
    }
}

#[tokio::test]
async fn a_credential_of_another_cloud() {
    let emu = emulator().await;
    emu.update_registry(|r| {
        r.apps[0].federated_credentials[0].audiences =
            vec!["api://AzureADTokenExchangeUSGov".into()]
    });
    for (report, first) in from_file_and_graph(&emu, || user_assigned(&emu)).await {
        assert_first_line(
            &first,
            &[
                "are the Azure US Government's",
                "the token carries 'api://AzureADTokenExchange'",
                "AADSTS700212",
            ],
        );
        assert!(report.to_json().contains("\"federated_credentials\""));
    }
}

#[tokio::test]
async fn a_credential_of_another_tenant() {
    let emu = emulator().await;
    let tenant = emu.tenant_id();
    emu.update_registry(|r| {
        let c = &mut r.apps[0].federated_credentials[0];
        c.issuer = c.issuer.replace(&tenant, OTHER_TENANT);
    });
    for (_, first) in from_file_and_graph(&emu, || user_assigned(&emu)).await {
        assert_first_line(&first, &[OTHER_TENANT, "another tenant's", "AADSTS700211"]);
    }
}

#[tokio::test]
async fn twenty_credentials_and_none_for_this_identity() {
    let emu = emulator().await;
    // Twenty identities of other hosts, each with its credential: all of them still exist.
    emu.update_registry(|r| {
        let template = r.apps[0].federated_credentials[0].clone();
        let identity = r.user_assigned[0].clone();
        r.user_assigned
            .extend((0..20).map(|i| certless_emulator::UserAssignedIdentity {
                name: format!("vm-{i:02}"),
                client_id: format!("{i:08}-1111-4000-8000-000000000000"),
                object_id: format!("{i:08}-0000-4000-8000-000000000000"),
                ..identity.clone()
            }));
        r.apps[0].federated_credentials = (0..20)
            .map(|i| certless_emulator::FederatedCredential {
                name: format!("vm-{i:02}"),
                subject: format!("{i:08}-0000-4000-8000-000000000000"),
                ..template.clone()
            })
            .collect();
    });
    for (report, first) in from_file_and_graph(&emu, || user_assigned(&emu)).await {
        assert_first_line(
            &first,
            &[
                "holds 20 federated credentials, the most Entra allows",
                "federated-credential delete",
                "federated-credential create",
            ],
        );
        let checks = leg_checks(&report);
        assert!(
            checks.contains(&("credential limit".into(), Status::Fail)),
            "{checks:?}"
        );
    }
}

#[tokio::test]
async fn graph_refusals_are_a_warning_that_says_what_to_do() {
    let emu = emulator().await;
    for (body, says) in [
        // An app-only token without a read role.
        (
            serde_json::json!({"roles": ["User.Read.All"]}),
            "may not read the app",
        ),
        // An expired one.
        (
            serde_json::json!({"expires_in_secs": -600}),
            "refused the token",
        ),
    ] {
        let command = graph_token_command(&emu, body).await;
        let (report, first) = doctor_with(user_assigned(&emu), graph(&emu, command)).await;
        assert!(report.ok, "{first}");
        let text = report.to_text();
        assert!(text.contains(says), "{text}");
        assert!(!text.contains("eyJ"), "never a token: {text}");
    }
    // A command that fails says what it printed on its error output.
    let (report, _) = doctor_with(
        user_assigned(&emu),
        graph(&emu, "echo 'Please run az login' >&2; exit 1".into()),
    )
    .await;
    assert!(
        report.to_text().contains("Please run az login"),
        "{}",
        report.to_text()
    );
    // A token that could write is used for reading only, and the report says a reader suffices.
    let command = graph_token_command(
        &emu,
        serde_json::json!({"scp": "Application.ReadWrite.All"}),
    )
    .await;
    let (report, _) = doctor_with(user_assigned(&emu), graph(&emu, command)).await;
    assert!(
        report
            .to_text()
            .contains("a token with Application.Read.All is enough"),
        "{}",
        report.to_text()
    );
}

#[tokio::test]
async fn the_platform_leg_records_what_imds_advertises() {
    let emu = emulator().await;
    let (report, _) = doctor_with(user_assigned(&emu), DiagnoseSettings::default()).await;
    let platform: Vec<(String, String)> = report
        .legs
        .iter()
        .find(|l| l.leg == "platform")
        .unwrap()
        .checks
        .iter()
        .map(|c| (c.name.clone(), c.detail.clone()))
        .collect();
    assert_eq!(
        platform[0],
        (
            "server".into(),
            certless_emulator::DEFAULT_IMDS_SERVER.into()
        )
    );
    assert!(
        platform[1].1.ends_with("listed, newest 2024-03-15"),
        "{platform:?}"
    );
    assert_eq!(
        platform[2],
        ("credential endpoint".into(), "absent (HTTP 404)".into())
    );
    emu.update_registry(|r| r.imds_platform_metadata = true);
    let (report, _) = doctor_with(user_assigned(&emu), DiagnoseSettings::default()).await;
    assert!(
        report
            .to_json()
            .contains("present (this host offers the newer"),
        "{}",
        report.to_text()
    );
    // Not an IMDS host: no platform leg.
    let (report, _) = doctor_with(
        builder(&emu, MiSourceKind::AppService).managed_identity(ManagedIdentityId::ClientId(
            emu.default_user_assigned().client_id,
        )),
        DiagnoseSettings::default(),
    )
    .await;
    assert!(report.legs.iter().all(|l| l.leg != "platform"));
}

#[tokio::test]
async fn a_list_that_cannot_be_read_is_a_warning_not_the_diagnosis() {
    let emu = emulator().await;
    let file = scratch_dir("fic-bad").join("fics.json");
    std::fs::write(&file, "{\"not\": \"a list\"}").unwrap();
    let (report, first) = doctor_with_file(user_assigned(&emu), file).await;
    assert!(report.ok, "{first}");
    assert!(first.contains("read back"), "{first}");
    // A UTF-16 file, as PowerShell 5's `>` writes it, is read.
    let path = az_list(&emu);
    let text = std::fs::read_to_string(&path).unwrap();
    let mut utf16 = vec![0xFF, 0xFE];
    utf16.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    std::fs::write(&path, utf16).unwrap();
    let (report, first) = doctor_with_file(user_assigned(&emu), path).await;
    assert!(
        report.ok && first.contains("through federated credential"),
        "{first}"
    );
}

/// The README's doctor section shows a real report: this test makes it again (the same
/// scenario, the emulator's default registry) and compares the lines the README quotes.
#[tokio::test]
async fn the_readme_report_is_what_the_doctor_prints() {
    let emu = emulator().await;
    recreate_system_assigned(&emu);
    let command = graph_token_command(&emu, serde_json::json!({})).await;
    let system =
        builder(&emu, MiSourceKind::Imds).managed_identity(ManagedIdentityId::SystemAssigned);
    let (report, _) = doctor_with(system, graph(&emu, command)).await;
    let text = report
        .to_text()
        .replace(&emu.http_url(), "http://127.0.0.1:18090");
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let section = readme
        .split("## When it fails: `certless doctor`")
        .nth(1)
        .and_then(|s| s.split("```\nFAIL: ").nth(1))
        .and_then(|s| s.split("\n```\n").next())
        .map(|s| format!("FAIL: {s}"))
        .expect("the README's report");
    let quoted: Vec<&str> = section.lines().filter(|l| *l != "...").collect();
    assert!(quoted.len() > 8, "{section}");
    for line in quoted {
        assert!(
            text.lines().any(|l| l == line),
            "the README quotes a line the doctor no longer prints:\n{line}\n\nit prints:\n{text}"
        );
    }
}
