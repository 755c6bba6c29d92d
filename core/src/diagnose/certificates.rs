//! The certificates leg: every certificate of the credential list (Path, Base64Encoded,
//! KeyVault, the certificate store) is loaded without being used, and its subject, thumbprint and
//! expiry reported — a fallback certificate that expires unnoticed is the next outage. One that
//! expires within 30 days is a warning; one that has expired, or cannot be loaded, is an error,
//! and the report's first line when nothing is more urgent.

use super::{CertificateReport, Doctor, Status, check, leg};
use crate::credential::Credential;
use crate::support::clock::to_iso8601;

/// A certificate expiring sooner than this is a warning.
const WARN_DAYS: i64 = 30;

const DAY: i64 = 86_400;

const RENEW: &str = "Renew it: upload the new certificate to the app registration (Certificates \
    & secrets) and deploy it — for Key Vault, a new version of the certificate (certless picks it \
    up within the hour); for the certificate store, import it there (the newest valid one is \
    used).";

impl Doctor {
    pub(super) async fn certificates(&mut self, credential: &Credential) {
        let findings = credential.inspect_certificates().await;
        if findings.is_empty() {
            return;
        }
        let now = credential.clock().now_unix();
        let mut report = leg("certificates", "certificates of the credential list");
        for finding in findings {
            let source = finding.kind.as_str();
            let mut entry = CertificateReport {
                source: source.to_string(),
                status: Status::Ok,
                subject: None,
                thumbprint: None,
                not_after: None,
                days_left: None,
                detail: String::new(),
                fix: None,
            };
            match finding.certificate {
                Err(e) => {
                    entry.status = Status::Fail;
                    entry.detail = format!(
                        "the {source} certificate cannot be loaded, so the credential list cannot \
                         fall back to it: {}",
                        e.primary().message()
                    );
                    entry.fix = Some(
                        e.primary()
                            .remedy()
                            .unwrap_or("Correct the entry, or remove it.")
                            .to_string(),
                    );
                }
                Ok(certificate) => {
                    let thumbprint = certificate.thumbprint();
                    let days = (certificate.not_after - now) / DAY;
                    let named = format!(
                        "the {source} certificate {} (thumbprint {thumbprint}{})",
                        certificate.subject,
                        finding
                            .detail
                            .as_deref()
                            .map(|d| format!(", {d}"))
                            .unwrap_or_default()
                    );
                    let until = to_iso8601(certificate.not_after);
                    entry.subject = Some(certificate.subject.clone());
                    entry.thumbprint = Some(thumbprint);
                    entry.not_after = Some(until.clone());
                    entry.days_left = Some(days);
                    if now > certificate.not_after {
                        entry.status = Status::Fail;
                        entry.detail = format!(
                            "{named} expired on {until}, {} day(s) ago: Entra refuses it, so the \
                             credential list cannot fall back to it",
                            (now - certificate.not_after).div_euclid(DAY).max(1)
                        );
                        entry.fix = Some(RENEW.into());
                    } else if now < certificate.not_before {
                        entry.status = Status::Fail;
                        entry.detail = format!(
                            "{named} is not valid before {}",
                            to_iso8601(certificate.not_before)
                        );
                        entry.fix = Some(
                            "Check this machine's clock, or use a certificate valid now.".into(),
                        );
                    } else if days < WARN_DAYS {
                        entry.status = Status::Warn;
                        entry.detail = format!("{named} expires in {days} day(s), on {until}");
                        entry.fix = Some(RENEW.into());
                    } else {
                        entry.detail = format!("{named} is valid until {until} ({days} days)");
                    }
                }
            }
            let mut c = check(entry.status, source, entry.detail.clone());
            c.fix = entry.fix.clone();
            report.checks.push(c);
            self.certificates.push(entry);
        }
        // The most urgent finding first: a certificate that cannot be used, then the one that
        // expires soonest.
        self.certificates.sort_by_key(|c| {
            (
                c.status != Status::Fail,
                c.status != Status::Warn,
                c.days_left.unwrap_or(i64::MIN),
            )
        });
        self.push(report);
    }
}
