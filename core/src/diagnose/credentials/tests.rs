use super::*;

const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const OTHER_TENANT: &str = "11111111-2222-3333-4444-555555555555";
const SUBJECT: &str = "9b21c0de-7f1e-4c55-8a4e-2f9d5c3b1a07";
const OLD_SUBJECT: &str = "5f0c4e2a-1b3d-4e6f-9a8b-7c6d5e4f3a21";
const APP: &str = "0c8a3d6e-4b2f-4a1c-9e7d-3f5a6b8c9d0e";

fn issuer(host: &str, tenant: &str) -> String {
    format!("https://{host}/{tenant}/v2.0")
}

fn presented() -> Presented {
    Presented {
        issuer: issuer("login.microsoftonline.com", TENANT),
        subject: SUBJECT.into(),
        audience: "api://AzureADTokenExchange".into(),
        app: APP.into(),
        cloud: Some(Cloud::public()),
        system_assigned: false,
    }
}

fn credential(name: &str, issuer: &str, subject: &str, audience: &str) -> FederatedCredential {
    FederatedCredential {
        name: name.into(),
        issuer: issuer.into(),
        subject: Some(subject.into()),
        audiences: vec![audience.into()],
        id: None,
    }
}

fn matching(name: &str) -> FederatedCredential {
    let p = presented();
    credential(name, &p.issuer, &p.subject, &p.audience)
}

fn fix_of(f: &Finding) -> &str {
    f.fix.as_deref().expect("a fix")
}

fn blocking(c: &Comparison) -> Vec<&Finding> {
    c.findings
        .iter()
        .filter(|f| f.severity == Severity::Blocking)
        .collect()
}

#[test]
fn reads_az_output_graph_lists_and_single_credentials() {
    let az = r#"[{"audiences":["api://AzureADTokenExchange"],"description":null,
        "id":"5d6c","issuer":"https://login.microsoftonline.com/t/v2.0","name":"crm-vm",
        "subject":"abc"}]"#;
    let list = parse_list(az, "file").unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].name, "crm-vm");
    assert_eq!(list[0].subject.as_deref(), Some("abc"));
    assert_eq!(list[0].id.as_deref(), Some("5d6c"));

    let graph = format!(
        "\u{feff}{{\"@odata.context\":\"x\",\"value\":{az}}}",
        az = az.replace("crm-vm", "from-graph")
    );
    assert_eq!(parse_list(&graph, "file").unwrap()[0].name, "from-graph");

    let single = r#"{"name":"one","issuer":"i","subject":null,"audiences":["a"],
        "claimsMatchingExpression":{"value":"claims['sub'] matches 'x*'"}}"#;
    let list = parse_list(single, "file").unwrap();
    assert_eq!(
        (list[0].name.as_str(), list[0].subject.clone()),
        ("one", None)
    );
    assert!(parse_list("[]", "file").unwrap().is_empty());
}

