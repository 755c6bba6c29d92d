//! Windows' certificate stores (`CurrentUser\My`, `LocalMachine\My`, ...), through crypt32: the
//! certificates are enumerated and chosen as on every platform; the chosen one's private key is
//! opened where it lives — CNG (NCrypt) for modern keys, CryptoAPI for keys of a legacy CSP — and
//! signs there. It is never exported: a key marked non-exportable works, as it does for .NET.

use std::ffi::c_void;
use std::sync::Mutex;

use windows_sys::Win32::Security::Cryptography::{
    AT_KEYEXCHANGE, AT_SIGNATURE, BCRYPT_PAD_PKCS1, BCRYPT_PKCS1_PADDING_INFO,
    BCRYPT_SHA256_ALGORITHM, CALG_SHA_256, CERT_CONTEXT, CERT_KEY_PROV_INFO_PROP_ID,
    CERT_NCRYPT_KEY_SPEC, CERT_STORE_OPEN_EXISTING_FLAG, CERT_STORE_PROV_SYSTEM_W,
    CERT_STORE_READONLY_FLAG, CERT_SYSTEM_STORE_CURRENT_USER, CERT_SYSTEM_STORE_LOCAL_MACHINE,
    CRYPT_ACQUIRE_PREFER_NCRYPT_KEY_FLAG, CRYPT_ACQUIRE_SILENT_FLAG, CRYPT_KEY_PROV_INFO,
    CRYPT_MACHINE_KEYSET, CRYPT_SILENT, CertCloseStore, CertDuplicateCertificateContext,
    CertEnumCertificatesInStore, CertFreeCertificateContext, CertGetCertificateContextProperty,
    CertOpenStore, CryptAcquireCertificatePrivateKey, CryptAcquireContextW, CryptCreateHash,
    CryptDestroyHash, CryptDestroyKey, CryptGetUserKey, CryptReleaseContext, CryptSetHashParam,
    CryptSignHashW, HP_HASHVAL, MS_ENH_RSA_AES_PROV_W, NCryptFreeObject, NCryptSignHash,
    PROV_RSA_AES,
};

use super::find::{Candidate, StoreFind, StoreLocation, StorePath, choose, unavailable};
use crate::certificate::client_certificate::PlatformKey;
use crate::error::{Error, ErrorCode, Leg, Result};

/// A private key in the store, and the certificate context that keeps it reachable.
pub(crate) struct StoreKey {
    key: Mutex<Key>,
    context: *const CERT_CONTEXT,
}

enum Key {
    NCrypt {
        handle: usize,
        owned: bool,
    },
    /// A CryptoAPI provider (re-opened in the AES provider when the key's own CSP cannot hash
    /// SHA-256) and the key's slot in it.
    Capi {
        provider: usize,
        owned: bool,
        key_spec: u32,
    },
}

// SAFETY: the handles are used only under the mutex, one call at a time; CNG and CryptoAPI
// handles may be used from any thread. The certificate context is only read and freed once.
unsafe impl Send for StoreKey {}
// SAFETY: as for Send: every use of the handles goes through the mutex.
unsafe impl Sync for StoreKey {}

impl Drop for StoreKey {
    fn drop(&mut self) {
        let key = self.key.get_mut().unwrap_or_else(|e| e.into_inner());
        // SAFETY: the handles and the context were acquired by this value and are released once.
        unsafe {
            match key {
                Key::NCrypt {
                    handle,
                    owned: true,
                } => {
                    NCryptFreeObject(*handle);
                }
                Key::Capi {
                    provider,
                    owned: true,
                    ..
                } => {
                    CryptReleaseContext(*provider, 0);
                }
                _ => {}
            }
            CertFreeCertificateContext(self.context);
        }
    }
}

fn os_error(what: &str) -> String {
    format!("{what}: {}", std::io::Error::last_os_error())
}

impl PlatformKey for StoreKey {
    fn sign_rs256(&self, message: &[u8]) -> Result<Vec<u8>> {
        let digest = ring::digest::digest(&ring::digest::SHA256, message);
        let hash = digest.as_ref();
        let key = self.key.lock().unwrap_or_else(|e| e.into_inner());
        let signed = match &*key {
            Key::NCrypt { handle, .. } => sign_ncrypt(*handle, hash),
            Key::Capi {
                provider, key_spec, ..
            } => sign_capi(*provider, *key_spec, hash),
        };
        signed.map_err(|what| {
            Error::new(
                ErrorCode::CertificateUnusable,
                format!("the certificate store's key could not sign: {what}"),
            )
            .with_leg(Leg::Config)
            .with_remedy(KEY_ACCESS_REMEDY)
        })
    }
}

