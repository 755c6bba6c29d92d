//! The optional log callback: certless's `log` records (already redacted by core) handed to C.

use std::ffi::CString;
use std::ffi::{c_char, c_void};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, mpsc};
use std::thread::JoinHandle;

use crate::boundary::{Out, c_string, guard, guard_value, invalid_argument};
use crate::error::{CERTLESS_OK, certless_error, certless_status};

/// A log level: `CERTLESS_LOG_ERROR` (1) .. `CERTLESS_LOG_TRACE` (5); `CERTLESS_LOG_OFF` (0).
pub type certless_log_level = u32;
/// No logging.
pub const CERTLESS_LOG_OFF: certless_log_level = 0;
/// A token request failed.
pub const CERTLESS_LOG_ERROR: certless_log_level = 1;
/// Something worth a look: a credential source failed and the next one was tried, a token
/// arrived with little life left, a retry.
pub const CERTLESS_LOG_WARN: certless_log_level = 2;
/// Which managed-identity source was chosen and why; a token was acquired.
pub const CERTLESS_LOG_INFO: certless_log_level = 3;
/// Details for troubleshooting.
pub const CERTLESS_LOG_DEBUG: certless_log_level = 4;
/// Everything.
pub const CERTLESS_LOG_TRACE: certless_log_level = 5;

/// Receives one log message: `level` is one of the `CERTLESS_LOG_*` levels, `message` a
/// NUL-terminated UTF-8 string valid only during the call (copy it to keep it). Messages never
/// contain tokens, assertions or secrets. Called on one thread certless keeps for each
/// subscription, in the order the messages were logged, never concurrently; that thread ends when
/// the subscription ends (logging turned off or the callback replaced, or
/// `certless_log_unsubscribe`). It must not unwind and must not call `certless_log_set_callback`,
/// `certless_log_subscribe` or `certless_log_unsubscribe`.
pub type certless_log_callback = Option<
    unsafe extern "C" fn(userdata: *mut c_void, level: certless_log_level, message: *const c_char),
>;

/// A registered callback, run on its subscription's logging thread.
struct Callback {
    callback: unsafe extern "C" fn(*mut c_void, certless_log_level, *const c_char),
    userdata: *mut c_void,
}

// SAFETY: `certless_log_subscribe` documents that `userdata` is used on certless's logging thread.
unsafe impl Send for Callback {}

/// A log subscription: the messages up to `max_level`, delivered in order on a thread of its
/// own, until `certless_log_unsubscribe`. Several may exist at once (one per AppDomain of an
/// ASP.NET application pool, say); each gets every message within its level.
pub struct certless_log_subscription {
    id: u64,
}

/// One subscriber's queue to its logging thread. Records are queued, not delivered inline, so
/// that no thread of the caller's or of the certless runtime ever runs the host's callback (a
/// managed host attaches the threads that call into it, and Mono then waits for them at exit and
/// at an AppDomain's unload).
struct Sink {
    id: u64,
    level: log::LevelFilter,
    queue: mpsc::Sender<(certless_log_level, Arc<CString>)>,
    thread: JoinHandle<()>,
}

/// Every live subscription, and the one `certless_log_set_callback` manages.
struct Sinks {
    all: Vec<Sink>,
    next_id: u64,
    default_id: Option<u64>,
}

static SINKS: Mutex<Sinks> = Mutex::new(Sinks {
    all: Vec::new(),
    next_id: 1,
    default_id: None,
});
/// Whether our logger is the `log` crate's logger (set once per process).
static INSTALLED: OnceLock<bool> = OnceLock::new();

fn sinks() -> MutexGuard<'static, Sinks> {
    SINKS.lock().unwrap_or_else(|e| e.into_inner())
}

struct CallbackLogger;

