//! Asynchronous token requests with a completion callback: the C face of
//! `certless::Credential::get_token_callback` and `certless::runtime::PendingToken`.

use std::ffi::{c_char, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex};

use certless::AccessToken;
use certless::runtime::PendingToken;

use crate::boundary::{
    Out, guard, guard_value, invalid_argument, panic_error, ref_arg, scopes_arg,
};
use crate::credential::{certless_credential, certless_token_options};
use crate::error::{CERTLESS_OK, certless_error, certless_status};
use crate::token::certless_token;

/// The completion callback of `certless_credential_get_token_async`.
///
/// Called exactly once per request that was started (the start function returned
/// `CERTLESS_OK`), on a short-lived thread certless creates for it (never the caller's thread,
/// never a certless runtime worker), possibly before the start function has returned. Exactly one
/// of `token` and `error` is non-NULL; the callback owns it and must release it
/// (`certless_token_free` / `certless_error_free`), on any thread, now or later. `userdata` is
/// the value given to the start function. The callback may call certless functions (even the
/// blocking `certless_credential_get_token`); it must not unwind (no C++ exception may leave it).
pub type certless_token_callback = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        token: *mut certless_token,
        error: *mut certless_error,
    ),
>;

/// A token request started by `certless_credential_get_token_async`, for cancelling it. Release
/// it with `certless_pending_free` (which does not cancel). Thread-safe: `certless_pending_cancel`
/// may be called from any thread, including from the completion callback.
pub struct certless_pending {
    pending: PendingToken,
}

/// The C callback and its user data, moved to the thread that completes the request.
struct Completion {
    callback: unsafe extern "C" fn(*mut c_void, *mut certless_token, *mut certless_error),
    userdata: *mut c_void,
}

// SAFETY: the caller of `certless_credential_get_token_async` agrees that `userdata` is used on a
// thread of certless's (documented there); certless only passes it back, never dereferences it.
unsafe impl Send for Completion {}

/// The callback's arguments, moved to the thread that runs it.
struct Delivery {
    completion: Completion,
    token: *mut certless_token,
    error: *mut certless_error,
}

// SAFETY: the token and error objects are owned by this delivery until the callback takes them;
// `Completion` is `Send` as documented there.
unsafe impl Send for Delivery {}

impl Delivery {
    fn run(self) {
        // SAFETY: a callback the caller supplied with this signature; it now owns token/error.
        unsafe { (self.completion.callback)(self.completion.userdata, self.token, self.error) }
    }
}

impl Completion {
    fn complete(self, result: certless::Result<AccessToken>) {
        let converted = catch_unwind(AssertUnwindSafe(|| match &result {
            Ok(token) => (
                Box::into_raw(Box::new(certless_token::new(token))),
                std::ptr::null_mut(),
            ),
            Err(error) => (std::ptr::null_mut(), certless_error::boxed(error)),
        }));
        let (token, error) = converted.unwrap_or_else(|panic| {
            (
                std::ptr::null_mut(),
                certless_error::boxed(&panic_error(panic)),
            )
        });
        // The callback runs on a short-lived thread of its own, never on a runtime worker: a slow
        // callback cannot stall other requests, and a managed host (Mono, a JVM) that attaches the
        // calling thread sees that thread end, rather than a worker that lives as long as the
        // process (Mono waits for such threads forever at exit). A token fetch is rare (once an
        // hour per resource), so a thread per completion costs nothing that matters.
        let slot = Arc::new(Mutex::new(Some(Delivery {
            completion: self,
            token,
            error,
        })));
        let on_thread = slot.clone();
        let spawned = std::thread::Builder::new()
            .name("certless-callback".into())
            .spawn(move || {
                if let Some(delivery) = take(&on_thread) {
                    delivery.run();
                }
            });
        if spawned.is_err() {
            // No thread to be had: exactly once still holds, on this worker.
            if let Some(delivery) = take(&slot) {
                delivery.run();
            }
        }
    }
}

