using System;
using System.Runtime.CompilerServices;

namespace Certless
{
    /// <summary>Log levels of <see cref="CertlessLog.SetLogger"/>.</summary>
    public enum CertlessLogLevel
    {
        /// <summary>No messages.</summary>
        Off = 0,
        /// <summary>A token request failed.</summary>
        Error = 1,
        /// <summary>A credential source failed and the next was tried; a token arrived with little life left.</summary>
        Warning = 2,
        /// <summary>Which managed-identity source was chosen and why; a token was acquired.</summary>
        Information = 3,
        /// <summary>Details for troubleshooting.</summary>
        Debug = 4,
        /// <summary>Everything.</summary>
        Trace = 5,
    }

    /// <summary>The native library's log messages (already free of tokens and secrets).</summary>
    public static class CertlessLog
    {
        private static readonly object Gate = new object();
        private static Action<CertlessLogLevel, string> logger;
        // This AppDomain's native subscription (certless_log_subscription *); zero when none.
        private static IntPtr subscription;
        // Kept in a static field: the native side holds a pointer to it while subscribed. Statics are
        // per AppDomain, and so is the thunk the runtime makes for this delegate.
        private static readonly NativeMethods.LogCallback Callback = OnLog;

        /// <summary>
        /// Sends messages up to <paramref name="maxLevel"/> to <paramref name="log"/>, which is called on
        /// a thread certless keeps for this logger, one message at a time, in order, and must not call
        /// <see cref="SetLogger"/>. Null (or <see cref="CertlessLogLevel.Off"/>) turns logging off; once that
        /// returns, every message has been delivered. One logger per AppDomain: each application of an IIS
        /// application pool (each in its AppDomain) may set its own. When the AppDomain unloads (an IIS
        /// recycle) or the process exits, the logger is removed first, so no native thread calls into an
        /// unloaded AppDomain.
        /// </summary>
        public static void SetLogger(Action<CertlessLogLevel, string> log, CertlessLogLevel maxLevel)
        {
            Native.EnsureLoaded();
            DomainLifetime.EnsureHooked();
            lock (Gate)
            {
                bool wanted = log != null && maxLevel != CertlessLogLevel.Off;
                if (wanted && DomainLifetime.IsClosing)
                {
                    throw new InvalidOperationException("certless: this AppDomain is unloading; no logger can be set now.");
                }
                IntPtr old = subscription;
                subscription = IntPtr.Zero;
                if (old != IntPtr.Zero)
                {
                    // Waits until the old logger has been given what was queued for it.
                    Unsubscribe(old);
                }
                logger = log;
                if (!wanted) return;
                subscription = Subscribe(maxLevel);
            }
        }

        // The native calls live in methods of their own, compiled only once the library is loaded (Mono
        // binds a method's P/Invokes when it compiles the method: Native.EnsureLoaded).
        [MethodImpl(MethodImplOptions.NoInlining)]
        private static IntPtr Subscribe(CertlessLogLevel maxLevel)
        {
            IntPtr added = IntPtr.Zero;
            IntPtr error = IntPtr.Zero;
            uint status = NativeMethods.certless_log_subscribe(Callback, IntPtr.Zero, (uint)maxLevel, ref added, ref error);
            Native.ThrowIfFailed(status, error);
            return added;
        }

        [MethodImpl(MethodImplOptions.NoInlining)]
        private static void Unsubscribe(IntPtr old)
        {
            NativeMethods.certless_log_unsubscribe(old);
        }

        /// <summary>Removes this AppDomain's logger (it is unloading, or the process exits).</summary>
        internal static void Detach()
        {
            try
            {
                lock (Gate)
                {
                    if (subscription == IntPtr.Zero) return;
                }
                SetLogger(null, CertlessLogLevel.Off);
            }
            catch (Exception)
            {
                // Unloading anyway.
            }
        }

        private static void OnLog(IntPtr userdata, uint level, IntPtr message)
        {
            try
            {
                Native.MarkBackground();
                Action<CertlessLogLevel, string> log = logger;
                if (log != null)
                {
                    log((CertlessLogLevel)level, Native.ReadUtf8(message));
                }
            }
            catch (Exception)
            {
                // An exception must not unwind into native code; a failing logger loses one line.
            }
        }
    }
}
