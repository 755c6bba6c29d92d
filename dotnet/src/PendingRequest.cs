using System;
using System.Runtime.InteropServices;
using System.Threading;
using System.Threading.Tasks;

namespace Certless
{
    /// <summary>One <see cref="CertlessCredential.GetTokenAsync(string[], CancellationToken)"/> request waiting for its native completion callback.</summary>
    internal sealed class PendingRequest
    {
        // One delegate for every request, in a static field: it is never collected, so the native
        // side can always call it. Each request's state travels as a GCHandle in `userdata`, which
        // keeps the state alive until the callback has run exactly once.
        private static readonly NativeMethods.TokenCallback Callback = OnCompleted;

        private readonly TaskCompletionSource<CertlessToken> completion = new TaskCompletionSource<CertlessToken>();
        private readonly CancellationToken cancellationToken;
        private readonly object gate = new object();
        private PendingHandle pending;
        // Keeps this request alive for the native callback (its userdata) until it runs or is abandoned.
        private GCHandle selfHandle;
        private CancellationTokenRegistration registration;
        private bool registered;
        private bool completed;

        private PendingRequest(CancellationToken cancellationToken)
        {
            this.cancellationToken = cancellationToken;
        }

        /// <summary>
        /// Starts a request; null when this AppDomain is unloading (nothing started: the caller asks the
        /// native library synchronously instead, which calls nothing back).
        /// </summary>
        internal static Task<CertlessToken> Start(CredentialHandle credential, string[] scopes, TokenOptionsHandle options,
            CancellationToken cancellationToken)
        {
            DomainLifetime.EnsureHooked();
            var request = new PendingRequest(cancellationToken);
            bool open;
            using (var list = new Utf8List(scopes))
            {
                open = DomainLifetime.Track(request, () => request.StartNative(credential, list, options));
            }
            if (!open) return null;
            if (cancellationToken.CanBeCanceled)
            {
                CancellationTokenRegistration r = cancellationToken.Register(s => ((PendingRequest)s).Cancel(), request);
                bool dispose;
                lock (request.gate)
                {
                    dispose = request.completed;
                    request.registration = r;
                    request.registered = true;
                }
                if (dispose)
                {
                    r.Dispose();
                }
            }
            return request.completion.Task;
        }

        // The native start; true when the request is still running when it returns (then tracked, for
        // Abandon), false when its callback already ran (a fast answer). Throws when nothing started.
        private bool StartNative(CredentialHandle credential, Utf8List list, TokenOptionsHandle options)
        {
            GCHandle self = GCHandle.Alloc(this);
            IntPtr native = IntPtr.Zero;
            IntPtr error = IntPtr.Zero;
            uint status;
            try
            {
                status = NativeMethods.certless_credential_get_token_async(credential, list.Pointers, list.Length,
                    Native.OrNull(options), Callback, GCHandle.ToIntPtr(self), ref native, ref error);
            }
            catch
            {
                self.Free();
                throw;
            }
            if (status != Native.Ok)
            {
                self.Free(); // nothing started: the callback will never run
                Native.ThrowIfFailed(status, error);
            }
            var pendingHandle = new PendingHandle(native);
            lock (gate)
            {
                if (completed)
                {
                    pendingHandle.Dispose();
                    return false;
                }
                pending = pendingHandle;
                selfHandle = self;
                return true;
            }
        }

        /// <summary>
        /// The AppDomain is unloading: makes sure the native library never calls this request back (waiting for
        /// a completion already running on another thread), and ends the task with a cancellation error.
        /// </summary>
        internal void Abandon()
        {
            PendingHandle handle;
            lock (gate)
            {
                if (completed) return;
                handle = pending;
            }
            bool abandoned;
            try
            {
                abandoned = handle != null && NativeMethods.certless_pending_abandon(handle);
            }
            catch (Exception)
            {
                return;
            }
            if (!abandoned) return; // the completion ran (or runs no more): it finished the task
            GCHandle self;
            lock (gate)
            {
                completed = true;
                pending = null;
                self = selfHandle;
            }
            if (self.IsAllocated) self.Free();
            handle.Dispose();
            // Ended here, on the unloading thread: work queued to the thread pool of an AppDomain being
            // unloaded may never run, and a thread waiting in GetToken must wake up now.
            Finish(null, new CertlessException(
                "certless: the token request was abandoned because its AppDomain is unloading (an IIS recycle or " +
                "redeployment, or the process is exiting); a request in the new AppDomain gets a token as usual.",
                Native.Cancelled, "caller", "the token request's AppDomain is unloading", null, null, new int[0], null,
                null, null, null, new CertlessException[0], false), true);
        }

        private void Cancel()
        {
            try
            {
                lock (gate)
                {
                    if (!completed && pending != null)
                    {
                        NativeMethods.certless_pending_cancel(pending);
                    }
                }
            }
            catch (Exception)
            {
                // Cancellation callbacks must not throw; the request then completes on its own.
            }
        }

        // Runs on a short-lived thread certless creates for this completion (so Mono, which waits at
        // exit for every native thread that entered managed code, sees it end). Nothing may throw
        // out of here into native code.
        private static void OnCompleted(IntPtr userdata, IntPtr token, IntPtr error)
        {
            Native.MarkBackground();
            CertlessToken result = null;
            Exception failure = null;
            try
            {
                if (token != IntPtr.Zero)
                {
                    result = Native.TakeToken(token);
                }
                else
                {
                    failure = Native.TakeError(error);
                }
            }
            catch (Exception e)
            {
                failure = e;
            }
            try
            {
                GCHandle self = GCHandle.FromIntPtr(userdata);
                var request = (PendingRequest)self.Target;
                self.Free();
                request.Complete(result, failure);
            }
            catch (Exception)
            {
                // Only a broken userdata could get here; there is no task left to report to.
            }
        }

        private void Complete(CertlessToken result, Exception failure)
        {
            PendingHandle handle;
            lock (gate)
            {
                completed = true;
                handle = pending;
                pending = null;
            }
            DomainLifetime.Untrack(this);
            if (handle != null)
            {
                handle.Dispose();
            }
            Finish(result, failure, false);
        }

        private void Finish(CertlessToken result, Exception failure, bool inline)
        {
            bool unregister;
            lock (gate)
            {
                unregister = registered;
            }
            if (unregister)
            {
                registration.Dispose();
            }
            var certless = failure as CertlessException;
            bool cancelled = certless != null && certless.Code == Native.Cancelled && cancellationToken.IsCancellationRequested;
            WaitCallback end = _ =>
            {
                if (cancelled)
                {
                    completion.TrySetCanceled();
                }
                else if (failure != null)
                {
                    completion.TrySetException(failure);
                }
                else
                {
                    completion.TrySetResult(result);
                }
            };
            if (inline)
            {
                end(null);
            }
            else
            {
                // Continuations run on the thread pool, never on the native callback thread.
                ThreadPool.QueueUserWorkItem(end);
            }
        }
    }
}