impl log::Log for CallbackLogger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        // Only certless's own records: dependencies log at their own discretion and wording.
        metadata.target().starts_with("certless")
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let sinks = sinks();
        let mut message = None;
        for sink in sinks.all.iter().filter(|s| record.level() <= s.level) {
            let message = message
                .get_or_insert_with(|| Arc::new(c_string(&record.args().to_string())))
                .clone();
            let _ = sink
                .queue
                .send((record.level() as certless_log_level, message));
        }
    }

    fn flush(&self) {}
}

static LOGGER: CallbackLogger = CallbackLogger;

/// The `log` filter of a C level; an error for a level above `CERTLESS_LOG_TRACE`.
fn level_filter(max_level: certless_log_level) -> Result<log::LevelFilter, certless::Error> {
    Ok(match max_level {
        CERTLESS_LOG_OFF => log::LevelFilter::Off,
        CERTLESS_LOG_ERROR => log::LevelFilter::Error,
        CERTLESS_LOG_WARN => log::LevelFilter::Warn,
        CERTLESS_LOG_INFO => log::LevelFilter::Info,
        CERTLESS_LOG_DEBUG => log::LevelFilter::Debug,
        CERTLESS_LOG_TRACE => log::LevelFilter::Trace,
        other => {
            return Err(invalid_argument(format!(
                "argument `max_level` is {other}; use CERTLESS_LOG_OFF (0) .. CERTLESS_LOG_TRACE (5)"
            )));
        }
    })
}

fn install() -> Result<(), certless::Error> {
    if *INSTALLED.get_or_init(|| log::set_logger(&LOGGER).is_ok()) {
        Ok(())
    } else {
        Err(certless::Error::new(
            certless::ErrorCode::Internal,
            "another Rust logger is already installed in this process",
        ))
    }
}

/// Adds a subscriber and returns its id.
fn subscribe(callback: Callback, level: log::LevelFilter) -> Result<u64, certless::Error> {
    let (queue, records) = mpsc::channel::<(certless_log_level, Arc<CString>)>();
    let thread = std::thread::Builder::new()
        .name("certless-log".into())
        .spawn(move || {
            let callback = callback;
            for (level, message) in records {
                // SAFETY: a callback the caller registered with this signature.
                unsafe { (callback.callback)(callback.userdata, level, message.as_ptr()) }
            }
        })
        .map_err(|e| {
            certless::Error::new(
                certless::ErrorCode::Internal,
                format!("cannot start the logging thread: {e}"),
            )
        })?;
    let mut sinks = sinks();
    let id = sinks.next_id;
    sinks.next_id += 1;
    sinks.all.push(Sink {
        id,
        level,
        queue,
        thread,
    });
    set_max_level(&sinks);
    Ok(id)
}

/// Removes a subscriber; returns once its thread has delivered what was queued and ended.
fn unsubscribe(id: u64) {
    let removed = {
        let mut sinks = sinks();
        let removed = sinks
            .all
            .iter()
            .position(|s| s.id == id)
            .map(|i| sinks.all.remove(i));
        if sinks.default_id == Some(id) {
            sinks.default_id = None;
        }
        set_max_level(&sinks);
        removed
    };
    if let Some(sink) = removed {
        // Closing the queue ends the thread once it has delivered what was queued. Joined outside
        // the lock: the thread's callback may log, and logging takes the lock.
        drop(sink.queue);
        if sink.thread.thread().id() != std::thread::current().id() {
            let _ = sink.thread.join();
        }
    }
}

/// The `log` crate's global level: the most detailed any subscriber wants, so that a record no
/// one wants costs one comparison.
fn set_max_level(sinks: &Sinks) {
    let level = sinks
        .all
        .iter()
        .map(|s| s.level)
        .max()
        .unwrap_or(log::LevelFilter::Off);
    log::set_max_level(level);
}

