//! Asynchronous token requests with a completion callback: the C face of
//! `certless::Credential::get_token_callback` and `certless::runtime::PendingToken`.

use std::ffi::{c_char, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, ThreadId};

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

/// A token request started by `certless_credential_get_token_async`, for cancelling or abandoning
/// it. Release it with `certless_pending_free` (which does neither). Thread-safe:
/// `certless_pending_cancel` may be called from any thread, including from the completion
/// callback; `certless_pending_abandon` from any thread but the callback's.
pub struct certless_pending {
    pending: PendingToken,
    delivery: Arc<DeliverySlot>,
}

/// The C callback and its user data, moved to the thread that completes the request.
struct Completion {
    callback: unsafe extern "C" fn(*mut c_void, *mut certless_token, *mut certless_error),
    userdata: *mut c_void,
}

// SAFETY: the caller of `certless_credential_get_token_async` agrees that `userdata` is used on a
// thread of certless's (documented there); certless only passes it back, never dereferences it.
unsafe impl Send for Completion {}

/// Where a request's completion callback stands. The callback is handed out once (`Waiting` to
/// `Running`), or never (`Waiting` to `Abandoned`): a host that unloads code (an ASP.NET
/// AppDomain) abandons what it started, and from then on no certless thread enters that code.
enum Delivery {
    /// The request runs, or its result waits for the callback's thread to start.
    Waiting(Completion),
    /// The callback runs on this thread.
    Running(ThreadId),
    /// The callback has returned.
    Finished,
    /// The callback will never run; the result, if one comes, is freed here.
    Abandoned,
}

struct DeliverySlot {
    state: Mutex<Delivery>,
    /// Signalled when a running callback returns.
    finished: Condvar,
}

impl DeliverySlot {
    fn new(completion: Completion) -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(Delivery::Waiting(completion)),
            finished: Condvar::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Delivery> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs the callback with `token`/`error` unless it was abandoned (then frees them).
    fn deliver(&self, token: *mut certless_token, error: *mut certless_error) {
        let completion = {
            let mut state = self.lock();
            match std::mem::replace(&mut *state, Delivery::Running(thread::current().id())) {
                Delivery::Waiting(completion) => completion,
                other => {
                    *state = other;
                    drop(state);
                    free_result(token, error);
                    return;
                }
            }
        };
        // SAFETY: a callback the caller supplied with this signature; it now owns token/error.
        unsafe { (completion.callback)(completion.userdata, token, error) }
        *self.lock() = Delivery::Finished;
        self.finished.notify_all();
    }

    /// See `certless_pending_abandon`.
    fn abandon(&self) -> bool {
        let mut state = self.lock();
        loop {
            match &*state {
                Delivery::Waiting(_) => {
                    *state = Delivery::Abandoned;
                    return true;
                }
                // Called from the callback itself: waiting would wait for ourselves.
                Delivery::Running(on) if *on == thread::current().id() => return false,
                Delivery::Running(_) => {
                    state = self.finished.wait(state).unwrap_or_else(|e| e.into_inner());
                }
                Delivery::Finished => return false,
                Delivery::Abandoned => return true,
            }
        }
    }

    /// Converts the result and runs the callback on a thread of its own.
    fn complete(self: Arc<Self>, result: certless::Result<AccessToken>) {
        if matches!(*self.lock(), Delivery::Abandoned) {
            return;
        }
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
        let result = SendResult { token, error };
        // The callback runs on a short-lived thread of its own, never on a runtime worker: a slow
        // callback cannot stall other requests, and a managed host (Mono, a JVM) that attaches the
        // calling thread sees that thread end, rather than a worker that lives as long as the
        // process (Mono waits for such threads forever at exit, and will not unload an AppDomain
        // such a thread has entered). A token fetch is rare (once an hour per resource), so a
        // thread per completion costs nothing that matters.
        let on_thread = Arc::new(Mutex::new(Some((self, result))));
        let slot = on_thread.clone();
        let spawned = thread::Builder::new()
            .name("certless-callback".into())
            .spawn(move || run_once(&slot));
        if spawned.is_err() {
            // No thread to be had: exactly once still holds, on this worker.
            run_once(&on_thread);
        }
    }
}

/// The token or error of one completion, moved to the thread that runs the callback.
struct SendResult {
    token: *mut certless_token,
    error: *mut certless_error,
}

// SAFETY: the token and error objects are owned by this value until the callback takes them.
unsafe impl Send for SendResult {}

type Handoff = Mutex<Option<(Arc<DeliverySlot>, SendResult)>>;

fn run_once(handoff: &Handoff) {
    let taken = handoff.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some((slot, result)) = taken {
        slot.deliver(result.token, result.error);
    }
}

fn free_result(token: *mut certless_token, error: *mut certless_error) {
    if !token.is_null() {
        // SAFETY: created by `complete` with `Box::into_raw` and never handed out.
        drop(unsafe { Box::from_raw(token) });
    }
    if !error.is_null() {
        // SAFETY: as above, created by `certless_error::boxed`.
        unsafe { crate::error::certless_error_free(error) };
    }
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
        let delivery = DeliverySlot::new(Completion { callback, userdata });
        let completing = delivery.clone();
        let pending = credential
            .credential
            .get_token_callback(scopes, options, move |result| completing.complete(result))?;
        if let Some(out) = out {
            out.write(certless_pending { pending, delivery });
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

/// Abandons a running request for good: when this returns true, its callback will never run,
/// and no certless thread will touch `userdata` again; release what `userdata` holds yourself.
/// The request itself is cancelled (a fetch that other requests share goes on for them). When it
/// returns false the callback has already run and returned (this waits for a callback running on
/// another thread to return first), or `pending` is NULL.
///
/// For hosts that unload code while the process lives on: an ASP.NET AppDomain being unloaded,
/// a plugin being closed. Abandon every request the unloading code started before it goes, and no
/// native thread enters that code afterwards. Thread-safe; must not be called from the request's
/// own callback (it then returns false at once, as the callback is running).
///
/// # Safety
/// `pending` is NULL or a live pending handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certless_pending_abandon(pending: *const certless_pending) -> bool {
    guard_value(false, || {
        // SAFETY: `pending` is NULL or valid, as this function's `# Safety` requires of its caller.
        let Ok(pending) = (unsafe { ref_arg(pending, "pending") }) else {
            return false;
        };
        let abandoned = pending.delivery.abandon();
        if abandoned {
            pending.pending.cancel();
        }
        abandoned
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
