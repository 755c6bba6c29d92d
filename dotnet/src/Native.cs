using System;
using System.Collections.Generic;
using System.IO;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using System.Threading;

namespace Certless
{
    /// <summary>Loading the native library, strings, and copying native objects into managed ones.</summary>
    internal static class Native
    {
        internal const uint Ok = 0;
        internal const uint NotCached = 1;
        internal const int Cancelled = 500;

        private static readonly object Gate = new object();
        private static bool loaded;

        /// <summary>
        /// On Windows, loads <c>x64\certless.dll</c> or <c>x86\certless.dll</c> according to the process's
        /// bitness before the first call, so that <c>[DllImport("certless")]</c> binds to it (Windows
        /// reuses a loaded module of the same name). Searched: <c>CERTLESS_LIBRARY_PATH</c>, then the
        /// application base directory and its private bin path (ASP.NET's <c>bin</c>). When none is
        /// found, the normal DLL search applies (a <c>certless.dll</c> beside the application).
        /// On Linux, loads <c>libcertless.so</c> from the same places (an ASP.NET application on Mono runs from a
        /// shadow copy, where P/Invoke does not find bin's library); otherwise the platform's normal search applies.
        /// Mono binds a method's P/Invokes when it compiles the method, so a method that calls this must call the
        /// library only through other methods (NoInlining). Then one call proves the library answers: a
        /// library that is missing, of the other bitness or older than this file throws the runtime's
        /// own exception type, with a message that says where certless looked and how to fix it.
        /// </summary>
        internal static void EnsureLoaded()
        {
            if (loaded) return;
            lock (Gate)
            {
                if (loaded) return;
                var looked = new List<string>();
                if (Environment.OSVersion.Platform == PlatformID.Win32NT)
                {
                    foreach (string candidate in WindowsCandidates())
                    {
                        if (!File.Exists(candidate))
                        {
                            looked.Add(candidate + " (not there)");
                        }
                        else if (LoadLibraryW(candidate) != IntPtr.Zero)
                        {
                            break;
                        }
                        else
                        {
                            looked.Add(string.Format("{0} (LoadLibrary failed: Win32 error {1})", candidate, Marshal.GetLastWin32Error()));
                        }
                    }
                }
                else
                {
                    foreach (string candidate in UnixCandidates())
                    {
                        if (!File.Exists(candidate))
                        {
                            looked.Add(candidate + " (not there)");
                            continue;
                        }
                        string failure = DlOpen(candidate);
                        if (failure == null) break;
                        looked.Add(string.Format("{0} ({1})", candidate, failure));
                    }
                }
                Probe(looked);
                CertlessTelemetry.OnLibraryLoaded();
                loaded = true;
            }
        }

        // The first call into the library, turned into an exception that says what to do when it fails.
        private static void Probe(List<string> looked)
        {
            string where = looked.Count == 0 ? "" : " Looked for: " + string.Join("; ", looked.ToArray()) + ".";
            string bitness = Environment.Is64BitProcess ? "64-bit" : "32-bit";
            try
            {
                NativeMethods.certless_version();
            }
            catch (DllNotFoundException e)
            {
                throw new DllNotFoundException(
                    "certless: the native library (certless.dll, libcertless.so) could not be loaded." + where + " " + Fix(bitness), e);
            }
            catch (BadImageFormatException e)
            {
                throw new BadImageFormatException(
                    "certless: the native library found is not for this " + bitness + " process." + where + " " + Fix(bitness), e);
            }
            catch (EntryPointNotFoundException e)
            {
                throw new EntryPointNotFoundException(
                    "certless: the native library found is older than this Certless.dll (it lacks certless_version); " +
                    "deploy the native library of the same package version.", e);
            }
        }

        private static string Fix(string bitness)
        {
            if (Environment.OSVersion.Platform == PlatformID.Win32NT)
            {
                return "The NuGet package Certless copies runtimes\\win-x64\\native\\certless.dll to bin\\x64 and " +
                    "runtimes\\win-x86\\native\\certless.dll to bin\\x86 when the project builds: rebuild, make sure both " +
                    "folders are deployed with the application, or set CERTLESS_LIBRARY_PATH to the DLL's full path. This " +
                    "process is " + bitness + " (an IIS application pool with 'Enable 32-Bit Applications' is 32-bit and needs " +
                    "the x86 DLL).";
            }
            return "Put libcertless.so (runtimes/linux-x64/native in the NuGet package, native/linux-x64 in a release) " +
                "beside the application (bin/ for an ASP.NET application), in a directory on LD_LIBRARY_PATH, or set " +
                "CERTLESS_LIBRARY_PATH to its full path. This process is " + bitness + ".";
        }