const KEY_ACCESS_REMEDY: &str = "Let the account this process runs as use the private key: \
    certlm.msc (or certmgr.msc) → the certificate → All Tasks → Manage Private Keys → add the \
    account (for IIS: IIS AppPool\\<pool name>) with Read.";

fn sign_ncrypt(handle: usize, hash: &[u8]) -> std::result::Result<Vec<u8>, String> {
    let padding = BCRYPT_PKCS1_PADDING_INFO {
        pszAlgId: BCRYPT_SHA256_ALGORITHM,
    };
    let mut size = 0u32;
    // SAFETY: `handle` is a live NCrypt key; the padding info and hash outlive the calls; the
    // first call only reports the size, the second writes at most `size` bytes into `signature`.
    unsafe {
        let padding = &padding as *const BCRYPT_PKCS1_PADDING_INFO as *const c_void;
        let status = NCryptSignHash(
            handle,
            padding,
            hash.as_ptr(),
            hash.len() as u32,
            std::ptr::null_mut(),
            0,
            &mut size,
            BCRYPT_PAD_PKCS1,
        );
        if status != 0 {
            return Err(format!("NCryptSignHash failed (0x{status:08X})"));
        }
        let mut signature = vec![0u8; size as usize];
        let status = NCryptSignHash(
            handle,
            padding,
            hash.as_ptr(),
            hash.len() as u32,
            signature.as_mut_ptr(),
            size,
            &mut size,
            BCRYPT_PAD_PKCS1,
        );
        if status != 0 {
            return Err(format!("NCryptSignHash failed (0x{status:08X})"));
        }
        signature.truncate(size as usize);
        Ok(signature)
    }
}

fn sign_capi(provider: usize, key_spec: u32, hash: &[u8]) -> std::result::Result<Vec<u8>, String> {
    let mut hasher = 0usize;
    // SAFETY: `provider` is a live CryptoAPI provider; the hash object is destroyed on every path;
    // CryptSignHashW writes at most `size` bytes, the size it reported first.
    unsafe {
        if CryptCreateHash(provider, CALG_SHA_256, 0, 0, &mut hasher) == 0 {
            return Err(os_error("CryptCreateHash(SHA-256) failed"));
        }
        let result = (|| {
            if CryptSetHashParam(hasher, HP_HASHVAL, hash.as_ptr(), 0) == 0 {
                return Err(os_error("CryptSetHashParam failed"));
            }
            let mut size = 0u32;
            if CryptSignHashW(
                hasher,
                key_spec,
                std::ptr::null(),
                0,
                std::ptr::null_mut(),
                &mut size,
            ) == 0
            {
                return Err(os_error(&format!(
                    "CryptSignHash (key spec {key_spec}) failed"
                )));
            }
            let mut signature = vec![0u8; size as usize];
            if CryptSignHashW(
                hasher,
                key_spec,
                std::ptr::null(),
                0,
                signature.as_mut_ptr(),
                &mut size,
            ) == 0
            {
                return Err(os_error("CryptSignHash failed"));
            }
            signature.truncate(size as usize);
            // CryptoAPI writes the signature little-endian; JWS wants it big-endian.
            signature.reverse();
            Ok(signature)
        })();
        CryptDestroyHash(hasher);
        result
    }
}

fn wide(text: &str) -> Vec<u16> {
    text.encode_utf16().chain(std::iter::once(0)).collect()
}

/// Certificate contexts duplicated out of a store, freed when dropped.
struct Contexts(Vec<*const CERT_CONTEXT>);

impl Drop for Contexts {
    fn drop(&mut self) {
        for context in &self.0 {
            // SAFETY: each context was duplicated for this list and is freed once.
            unsafe {
                CertFreeCertificateContext(*context);
            }
        }
    }
}