#[test]
fn input_that_is_no_list_says_what_it_is_and_what_to_pass() {
    for (text, says) in [
        ("{not json", "is not JSON"),
        ("42", "is not a list"),
        (r#"{"value": 3}"#, "'value' that is not a list"),
        (r#"{"something": []}"#, "neither a list"),
        (r#"[{"name": "x"}]"#, "entry (number 1)"),
    ] {
        let e = parse_list(text, "federated-credential file f.json").unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidArgument, "{text}");
        assert!(e.message().contains(says), "{text}: {e}");
        assert!(e.message().contains("f.json"), "{e}");
        assert!(
            e.remedy()
                .unwrap()
                .contains("az ad app federated-credential list")
        );
    }
}

#[test]
fn a_matching_credential_is_named_and_nothing_blocks() {
    let list = [
        credential(
            "other",
            &issuer("login.microsoftonline.com", TENANT),
            OLD_SUBJECT,
            "api://AzureADTokenExchange",
        ),
        matching("crm-vm"),
    ];
    let c = compare(&list, &presented(), &HashMap::new());
    assert_eq!(c.matching.as_deref(), Some("crm-vm"));
    assert!(blocking(&c).is_empty(), "{:?}", c.findings);
}

#[test]
fn a_recreated_system_assigned_identity_is_named_with_the_update_command() {
    let p = Presented {
        system_assigned: true,
        ..presented()
    };
    let list = [credential("crm-vm", &p.issuer, OLD_SUBJECT, &p.audience)];
    let gone = HashMap::from([(OLD_SUBJECT.to_string(), false)]);
    let c = compare(&list, &p, &gone);
    assert_eq!(c.matching, None);
    let first = blocking(&c)[0];
    assert!(
        first.detail.contains(&format!(
            "'crm-vm': it expects subject {OLD_SUBJECT}, but this host's identity is now {SUBJECT}"
        )),
        "{}",
        first.detail
    );
    assert!(
        first
            .detail
            .contains("system-assigned identity was recreated"),
        "{}",
        first.detail
    );
    let fix = fix_of(first);
    assert!(
        fix.starts_with(&format!(
            "az ad app federated-credential update --id {APP} --federated-credential-id crm-vm"
        )),
        "{fix}"
    );
    assert!(fix.contains(&format!("\"subject\":\"{SUBJECT}\"")), "{fix}");

    // Without Graph the doctor cannot know the old principal is gone: it says what it means
    // and adds a credential rather than taking one another host may use.
    let c = compare(&list, &p, &HashMap::new());
    let first = blocking(&c)[0];
    assert!(
        first
            .detail
            .contains("if it was this host's, the identity was recreated"),
        "{}",
        first.detail
    );
    assert!(
        !first.detail.contains("no longer exists"),
        "{}",
        first.detail
    );
    assert!(fix_of(first).contains("federated-credential create"));
    // Still in use elsewhere: that credential is another identity's, and this one has none.
    let used = HashMap::from([(OLD_SUBJECT.to_string(), true)]);
    let c = compare(&list, &p, &used);
    assert_eq!(blocking(&c).len(), 1, "{:?}", c.findings);
    assert!(
        blocking(&c)[0]
            .detail
            .contains("name other identities, which still exist")
    );
    assert!(blocking(&c)[0].fix.as_deref().unwrap().contains("create"));
    assert!(c.findings.iter().any(|f| f.severity == Severity::Info
        && f.detail == format!("federated credential 'crm-vm' names {OLD_SUBJECT}, another identity that still exists")));
}

#[test]
fn a_subject_differing_only_in_case_is_named() {
    let p = presented();
    let list = [credential(
        "crm-vm",
        &p.issuer,
        &SUBJECT.to_uppercase(),
        &p.audience,
    )];
    let c = compare(&list, &p, &HashMap::new());
    let first = blocking(&c)[0];
    assert!(first.detail.contains("only in case"), "{}", first.detail);
    assert!(first.detail.contains("AADSTS7002138"));
    assert!(fix_of(first).contains("update"));
}

#[test]
fn issuers_of_another_tenant_another_cloud_a_slash_or_v1_are_told_apart() {
    let p = presented();
    let cases = [
        (
            issuer("login.microsoftonline.com", OTHER_TENANT),
            "another tenant's",
        ),
        (
            issuer("login.microsoftonline.us", TENANT),
            "Azure US Government",
        ),
        (format!("{}/", p.issuer), "trailing slash"),
        (format!("https://sts.windows.net/{TENANT}/"), "v1 form"),
        (p.issuer.to_uppercase(), "in case only"),
        (
            "https://token.actions.githubusercontent.com".to_string(),
            "is not the token's",
        ),
    ];
    for (their_issuer, says) in cases {
        let list = [credential("x", &their_issuer, SUBJECT, &p.audience)];
        let c = compare(&list, &p, &HashMap::new());
        let first = blocking(&c)[0];
        assert!(
            first.detail.contains(says),
            "{their_issuer}: {}",
            first.detail
        );
        assert!(fix_of(first).contains(&format!("\"issuer\":\"{}\"", p.issuer)));
    }
}

#[test]
fn an_audience_of_another_cloud_is_flagged_against_the_authority() {
    let p = presented();
    let list = [credential(
        "gov",
        &p.issuer,
        SUBJECT,
        "api://AzureADTokenExchangeUSGov",
    )];
    let c = compare(&list, &p, &HashMap::new());
    let warning = c
        .findings
        .iter()
        .find(|f| f.name == "audience of another cloud")
        .unwrap();
    assert!(
        warning.detail.contains("Azure US Government"),
        "{}",
        warning.detail
    );
    assert!(warning.detail.contains("Azure public cloud"));
    assert!(
        fix_of(warning).contains("--federated-credential-id gov")
            && fix_of(warning).contains("\"audiences\":[\"api://AzureADTokenExchange\"]"),
        "{warning:?}"
    );
    let first = blocking(&c)[0];
    assert!(
        first.detail.contains("are the Azure US Government's"),
        "{}",
        first.detail
    );
    assert!(fix_of(first).contains("\"audiences\":[\"api://AzureADTokenExchange\"]"));
}

#[test]
fn twenty_credentials_without_a_match_leave_no_room() {
    let p = presented();
    let list: Vec<FederatedCredential> = (0..20)
        .map(|i| {
            credential(
                &format!("vm-{i}"),
                "https://token.actions.githubusercontent.com",
                &format!("repo:x:{i}"),
                "api://AzureADTokenExchange",
            )
        })
        .collect();
    let c = compare(&list, &p, &HashMap::new());
    let first = blocking(&c)[0];
    assert_eq!(first.name, "credential limit");
    assert!(
        first
            .detail
            .contains("holds 20 federated credentials, the most Entra allows")
    );
    assert!(fix_of(first).contains("federated-credential delete"));
    assert!(fix_of(first).contains("federated-credential create"));
    // 19 leave room: the headline is the missing credential itself.
    let c = compare(&list[..19], &p, &HashMap::new());
    assert_eq!(blocking(&c)[0].name, "no match");
}

#[test]
fn duplicates_and_expression_credentials_are_reported() {
    let p = presented();
    let list = [
        matching("a"),
        matching("b"),
        credential("c", &p.issuer, &SUBJECT.to_uppercase(), &p.audience),
    ];
    let c = compare(&list, &p, &HashMap::new());
    let dups: Vec<&Finding> = c
        .findings
        .iter()
        .filter(|f| f.name == "duplicate")
        .collect();
    assert_eq!(dups.len(), 3, "{dups:?}");
    assert!(
        dups[0]
            .detail
            .contains("'a' and 'b' have the same issuer and subject")
    );
    assert!(dups[1].detail.contains("differ only in case"));

    let mut flexible = matching("flex");
    flexible.subject = None;
    let c = compare(&[flexible], &p, &HashMap::new());
    assert!(blocking(&c)[0].detail.contains("by expression"));
    assert!(blocking(&c)[0].fix.as_deref().unwrap().contains("create"));
}

#[test]
fn an_empty_list_gets_the_create_command() {
    let c = compare(&[], &presented(), &HashMap::new());
    let first = blocking(&c)[0];
    assert!(first.detail.contains("has no federated credential"));
    assert_eq!(
        first.fix.as_deref(),
        Some(create_command(&presented()).as_str())
    );
    assert!(create_command(&presented()).contains("\"name\":\"certless-9b21c0de\""));
}

#[test]
fn several_credentials_of_unknown_principals_are_named_together() {
    let p = Presented {
        system_assigned: true,
        ..presented()
    };
    let list = [
        credential("web-1", &p.issuer, OLD_SUBJECT, &p.audience),
        credential(
            "web-2",
            &p.issuer,
            "0b0b0b0b-1b1b-4c4c-8d8d-9e9e9e9e9e9e",
            &p.audience,
        ),
    ];
    let c = compare(&list, &p, &HashMap::new());
    let first = blocking(&c)[0];
    assert_eq!(first.name, "no match");
    assert!(
        first.detail.contains("'web-1' (5f0c4e2a"),
        "{}",
        first.detail
    );
    assert!(
        first.detail.contains("'web-2' (0b0b0b0b"),
        "{}",
        first.detail
    );
    assert!(
        first.detail.contains("if one of them was this host's"),
        "{}",
        first.detail
    );
    assert!(fix_of(first).contains("create"));
    // Once Graph says which principal is gone, that credential is the headline.
    let gone = HashMap::from([
        (OLD_SUBJECT.to_string(), false),
        ("0b0b0b0b-1b1b-4c4c-8d8d-9e9e9e9e9e9e".to_string(), true),
    ]);
    let c = compare(&list, &p, &gone);
    let first = blocking(&c)[0];
    assert!(
        first.detail.starts_with("federated credential 'web-1'"),
        "{}",
        first.detail
    );
    assert!(fix_of(first).contains("--federated-credential-id web-1"));
}
