using System;
using System.Runtime.CompilerServices;
using System.Threading;

namespace Certless
{
    /// <summary>
    /// OpenTelemetry metrics and spans of token requests, exported over OTLP/HTTP by the native library when the
    /// standard <c>OTEL_EXPORTER_OTLP_*</c> environment variables ask for it (off by default; docs/telemetry.md).
    /// The library names this host <c>dotnet</c> when it is loaded, and flushes when the process exits.
    /// </summary>
    public static class CertlessTelemetry
    {
        // The process's exit waits this long for the collector: an unreachable one must not hold it up.
        private const uint FlushAtExitMs = 2000;
        private static readonly TimeSpan LongestTimeout = TimeSpan.FromHours(1);
        private static int exitHooked;

        /// <summary>
        /// Sends the metrics and spans recorded so far to the collector, blocking for at most
        /// <paramref name="timeout"/> (zero to one hour). True when everything was sent, or when there was nothing
        /// to send (telemetry off). The process's exit flushes too (for at most 2 s); call this to send sooner, or
        /// from <c>Application_End</c> in IIS, where .NET Framework raises <c>ProcessExit</c> only in the default
        /// AppDomain. Telemetry belongs to the process, not to an AppDomain: an AppDomain's unload (an IIS
        /// recycle) does not flush.
        /// </summary>
        public static bool Flush(TimeSpan timeout)
        {
            if (timeout < TimeSpan.Zero || timeout > LongestTimeout)
            {
                throw new ArgumentOutOfRangeException("timeout", "from zero to one hour");
            }
            Native.EnsureLoaded();
            return FlushNative((uint)Math.Ceiling(timeout.TotalMilliseconds));
        }

        /// <summary>
        /// Called by <see cref="Native.EnsureLoaded"/> in every AppDomain once the library answers: names the host
        /// (again, the same name, after a recycle) and hooks the flush at the process's exit.
        /// </summary>
        internal static void OnLibraryLoaded()
        {
            NameHost();
            if (Interlocked.Exchange(ref exitHooked, 1) == 0)
            {
                AppDomain.CurrentDomain.ProcessExit += OnProcessExit;
            }
        }

        private static void OnProcessExit(object sender, EventArgs e)
        {
            FlushNative(FlushAtExitMs);
        }

        // The P/Invokes live in methods of their own (Mono binds them when it compiles the caller: Native.EnsureLoaded).
        [MethodImpl(MethodImplOptions.NoInlining)]
        private static void NameHost()
        {
            IntPtr error = IntPtr.Zero;
            Native.ThrowIfFailed(NativeMethods.certless_telemetry_set_host(Native.Utf8("dotnet"), ref error), error);
        }

        [MethodImpl(MethodImplOptions.NoInlining)]
        private static bool FlushNative(uint timeoutMs)
        {
            return NativeMethods.certless_telemetry_flush(timeoutMs);
        }
    }
}