/// A store certificate and the key that signs for it inside the store: what
/// [`ClientCertificate`](crate::certificate::ClientCertificate) is made of on Windows.
pub(super) struct StoreCertificate {
    pub(super) key: StoreKey,
    /// DER.
    pub(super) certificate: Vec<u8>,
    pub(super) subject: String,
    pub(super) not_before: i64,
    pub(super) not_after: i64,
}

pub(super) fn load(store: &StorePath, find: &StoreFind, now: i64) -> Result<StoreCertificate> {
    let location = match store.location {
        StoreLocation::CurrentUser => CERT_SYSTEM_STORE_CURRENT_USER,
        StoreLocation::LocalMachine => CERT_SYSTEM_STORE_LOCAL_MACHINE,
    };
    let name = wide(store.system_store_name());
    // SAFETY: `name` is a NUL-terminated UTF-16 string that outlives the call.
    let handle = unsafe {
        CertOpenStore(
            CERT_STORE_PROV_SYSTEM_W,
            0,
            0,
            location | CERT_STORE_READONLY_FLAG | CERT_STORE_OPEN_EXISTING_FLAG,
            name.as_ptr() as *const c_void,
        )
    };
    if handle.is_null() {
        return Err(unavailable(
            os_error(&format!("the certificate store {store} cannot be opened")),
            "Check CertificateStorePath (CurrentUser/My or LocalMachine/My) and that this \
             process's account may read that store.",
        ));
    }
    let mut contexts = Contexts(Vec::new());
    let mut candidates = Vec::new();
    // SAFETY: the store handle is live until CertCloseStore below; each enumerated context is
    // valid until the next call, so the kept ones are duplicated first; `pbCertEncoded` points at
    // `cbCertEncoded` bytes owned by the context.
    unsafe {
        let mut previous: *const CERT_CONTEXT = std::ptr::null();
        loop {
            let context = CertEnumCertificatesInStore(handle, previous);
            if context.is_null() {
                break;
            }
            previous = context;
            let der = std::slice::from_raw_parts(
                (*context).pbCertEncoded,
                (*context).cbCertEncoded as usize,
            );
            if let Some(candidate) = Candidate::from_der(der) {
                candidates.push(candidate);
                contexts.0.push(CertDuplicateCertificateContext(context));
            }
        }
        CertCloseStore(handle, 0);
    }
    let chosen = choose(&candidates, find, store, now)?;
    let context = contexts.0.remove(chosen);
    // SAFETY: `context` is a live duplicated context; its encoded bytes stay valid while it lives.
    let der = unsafe {
        std::slice::from_raw_parts((*context).pbCertEncoded, (*context).cbCertEncoded as usize)
    }
    .to_vec();
    let candidate = &candidates[chosen];
    let origin = format!("{} in the certificate store {store}", candidate.describe());
    let key = open_key(context).map_err(|(what, remedy)| {
        // SAFETY: the context was not handed to a StoreKey, so it is freed here, once.
        unsafe {
            CertFreeCertificateContext(context);
        }
        Error::new(
            ErrorCode::CertificateUnusable,
            format!("the certificate {origin} {what}"),
        )
        .with_leg(Leg::Config)
        .with_remedy(remedy)
    })?;
    let store_key = StoreKey {
        key: Mutex::new(key),
        context,
    };
    // Sign once now: a key this account may not use shows when the credential is built.
    store_key.sign_rs256(b"certless")?;
    let subject = super::find::render_name(&candidate.subject);
    Ok(StoreCertificate {
        key: store_key,
        certificate: der,
        subject,
        not_before: candidate.not_before,
        not_after: candidate.not_after,
    })
}

