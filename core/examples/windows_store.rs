//! Checks the certificate store on Windows (or under Wine): imports a PFX into CurrentUser\My
//! without marking its key exportable, then gets a token through a `StoreWithThumbprint` entry,
//! so the key signs inside the store. Run by `scripts/test/test-windows-store.sh` against the emulator.
//!
//! Usage: `windows_store <pfx file> <thumbprint> <authority> <tenant> <client id> <scope>`

#[cfg(windows)]
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [pfx, thumbprint, authority, tenant, client_id, scope] = args.as_slice() else {
        eprintln!(
            "usage: windows_store <pfx> <thumbprint> <authority> <tenant> <client id> <scope>"
        );
        std::process::exit(2);
    };
    if let Err(e) = store::import(&std::fs::read(pfx).expect("the PFX file")) {
        eprintln!("FAIL: importing the PFX into CurrentUser\\My: {e}");
        std::process::exit(1);
    }
    let json = format!(
        r#"{{"AzureAd":{{"Instance":"{authority}","TenantId":"{tenant}","ClientId":"{client_id}",
        "ClientCredentials":[{{"SourceType":"StoreWithThumbprint","CertificateStorePath":"CurrentUser/My",
        "CertificateThumbprint":"{thumbprint}"}}]}}}}"#
    );
    // Building the credential finds the certificate in the store and signs once with its key.
    let credential = match certless::Credential::from_config_json(&json) {
        Ok(c) => {
            println!("OK: the certificate was found in CurrentUser\\My and its key signed there");
            c
        }
        Err(e) => {
            println!("FAIL: building the credential: {e}");
            std::process::exit(1);
        }
    };
    match credential.get_token_blocking(&[scope.as_str()], &Default::default()) {
        Ok(token) => println!(
            "OK: a token from {} ({} bytes)",
            token.source,
            token.token.expose().len()
        ),
        Err(e) => {
            println!("FAIL: {e}");
            std::process::exit(1);
        }
    }
    // A thumbprint the store does not hold: the error names the store and what to check.
    let missing = json.replace(
        thumbprint.as_str(),
        "00112233445566778899AABBCCDDEEFF00112233",
    );
    match certless::Credential::from_config_json(&missing) {
        Err(e) if e.code() == certless::ErrorCode::CertificateNotInStore => {
            println!("OK: a missing certificate is code 111: {}", e.message())
        }
        other => {
            println!("FAIL: a missing certificate gave {other:?}");
            std::process::exit(1);
        }
    }
}

#[cfg(windows)]
mod store {
    use windows_sys::Win32::Security::Cryptography::{
        CERT_STORE_ADD_REPLACE_EXISTING, CERT_STORE_PROV_SYSTEM_W, CERT_SYSTEM_STORE_CURRENT_USER,
        CRYPT_INTEGER_BLOB, CRYPT_USER_KEYSET, CertAddCertificateContextToStore, CertCloseStore,
        CertEnumCertificatesInStore, CertOpenStore, PFXImportCertStore,
    };

    /// Test set-up only: puts the PFX's certificate and key into CurrentUser\My (key not
    /// exportable).
    pub(super) fn import(pfx: &[u8]) -> Result<(), String> {
        let blob = CRYPT_INTEGER_BLOB {
            cbData: pfx.len() as u32,
            pbData: pfx.as_ptr() as *mut u8,
        };
        let password: Vec<u16> = "\0".encode_utf16().collect();
        let name: Vec<u16> = "My\0".encode_utf16().collect();
        // SAFETY: the blob and the strings outlive the calls; each context enumerated is added
        // before the next call frees it; both stores are closed.
        unsafe {
            let imported = PFXImportCertStore(&blob, password.as_ptr(), CRYPT_USER_KEYSET);
            if imported.is_null() {
                return Err(format!(
                    "PFXImportCertStore: {}",
                    std::io::Error::last_os_error()
                ));
            }
            let my = CertOpenStore(
                CERT_STORE_PROV_SYSTEM_W,
                0,
                0,
                CERT_SYSTEM_STORE_CURRENT_USER,
                name.as_ptr() as *const _,
            );
            if my.is_null() {
                return Err(format!(
                    "CertOpenStore: {}",
                    std::io::Error::last_os_error()
                ));
            }
            let mut context = CertEnumCertificatesInStore(imported, std::ptr::null());
            while !context.is_null() {
                if CertAddCertificateContextToStore(
                    my,
                    context,
                    CERT_STORE_ADD_REPLACE_EXISTING,
                    std::ptr::null_mut(),
                ) == 0
                {
                    return Err(format!(
                        "CertAddCertificateContextToStore: {}",
                        std::io::Error::last_os_error()
                    ));
                }
                context = CertEnumCertificatesInStore(imported, context);
            }
            CertCloseStore(my, 0);
            CertCloseStore(imported, 0);
        }
        Ok(())
    }
}

#[cfg(not(windows))]
fn main() {
    eprintln!("windows_store checks the Windows certificate store: build it for a Windows target");
    std::process::exit(2);
}