/// Sends certless's log messages up to `max_level` to `callback(userdata, level, message)` (see
/// `certless_log_callback`). This manages one process-wide subscription: a new call replaces the
/// previous one, and a NULL `callback` or `CERTLESS_LOG_OFF` removes it. Before this returns, the
/// previous callback has been given every message queued for it and its thread has ended, so its
/// `userdata` may be released afterwards. `userdata` must stay valid until then, and is used on
/// the logging thread. Subscriptions made with `certless_log_subscribe` are not affected.
///
/// Returns `CERTLESS_OK`, or `CERTLESS_INVALID_ARGUMENT` for a level above `CERTLESS_LOG_TRACE`
/// (nothing changes then; `*error_out` as usual), or `CERTLESS_INTERNAL` if another logger of
/// the same Rust `log` instance was installed first (only possible when certless is linked
/// statically into a Rust program that sets its own). Thread-safe; must not be called from
/// within the log callback (it waits for the logging thread, which would be itself).
///
/// # Safety
/// `callback` is NULL or a function with this signature; `error_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certless_log_set_callback(
    callback: certless_log_callback,
    userdata: *mut c_void,
    max_level: certless_log_level,
    error_out: *mut *mut certless_error,
) -> certless_status {
    guard(error_out, || {
        let filter = level_filter(max_level)?;
        install()?;
        let previous = sinks().default_id;
        if let Some(previous) = previous {
            unsubscribe(previous);
        }
        if let Some(callback) = callback.filter(|_| filter != log::LevelFilter::Off) {
            let id = subscribe(Callback { callback, userdata }, filter)?;
            sinks().default_id = Some(id);
        }
        Ok(CERTLESS_OK)
    })
}

/// Adds a log subscriber: certless's messages up to `max_level` go to `callback(userdata, level,
/// message)` (see `certless_log_callback`) on a thread of this subscription's, until
/// `certless_log_unsubscribe`. Any number may exist at once, each with its own level, beside the
/// one `certless_log_set_callback` manages: code that can be unloaded while the process lives on
/// (an ASP.NET AppDomain, a plugin) subscribes for itself and unsubscribes before it goes.
///
/// On `CERTLESS_OK`, `*subscription_out` receives the subscription, which the caller owns.
/// `CERTLESS_INVALID_ARGUMENT` for a NULL `callback` or `subscription_out`, or a level of
/// `CERTLESS_LOG_OFF` or above `CERTLESS_LOG_TRACE`; `CERTLESS_INTERNAL` as for
/// `certless_log_set_callback`. Thread-safe.
///
/// # Safety
/// `callback` is NULL or a function with this signature; the out pointers are NULL or writable;
/// `userdata` stays valid until `certless_log_unsubscribe` has returned.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certless_log_subscribe(
    callback: certless_log_callback,
    userdata: *mut c_void,
    max_level: certless_log_level,
    subscription_out: *mut *mut certless_log_subscription,
    error_out: *mut *mut certless_error,
) -> certless_status {
    guard(error_out, || {
        let filter = level_filter(max_level)?;
        if filter == log::LevelFilter::Off {
            return Err(invalid_argument(
                "argument `max_level` is CERTLESS_LOG_OFF; subscribe with the most detailed level \
                 wanted (CERTLESS_LOG_ERROR .. CERTLESS_LOG_TRACE)",
            ));
        }
        let callback = callback.ok_or_else(|| invalid_argument("argument `callback` is NULL"))?;
        let out = Out::new(subscription_out, "subscription_out")?;
        install()?;
        let id = subscribe(Callback { callback, userdata }, filter)?;
        out.write(certless_log_subscription { id });
        Ok(CERTLESS_OK)
    })
}

/// Ends a subscription and frees it: when this returns, its callback has been given every message
/// queued for it and will never be called again, and its thread has ended, so `userdata` may be
/// released. NULL does nothing. Thread-safe; must not be called from within the subscription's own
/// callback (it then returns at once, and the thread ends after the callback returns).
///
/// # Safety
/// `subscription` is NULL or a subscription from `certless_log_subscribe`, not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certless_log_unsubscribe(subscription: *mut certless_log_subscription) {
    if !subscription.is_null() {
        guard_value((), || {
            // SAFETY: the caller hands back ownership of a `Box` we created.
            let subscription = unsafe { Box::from_raw(subscription) };
            unsubscribe(subscription.id);
        });
    }
}