        private static IEnumerable<string> WindowsCandidates()
        {
            string explicitPath = Environment.GetEnvironmentVariable("CERTLESS_LIBRARY_PATH");
            if (!string.IsNullOrEmpty(explicitPath))
            {
                yield return explicitPath;
            }
            string arch = Environment.Is64BitProcess ? "x64" : "x86";
            foreach (string dir in ApplicationDirectories())
            {
                yield return Path.Combine(Path.Combine(dir, arch), "certless.dll");
            }
        }

        // Linux: libcertless.so in the application's directories. An ASP.NET application on Mono runs its
        // assemblies from a shadow copy, where P/Invoke looks, not from bin/ where the package put the
        // library. Once loaded from a full path, the library answers P/Invoke's dlopen("libcertless.so")
        // itself (it names itself so: ffi-c/build.rs).
        private static IEnumerable<string> UnixCandidates()
        {
            string explicitPath = Environment.GetEnvironmentVariable("CERTLESS_LIBRARY_PATH");
            if (!string.IsNullOrEmpty(explicitPath))
            {
                yield return explicitPath;
            }
            foreach (string dir in ApplicationDirectories())
            {
                yield return Path.Combine(dir, "libcertless.so");
            }
        }

        // The application's private bin paths (ASP.NET's bin), then its base directory.
        private static List<string> ApplicationDirectories()
        {
            var dirs = new List<string>();
            string baseDir = AppDomain.CurrentDomain.BaseDirectory;
            if (string.IsNullOrEmpty(baseDir)) return dirs;
            string privateBin = AppDomain.CurrentDomain.RelativeSearchPath;
            if (!string.IsNullOrEmpty(privateBin))
            {
                foreach (string p in privateBin.Split(';'))
                {
                    if (p.Length > 0) dirs.Add(Path.Combine(baseDir, p));
                }
            }
            dirs.Add(baseDir);
            return dirs;
        }

        // dlopen(path, RTLD_NOW | RTLD_GLOBAL); null on success, else why not. glibc before 2.34 has dlopen in
        // libdl.so.2 only, later ones in libc.so.6 too; elsewhere (macOS) neither is found and the platform's
        // own search applies.
        private static string DlOpen(string path)
        {
            const int RtldNowGlobal = 0x2 | 0x100;
            try
            {
                try
                {
                    return dlopen_libdl(path, RtldNowGlobal) != IntPtr.Zero ? null : "dlopen failed: " + Marshal.PtrToStringAnsi(dlerror_libdl());
                }
                catch (DllNotFoundException)
                {
                    return dlopen_libc(path, RtldNowGlobal) != IntPtr.Zero ? null : "dlopen failed: " + Marshal.PtrToStringAnsi(dlerror_libc());
                }
            }
            catch (Exception e)
            {
                return "dlopen unavailable: " + e.GetType().Name;
            }
        }

        [DllImport("libdl.so.2", EntryPoint = "dlopen", CharSet = CharSet.Ansi, BestFitMapping = false)]
        private static extern IntPtr dlopen_libdl(string path, int flags);

        [DllImport("libdl.so.2", EntryPoint = "dlerror")]
        private static extern IntPtr dlerror_libdl();

        [DllImport("libc.so.6", EntryPoint = "dlopen", CharSet = CharSet.Ansi, BestFitMapping = false)]
        private static extern IntPtr dlopen_libc(string path, int flags);

        [DllImport("libc.so.6", EntryPoint = "dlerror")]
        private static extern IntPtr dlerror_libc();

        [MethodImpl(MethodImplOptions.NoInlining)]
        internal static string Version()
        {
            return ReadUtf8(NativeMethods.certless_version());
        }

        /// <summary>
        /// Called first in every native callback: the native thread running it is now known to
        /// the runtime, and must not keep the process alive. .NET Framework and .NET mark such threads
        /// as background; Mono does not, and then waits for them forever when Main returns.
        /// </summary>
        internal static void MarkBackground()
        {
            try
            {
                Thread current = Thread.CurrentThread;
                if (!current.IsBackground) current.IsBackground = true;
            }
            catch (Exception)
            {
                // Never let this escape into native code.
            }
        }

