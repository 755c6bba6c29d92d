//! `certless_explain_refusal`: core's explanation of a resource's refusal of a token
//! (`certless::resource::explain_refusal`), as an error object.

use std::ffi::c_char;

use crate::boundary::{guard, invalid_argument, opt_str_arg, str_arg};
use crate::error::{certless_error, certless_status};

/// Explains why a resource (SharePoint, Microsoft Graph, ...) refused a token certless obtained:
/// which resource and SharePoint site refused, what the token carried (its roles, audience, app and
/// tenant — never the token itself) and, in the error's remedy, what is missing and how to add it.
/// For a SharePoint 403 to an app with `Sites.Selected`, that is the site grant to make through
/// Microsoft Graph, with the exact requests. Nothing goes on the wire.
///
/// `url` is the URL of the refused request (required); `status` the answer's HTTP status (401 or
/// 403, usually); `www_authenticate` the answer's `WWW-Authenticate` header, `body` its body and
/// `token` the bearer token that was sent — each may be NULL when not known, and the explanation
/// then says less. Strings are NUL-terminated UTF-8. The token is read, never verified, and appears
/// in no text of the error.
///
/// Return contract: the explanation **is** an error, so this function never returns `CERTLESS_OK`.
/// It returns `CERTLESS_RESOURCE_REFUSED` and writes the explaining error to `*error_out`; read it
/// with `certless_error_message`, `certless_error_remedy`, `certless_error_http_status`,
/// `certless_error_oauth_error` (`"insufficient_claims"` for a claims challenge), and free it with
/// `certless_error_free`. A bad argument (`url` NULL, a string that is not UTF-8) returns
/// `CERTLESS_INVALID_ARGUMENT` with an error naming the argument in `*error_out`. `error_out` must
/// not be NULL: with NULL, `CERTLESS_INVALID_ARGUMENT` is returned and nothing is written.
/// Thread-safe.
///
/// # Safety
/// Each string is NULL or a valid NUL-terminated string; `error_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certless_explain_refusal(
    url: *const c_char,
    status: u16,
    www_authenticate: *const c_char,
    body: *const c_char,
    token: *const c_char,
    error_out: *mut *mut certless_error,
) -> certless_status {
    guard(error_out, || {
        if error_out.is_null() {
            return Err(invalid_argument(
                "argument `error_out` is NULL: pass the address of a pointer to receive the explanation",
            ));
        }
        // SAFETY: `url` is NULL or valid, as this function's `# Safety` requires of its caller.
        let url = unsafe { str_arg(url, "url") }?;
        // SAFETY: as for `url`.
        let www_authenticate = unsafe { opt_str_arg(www_authenticate, "www_authenticate") }?;
        // SAFETY: as for `url`.
        let body = unsafe { opt_str_arg(body, "body") }?;
        // SAFETY: as for `url`.
        let token = unsafe { opt_str_arg(token, "token") }?;
        Err(certless::resource::explain_refusal(
            url,
            status,
            www_authenticate,
            body.unwrap_or_default(),
            token,
        ))
    })
}

#[cfg(test)]
mod tests {
    use std::ffi::{CStr, CString};

    use super::*;
    use crate::error::{
        CERTLESS_INVALID_ARGUMENT, CERTLESS_RESOURCE_REFUSED, certless_error_free,
        certless_error_http_status, certless_error_remedy,
    };

    #[test]
    fn always_an_error_and_written_only_where_asked() {
        let url = CString::new("https://contoso.sharepoint.com/sites/crm/_api/web").unwrap();
        let mut error = std::ptr::null_mut();
        // SAFETY: valid strings and a writable error pointer.
        let status = unsafe {
            certless_explain_refusal(
                url.as_ptr(),
                403,
                std::ptr::null(),
                std::ptr::null(),
                std::ptr::null(),
                &mut error,
            )
        };
        assert_eq!(status, CERTLESS_RESOURCE_REFUSED);
        assert_eq!(certless_error_http_status(error), 403);
        // SAFETY: a live error; its remedy is NULL or a string it owns.
        let remedy = unsafe { CStr::from_ptr(certless_error_remedy(error)) };
        assert!(!remedy.to_bytes().is_empty());
        // SAFETY: a live error, freed once.
        unsafe { certless_error_free(error) };

        // SAFETY: NULL `error_out` is allowed and reported.
        let status = unsafe {
            certless_explain_refusal(
                url.as_ptr(),
                403,
                std::ptr::null(),
                std::ptr::null(),
                std::ptr::null(),
                std::ptr::null_mut(),
            )
        };
        assert_eq!(status, CERTLESS_INVALID_ARGUMENT);
    }
}