/// The certificate's private key, where it lives; an error says what is wrong and how to fix it.
fn open_key(context: *const CERT_CONTEXT) -> std::result::Result<Key, (String, &'static str)> {
    let mut handle = 0usize;
    let mut key_spec = 0u32;
    let mut owned = 0i32;
    // SAFETY: `context` is a live certificate context; the out-pointers are valid locals.
    let ok = unsafe {
        CryptAcquireCertificatePrivateKey(
            context,
            CRYPT_ACQUIRE_PREFER_NCRYPT_KEY_FLAG | CRYPT_ACQUIRE_SILENT_FLAG,
            std::ptr::null(),
            &mut handle,
            &mut key_spec,
            &mut owned,
        )
    };
    if ok == 0 {
        let error = std::io::Error::last_os_error();
        let code = error.raw_os_error().unwrap_or_default() as u32;
        return Err(match code {
            // CRYPT_E_NO_KEY_PROPERTY, NTE_NO_KEY
            0x8009_200B | 0x8009_000D => (
                "has no private key in the store".into(),
                "Import the certificate with its private key (the .pfx, not the .cer).",
            ),
            _ => (
                format!("has a private key this account cannot use ({error})"),
                KEY_ACCESS_REMEDY,
            ),
        });
    }
    let owned = owned != 0;
    if key_spec == CERT_NCRYPT_KEY_SPEC {
        return Ok(Key::NCrypt { handle, owned });
    }
    // A legacy CSP (the base or strong provider) cannot hash SHA-256: the same key container is
    // opened in the AES provider, which can, as .NET does.
    let mut probe = 0usize;
    // SAFETY: `handle` is a live provider; the probe hash is destroyed at once.
    let sha256 = unsafe {
        let ok = CryptCreateHash(handle, CALG_SHA_256, 0, 0, &mut probe) != 0;
        if ok {
            CryptDestroyHash(probe);
        }
        ok
    };
    if sha256 {
        return Ok(Key::Capi {
            provider: handle,
            owned,
            key_spec: key_slot(handle, key_spec),
        });
    }
    let reopened = reopen_in_aes_provider(context);
    if owned {
        // SAFETY: the legacy provider was acquired above and is no longer used.
        unsafe {
            CryptReleaseContext(handle, 0);
        }
    }
    reopened.map(|provider| Key::Capi {
        provider,
        owned: true,
        key_spec: key_slot(provider, key_spec),
    })
}

/// The slot of the container that holds the key: the one the certificate names when it is
/// there, else whichever of the two exists (Wine's crypt32 reports a key spec of 3, which
/// CryptoAPI cannot sign with).
fn key_slot(provider: usize, reported: u32) -> u32 {
    let exists = |spec: u32| {
        let mut key = 0usize;
        // SAFETY: `provider` is a live provider; a key handle it returns is destroyed at once.
        unsafe {
            let found = CryptGetUserKey(provider, spec, &mut key) != 0;
            if found {
                CryptDestroyKey(key);
            }
            found
        }
    };
    [reported, AT_KEYEXCHANGE, AT_SIGNATURE]
        .into_iter()
        .filter(|spec| *spec == AT_KEYEXCHANGE || *spec == AT_SIGNATURE)
        .find(|spec| exists(*spec))
        .unwrap_or(reported)
}

fn reopen_in_aes_provider(
    context: *const CERT_CONTEXT,
) -> std::result::Result<usize, (String, &'static str)> {
    let failed = |what: String| (what, KEY_ACCESS_REMEDY);
    let mut size = 0u32;
    // SAFETY: the first call reports the size of the property; the second fills a buffer of
    // that size, aligned for CRYPT_KEY_PROV_INFO, whose strings point into the same buffer.
    unsafe {
        if CertGetCertificateContextProperty(
            context,
            CERT_KEY_PROV_INFO_PROP_ID,
            std::ptr::null_mut(),
            &mut size,
        ) == 0
        {
            return Err(failed(os_error("has no key provider information")));
        }
        let words = (size as usize).div_ceil(std::mem::size_of::<u64>());
        let mut buffer = vec![0u64; words];
        if CertGetCertificateContextProperty(
            context,
            CERT_KEY_PROV_INFO_PROP_ID,
            buffer.as_mut_ptr() as *mut c_void,
            &mut size,
        ) == 0
        {
            return Err(failed(os_error("has unreadable key provider information")));
        }
        let info = &*(buffer.as_ptr() as *const CRYPT_KEY_PROV_INFO);
        let mut provider = 0usize;
        let flags = (info.dwFlags & CRYPT_MACHINE_KEYSET) | CRYPT_SILENT;
        if CryptAcquireContextW(
            &mut provider,
            info.pwszContainerName,
            MS_ENH_RSA_AES_PROV_W,
            PROV_RSA_AES,
            flags,
        ) == 0
        {
            return Err(failed(os_error(
                "has a legacy CryptoAPI key that cannot be opened for SHA-256 signing",
            )));
        }
        Ok(provider)
    }
}
