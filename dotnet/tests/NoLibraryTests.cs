// Certless.dll without its native library (a deployment that forgot bin\x64 or LD_LIBRARY_PATH):
// the first call throws the runtime's own exception type with a message that says where certless
// looked and what to do, and so does every later call (nothing half-initialised is kept).
// Run with no libcertless.so reachable. Prints "N passed, M failed"; exit code 1 on failure.
using System;
using Certless;
using static TestRunner;

internal static class NoLibraryTests
{
    private static int Main()
    {
        Run("a missing native library says where to put it", () =>
        {
            var e = Throws<DllNotFoundException>(() => { string v = CertlessCredential.NativeVersion; }, "NativeVersion");
            Check(e != null && e.Message.StartsWith("certless: the native library (certless.dll, libcertless.so) could not be loaded."),
                "the message names the library: " + (e == null ? "" : e.Message));
            Check(e != null && e.Message.Contains("LD_LIBRARY_PATH") && e.Message.Contains("-bit"), "and says what to do");
            Check(e != null && e.InnerException is DllNotFoundException, "the runtime's own exception is kept inside");
        });
        Run("every later call says the same", () =>
        {
            var e = Throws<DllNotFoundException>(() => CertlessCredential.FromEnvironment(), "FromEnvironment");
            Check(e != null && e.Message.Contains("LD_LIBRARY_PATH"), "the same advice: " + (e == null ? "" : e.Message));
        });
        return Summary("dotnet-no-library");
    }
}
