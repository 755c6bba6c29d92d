//! The optional log callback: certless's `log` records (already redacted by core) handed to C.

use std::ffi::CString;
use std::ffi::{c_char, c_void};
use std::sync::{Mutex, OnceLock, mpsc};
use std::thread::JoinHandle;

use crate::boundary::{c_string, guard, invalid_argument};
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
/// contain tokens, assertions or secrets. Called on one thread certless keeps for logging, in
/// the order the messages were logged, never concurrently; that thread ends when logging is
/// turned off or the callback replaced. It must not unwind and must not call
/// `certless_log_set_callback`.
pub type certless_log_callback = Option<
    unsafe extern "C" fn(userdata: *mut c_void, level: certless_log_level, message: *const c_char),
>;

/// The registered callback, run on the logging thread.
struct Callback {
    callback: unsafe extern "C" fn(*mut c_void, certless_log_level, *const c_char),
    userdata: *mut c_void,
}

// SAFETY: `certless_log_set_callback` documents that `userdata` is used on certless's logging thread.
unsafe impl Send for Callback {}

/// Where records go: a queue to the logging thread. Records are queued, not delivered inline, so
/// that no thread of the caller's or of the certless runtime ever runs the host's callback (a
/// managed host attaches the threads that call into it, and Mono then waits for them at exit).
struct Sink {
    queue: mpsc::Sender<(certless_log_level, CString)>,
    thread: JoinHandle<()>,
}

static SINK: Mutex<Option<Sink>> = Mutex::new(None);
/// Whether our logger is the `log` crate's logger (set once per process).
static INSTALLED: OnceLock<bool> = OnceLock::new();

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
        let sink = SINK.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(sink) = sink.as_ref() {
            let _ = sink.queue.send((
                record.level() as certless_log_level,
                c_string(&record.args().to_string()),
            ));
        }
    }

    fn flush(&self) {}
}

static LOGGER: CallbackLogger = CallbackLogger;

fn start(callback: Callback) -> Result<Sink, certless::Error> {
    let (queue, records) = mpsc::channel::<(certless_log_level, CString)>();
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
    Ok(Sink { queue, thread })
}

/// Sends certless's log messages up to `max_level` to `callback(userdata, level, message)` (see
/// `certless_log_callback`). One callback per process: a new call replaces the previous one. A
/// NULL `callback` or `CERTLESS_LOG_OFF` turns logging off. Before this returns, the previous
/// callback has been given every message queued for it and its thread has ended, so its
/// `userdata` may be released afterwards. `userdata` must stay valid until then, and is used on
/// the logging thread.
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
        let filter = match max_level {
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
        };
        if !*INSTALLED.get_or_init(|| log::set_logger(&LOGGER).is_ok()) {
            return Err(certless::Error::new(
                certless::ErrorCode::Internal,
                "another Rust logger is already installed in this process",
            ));
        }
        let previous = SINK.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(previous) = previous {
            // Closing the queue ends the thread once it has delivered what was queued.
            drop(previous.queue);
            let _ = previous.thread.join();
        }
        let wanted = callback.filter(|_| filter != log::LevelFilter::Off);
        log::set_max_level(if wanted.is_some() {
            filter
        } else {
            log::LevelFilter::Off
        });
        if let Some(callback) = wanted {
            let sink = start(Callback { callback, userdata })?;
            *SINK.lock().unwrap_or_else(|e| e.into_inner()) = Some(sink);
        }
        Ok(CERTLESS_OK)
    })
}
