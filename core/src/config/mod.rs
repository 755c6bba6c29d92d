//! Building a [`Credential`]: from a Microsoft.Identity.Web configuration ([`idweb`]), from
//! environment variables ([`from_env`]), or with the typed [`CredentialBuilder`]. All three end
//! in the same validation, so a value that is wrong is reported the same way wherever it came from.

mod builder;
mod encoding;
mod from_env;
mod idweb;
mod jsonc;
mod load;
mod options;
mod shared_cache;
mod source;
mod validate;

pub use crate::certificate::{
    CertificateSource, KeyVaultReference, StoreFind, StoreLocation, StorePath,
};
pub use crate::token::CredentialSourceKind;
pub use builder::{ASSERTION_SAFETY_MARGIN_SECS, CredentialBuilder};
pub(crate) use load::read_text_file;
pub use options::{CredentialOptions, OPTIONS, OptionInfo, OptionKind, OptionValue};
pub use source::CredentialSource;
pub(crate) use validate::{ValidatedOptions, validate_tenant};