        [DllImport("kernel32", CharSet = CharSet.Unicode, SetLastError = true)]
        private static extern IntPtr LoadLibraryW(string path);

        internal static byte[] Utf8(string s)
        {
            byte[] bytes = new byte[Encoding.UTF8.GetByteCount(s) + 1];
            Encoding.UTF8.GetBytes(s, 0, s.Length, bytes, 0);
            return bytes;
        }

        internal static string ReadUtf8(IntPtr p)
        {
            if (p == IntPtr.Zero) return null;
            int length = 0;
            while (Marshal.ReadByte(p, length) != 0) length++;
            byte[] bytes = new byte[length];
            Marshal.Copy(p, bytes, 0, length);
            return Encoding.UTF8.GetString(bytes);
        }

        internal static void ThrowIfFailed(uint status, IntPtr error)
        {
            if (status == Ok)
            {
                return;
            }
            if (error == IntPtr.Zero)
            {
                throw new CertlessException("certless failed with code " + status, (int)status, "internal", null, null, null,
                    new int[0], null, null, null, null, new CertlessException[0], false);
            }
            throw TakeError(error);
        }

        /// <summary>Copies and frees a native token.</summary>
        internal static CertlessToken TakeToken(IntPtr token)
        {
            using (var h = new TokenHandle(token))
            {
                return ReadToken(h);
            }
        }

        /// <summary>Copies a native token, which stays alive.</summary>
        internal static CertlessToken ReadToken(TokenHandle h)
        {
            return new CertlessToken(
                ReadUtf8(NativeMethods.certless_token_value(h)),
                ReadUtf8(NativeMethods.certless_token_type(h)),
                NativeMethods.certless_token_expires_on(h),
                NativeMethods.certless_token_refresh_on(h),
                ReadUtf8(NativeMethods.certless_token_source(h)));
        }

        /// <summary>The native pointer of a handle the caller keeps alive; null for none.</summary>
        internal static IntPtr OrNull(SafeHandle handle)
        {
            return handle == null ? IntPtr.Zero : handle.DangerousGetHandle();
        }

        /// <summary>Copies and frees a native error.</summary>
        internal static CertlessException TakeError(IntPtr error)
        {
            using (var h = new ErrorHandle(error))
            {
                bool added = false;
                try
                {
                    h.DangerousAddRef(ref added);
                    return Copy(h.DangerousGetHandle());
                }
                finally
                {
                    if (added) h.DangerousRelease();
                }
            }
        }

        // `e` is borrowed: the error itself (kept alive by its handle) or one of its causes.
        private static CertlessException Copy(IntPtr e)
        {
            int count = (int)NativeMethods.certless_error_aadsts_count(e).ToUInt32();
            var codes = new int[count];
            for (int i = 0; i < count; i++)
            {
                codes[i] = (int)NativeMethods.certless_error_aadsts_code(e, new UIntPtr((uint)i));
            }
            int causeCount = (int)NativeMethods.certless_error_cause_count(e).ToUInt32();
            var causes = new CertlessException[causeCount];
            for (int i = 0; i < causeCount; i++)
            {
                causes[i] = Copy(NativeMethods.certless_error_cause(e, new UIntPtr((uint)i)));
            }
            ushort status = NativeMethods.certless_error_http_status(e);
            string text = ReadUtf8(NativeMethods.certless_error_text(e));
            int code = (int)NativeMethods.certless_error_code(e);
            string leg = ReadUtf8(NativeMethods.certless_error_leg(e));
            string detail = ReadUtf8(NativeMethods.certless_error_message(e));
            string remedy = ReadUtf8(NativeMethods.certless_error_remedy(e));
            int? httpStatus = status == 0 ? (int?)null : status;
            string oauthError = ReadUtf8(NativeMethods.certless_error_oauth_error(e));
            string traceId = ReadUtf8(NativeMethods.certless_error_trace_id(e));
            string correlationId = ReadUtf8(NativeMethods.certless_error_correlation_id(e));
            string source = ReadUtf8(NativeMethods.certless_error_credential_source(e));
            if (NativeMethods.certless_error_is_unavailable(e))
            {
                return new CertlessCredentialUnavailableException(text, code, leg, detail, remedy, httpStatus, codes,
                    oauthError, traceId, correlationId, source, causes);
            }
            return new CertlessException(text, code, leg, detail, remedy, httpStatus, codes, oauthError, traceId,
                correlationId, source, causes, false);
        }
    }
}
