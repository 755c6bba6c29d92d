//! The one async runtime certless runs on when the host has none: C, .NET, Python's sync API.
//! Created lazily; after `fork()` the child gets a new one (the parent's worker threads do not
//! exist there). Bindings call [`Credential::get_token_blocking`](crate::Credential::get_token_blocking)
//! or [`Credential::get_token_callback`](crate::Credential::get_token_callback) and never see it.
//!
//! Every request of such a host runs on the runtime's own threads, never on a thread of the
//! host, and those threads block SIGPIPE: a connection reset by the server must not kill a
//! process that kept SIGPIPE's default disposition, as every C program does.

use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::runtime::{Handle, Runtime};

use crate::error::{Error, Result};

static RUNTIME: Mutex<Option<(u32, Arc<Runtime>)>> = Mutex::new(None);

/// The process's certless runtime (two worker threads: token work is I/O-bound; SIGPIPE
/// blocked on every thread it starts).
pub fn handle() -> Result<Handle> {
    let pid = std::process::id();
    let mut slot = RUNTIME.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((owner, rt)) = slot.as_ref() {
        if *owner == pid {
            return Ok(rt.handle().clone());
        }
        // Forked: the parent's runtime is unusable here and must not be dropped (dropping joins
        // threads that do not exist in this process), so it is leaked.
        if let Some((_, old)) = slot.take() {
            std::mem::forget(old);
        }
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("certless-worker")
        .on_thread_start(block_sigpipe)
        .enable_all()
        .build()
        .map_err(|e| Error::internal(format!("cannot start the certless runtime: {e}")))?;
    let rt = Arc::new(rt);
    let handle = rt.handle().clone();
    *slot = Some((pid, rt));
    Ok(handle)
}

/// Runs `future` to completion on the certless runtime and waits for it. The future runs on a
/// runtime thread, not the caller's, so none of its socket writes can raise SIGPIPE in the
/// host. Safe to call from a thread that is itself inside a tokio runtime (it waits there).
pub fn block_on<T: Send + 'static>(future: impl Future<Output = T> + Send + 'static) -> Result<T> {
    let handle = handle()?;
    let (done, result) = std::sync::mpsc::sync_channel(1);
    handle.spawn(async move {
        let _ = done.send(future.await);
    });
    // The sender is dropped unsent only when the task panicked.
    result
        .recv()
        .map_err(|_| Error::internal("a certless task panicked"))
}

/// Blocks SIGPIPE on the calling thread. After a server resets a TLS connection, the client
/// still writes its close alert to the socket, with `writev`, which (unlike `send` with
/// MSG_NOSIGNAL) raises SIGPIPE. Blocked, the signal stays pending on this thread and the write
/// fails with EPIPE, which the request turns into a retry.
#[cfg(unix)]
fn block_sigpipe() {
    // SAFETY: the set is a local that sigemptyset initialises; pthread_sigmask changes only the
    // calling thread's mask and its previous mask is not asked for.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGPIPE);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

/// Windows has no SIGPIPE: a write to a reset socket only fails.
#[cfg(not(unix))]
fn block_sigpipe() {}

#[cfg(all(test, unix))]
mod tests {
    /// Whether SIGPIPE is blocked on the calling thread.
    fn sigpipe_blocked() -> bool {
        // SAFETY: a null new set only reads the calling thread's mask into the local `set`.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), &mut set);
            libc::sigismember(&set, libc::SIGPIPE) == 1
        }
    }

    fn where_it_runs() -> (std::thread::ThreadId, bool) {
        super::block_on(async { (std::thread::current().id(), sigpipe_blocked()) }).expect("runs")
    }

    #[test]
    fn block_on_runs_on_a_certless_thread_with_sigpipe_blocked() {
        let (thread, blocked) = where_it_runs();
        assert_ne!(thread, std::thread::current().id());
        assert!(blocked);
        assert!(!sigpipe_blocked(), "the caller's mask is left alone");
    }

    #[test]
    fn block_on_from_inside_another_runtime_too() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let caller = std::thread::current().id();
        let (thread, blocked) = rt.block_on(async { where_it_runs() });
        assert_ne!(thread, caller);
        assert!(blocked);
    }
}