fn take(slot: &Mutex<Option<Delivery>>) -> Option<Delivery> {
    slot.lock().unwrap_or_else(|e| e.into_inner()).take()
}

/// Starts getting an access token and returns at once; `callback(userdata, token, error)` runs
/// exactly once when the request is done, on a thread of its own (see `certless_token_callback`).
/// No thread of the caller is blocked. Cache hits complete on another thread too: call
/// `certless_credential_cached_token` first to answer them without a thread hop.
///
/// `scopes`, `scopes_len` and `options` (NULL for the defaults) are as for
/// `certless_credential_get_token` and are copied before this returns. `userdata` is passed back
/// untouched; it must stay valid until the callback has run and may be used from another thread.
///
/// On `CERTLESS_OK` the request is running and the callback will run once, with the token or the
/// error (a bad scope, a failed exchange, `CERTLESS_CANCELLED`, ...). If `pending_out` is not
/// NULL it receives a handle the caller owns, for `certless_pending_cancel`; release it with
/// `certless_pending_free` (before or after the callback). Any other status means nothing was
/// started and the callback will never run; `*error_out` (when not NULL) says why, and
/// `*pending_out` is left untouched. The credential may be freed while requests are running.
/// Thread-safe.
///
/// # Safety
/// Pointers are NULL or valid as described.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certless_credential_get_token_async(
    credential: *const certless_credential,
    scopes: *const *const c_char,
    scopes_len: usize,
    options: *const certless_token_options,
    callback: certless_token_callback,
    userdata: *mut c_void,
    pending_out: *mut *mut certless_pending,
    error_out: *mut *mut certless_error,
) -> certless_status {
    guard(error_out, || {
        // SAFETY: the caller's contract on each pointer.
        let credential = unsafe { ref_arg(credential, "credential") }?;
        // SAFETY: `scopes` is NULL or valid, as this function's `# Safety` requires of its caller.
        let scopes = unsafe { scopes_arg(scopes, scopes_len) }?;
        // SAFETY: `options` is NULL or valid, as this function's `# Safety` requires of its caller.
        let options = unsafe { options.as_ref() }
            .map(|o| o.options.clone())
            .unwrap_or_default();
        let callback = callback.ok_or_else(|| invalid_argument("argument `callback` is NULL"))?;
        let out = if pending_out.is_null() {
            None
        } else {
            Some(Out::new(pending_out, "pending_out")?)
        };
        let completion = Completion { callback, userdata };
        let pending = credential
            .credential
            .get_token_callback(scopes, options, move |result| completion.complete(result))?;
        if let Some(out) = out {
            out.write(certless_pending { pending });
        }
        Ok(CERTLESS_OK)
    })
}

/// Cancels a running request: its callback then runs (once, on its own thread) with a
/// `CERTLESS_CANCELLED` error. Returns true if this call cancelled it, false when the callback
/// had already run or been scheduled (then nothing changes) or `pending` is NULL. A fetch that
/// other requests share goes on for them. Thread-safe.
///
/// # Safety
/// `pending` is NULL or a live pending handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certless_pending_cancel(pending: *const certless_pending) -> bool {
    // SAFETY: the caller's contract on `pending`.
    guard_value(false, || {
        // SAFETY: `pending` is NULL or valid, as this function's `# Safety` requires of its caller.
        unsafe { ref_arg(pending, "pending") }
            .map(|p| p.pending.cancel())
            .unwrap_or(false)
    })
}

/// Releases a pending handle. This does not cancel the request: its callback still runs. NULL
/// does nothing.
///
/// # Safety
/// `pending` is NULL or a pending handle this library handed out, not yet freed, and no other
/// thread is using it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certless_pending_free(pending: *mut certless_pending) {
    if !pending.is_null() {
        // SAFETY: the caller hands back ownership of a `Box<certless_pending>` we created.
        guard_value((), || drop(unsafe { Box::from_raw(pending) }));
    }
}
