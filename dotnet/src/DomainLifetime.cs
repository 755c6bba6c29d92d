using System;
using System.Collections.Generic;
using System.Threading;

namespace Certless
{
    /// <summary>
    /// The life of this AppDomain as certless sees it. Native threads call into managed code in two places:
    /// the completion of a <see cref="CertlessCredential.GetTokenAsync(string[], CancellationToken)"/> and the
    /// logger. Both enter the AppDomain that registered them, through a thunk that belongs to it. When the
    /// AppDomain unloads (IIS recycles an application on every deployment to bin\ and every Web.config edit,
    /// inside the same w3wp.exe, with the native library still loaded) or the process exits, this abandons every
    /// request the AppDomain still has running (the native library then never calls their completion) and removes
    /// its logger, before the runtime tears the AppDomain down. What the native side keeps (its runtime threads)
    /// never runs managed code, so a new AppDomain uses the loaded library as the first one did.
    /// </summary>
    internal static class DomainLifetime
    {
        private static readonly object Gate = new object();
        private static readonly HashSet<PendingRequest> Running = new HashSet<PendingRequest>();
        private static bool hooked;
        private static bool closing;

        /// <summary>True once the AppDomain has begun to unload (or the process to exit).</summary>
        internal static bool IsClosing
        {
            get { return Volatile.Read(ref closing); }
        }

        internal static void EnsureHooked()
        {
            if (Volatile.Read(ref hooked)) return;
            lock (Gate)
            {
                if (hooked) return;
                // .NET Framework raises DomainUnload in every AppDomain but the default one, and ProcessExit
                // there; Mono raises both; modern .NET has one AppDomain and raises ProcessExit.
                AppDomain.CurrentDomain.DomainUnload += OnUnload;
                AppDomain.CurrentDomain.ProcessExit += OnUnload;
                Volatile.Write(ref hooked, true);
            }
        }

        /// <summary>
        /// Starts a native request with <paramref name="start"/> and tracks it until it completes, atomically with
        /// respect to <see cref="Close"/>: a request is either abandoned by it or not started. False when the
        /// AppDomain is closing (nothing was started).
        /// </summary>
        internal static bool Track(PendingRequest request, Func<bool> start)
        {
            lock (Gate)
            {
                if (closing) return false;
                if (start()) Running.Add(request);
                return true;
            }
        }

        internal static void Untrack(PendingRequest request)
        {
            lock (Gate)
            {
                Running.Remove(request);
            }
        }

        private static void OnUnload(object sender, EventArgs e)
        {
            Close();
        }

        /// <summary>Abandons every running request and removes the logger. Idempotent.</summary>
        internal static void Close()
        {
            PendingRequest[] running;
            lock (Gate)
            {
                if (closing) return;
                Volatile.Write(ref closing, true);
                running = new PendingRequest[Running.Count];
                Running.CopyTo(running);
                Running.Clear();
            }
            // Outside the lock: abandoning waits for a completion running on another thread, which
            // untracks itself under the lock.
            foreach (PendingRequest request in running)
            {
                request.Abandon();
            }
            CertlessLog.Detach();
        }
    }
}
