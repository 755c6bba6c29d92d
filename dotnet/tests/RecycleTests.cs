// The IIS recycle, reproduced in one process (issue 19): an application's AppDomain is unloaded while
// its token requests are still running and its logger is set, the native library staying loaded,
// then a new AppDomain of the same process gets tokens. Compiled with mcs (C# 7.2) and run with mono
// by scripts/test/test-c-dotnet.sh against the emulator, whose managed-identity endpoint is slowed down so
// that every request is still in flight when its AppDomain goes. Prints "N passed, M failed".

using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Net;
using System.Threading;
using System.Threading.Tasks;
using Certless;
using static TestRunner;
using static EmulatorAdmin;

internal static class RecycleTests
{
    // The managed-identity endpoint answers this late: longer than it takes to start the requests
    // and unload their AppDomain, so each unload meets requests in flight.
    private const int SlowMilliseconds = 1500;
    private const int InFlight = 64;

    private static int Main(string[] args)
    {
        int cycles = args.Length > 0 ? int.Parse(args[0]) : 50;
        Run("an AppDomain with a logger and " + InFlight + " requests in flight unloads, the process lives, " +
            "a new AppDomain gets a token", UnloadWithRequestsInFlight);
        Run("the requests of an unloading AppDomain end with code 500, not a hang", AbandonedRequestsEnd);
        Run("two AppDomains log at once, each to its own logger; unloading one leaves the other's", TwoLoggers);
        Run(cycles + " recycles under load: threads and handles flat, memory bounded", () => Cycles(cycles));
        Emulator("DELETE", "/_emulator/faults", "");
        return Summary("dotnet-recycle");
    }

    private static void UnloadWithRequestsInFlight()
    {
        Reset();
        SlowManagedIdentity();
        AppDomain domain = NewDomain("site-1");
        Application app = Load(domain);
        app.Start(InFlight - 8, 8, true);
        WaitForManagedIdentityRequest();
        double ms = Unload(domain);
        Console.WriteLine("  unload with a logger and {0} requests in flight took {1:F0} ms", InFlight, ms);
        Check(ms >= 0, "AppDomain.Unload returned");
        // The native completions of the abandoned requests arrive now, in a process whose AppDomain
        // is gone: they must not call into it (before the fix: malloc corruption, SIGABRT).
        Thread.Sleep(SlowMilliseconds + 500);
        Emulator("DELETE", "/_emulator/faults", "");
        AppDomain next = NewDomain("site-1-after");
        string token = Load(next).TokenNow();
        Check(token.StartsWith("ok ", StringComparison.Ordinal), "the new AppDomain gets a token: " + token);
        Check(Unload(next) >= 0, "the new AppDomain unloads too");
    }

    private static void AbandonedRequestsEnd()
    {
        Reset();
        SlowManagedIdentity();
        AppDomain domain = NewDomain("site-2");
        Application app = Load(domain);
        var watcher = new Watcher();
        app.StartWatched(16, watcher);
        WaitForManagedIdentityRequest();
        Check(Unload(domain) >= 0, "AppDomain.Unload returned");
        // The tasks' continuations ran in the unloading AppDomain before it went (queued there by the
        // abandonment); what they reported was sent here, to the default AppDomain.
        Check(watcher.WaitFor(16, 5000), "every request reported how it ended (" + watcher.Count + " of 16)");
        Check(watcher.Outcomes.All(o => o == "code 500"), "each ended with code 500: " + string.Join(", ", watcher.Outcomes.Distinct()));
        Emulator("DELETE", "/_emulator/faults", "");
    }

    private static void TwoLoggers()
    {
        Reset();
        AppDomain first = NewDomain("site-a");
        AppDomain second = NewDomain("site-b");
        Application a = Load(first);
        Application b = Load(second);
        a.SetLogger();
        b.SetLogger();
        Check(a.TokenNow().StartsWith("ok ", StringComparison.Ordinal), "site-a gets a token");
        Check(b.TokenNow().StartsWith("ok ", StringComparison.Ordinal), "site-b gets a token");
        int aLines = a.LogLines;
        int bLines = b.LogLines;
        Check(aLines > 0 && bLines > 0, "both loggers got messages (" + aLines + ", " + bLines + ")");
        Check(Unload(first) >= 0, "site-a unloads with its logger set");
        int before = b.LogLines;
        Check(b.TokenNow(true).StartsWith("ok ", StringComparison.Ordinal), "site-b still gets a fresh token");
        Check(b.WaitForLines(before + 1, 5000), "site-b's logger still gets messages (" + before + " -> " + b.LogLines + ")");
        Check(Unload(second) >= 0, "site-b unloads");
    }

    private static void Cycles(int cycles)
    {
        Reset();
        SlowManagedIdentity(300);
        var threads = new List<int>();
        var handles = new List<int>();
        var memory = new List<long>();
        double slowest = 0;
        for (int i = 1; i <= cycles; i++)
        {
            Emulator("POST", "/_emulator/counters/reset", "");
            AppDomain domain = NewDomain("cycle-" + i);
            Application app = Load(domain);
            app.Start(InFlight - 8, 8, true);
            WaitForManagedIdentityRequest();
            double ms = Unload(domain);
            if (ms < 0) return;
            slowest = Math.Max(slowest, ms);
            // Let the abandoned requests' native completions land before measuring.
            Thread.Sleep(400);
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();
            threads.Add(Directory.GetFileSystemEntries("/proc/self/task").Length);
            handles.Add(Directory.GetFileSystemEntries("/proc/self/fd").Length);
            memory.Add(ResidentKiB());
        }
        int settle = Math.Min(10, cycles - 1);
        Console.WriteLine("  {0} cycles: slowest unload {1:F0} ms; threads {2} -> {3} (max {4}); fds {5} -> {6} (max {7}); " +
            "RSS {8} KiB -> {9} KiB", cycles, slowest, threads[settle], threads[cycles - 1], threads.Max(),
            handles[settle], handles[cycles - 1], handles.Max(), memory[settle], memory[cycles - 1]);
        // After the first cycles have warmed the runtime (JIT, thread pool, the native runtime's
        // threads), a cycle leaves nothing behind: no thread, no handle. A sample also holds what is
        // still closing: the connections of an unloaded AppDomain's abandoned requests live until the
        // slow endpoint answers them, and on a loaded machine a few of them outlast the pause (one CI
        // run sampled 15 descriptors at cycle 11 and 19 at cycle 50, 15 again in between). So the
        // trend is judged: the fewest of the last ten samples against the most of the ten after
        // warm-up. A leak of one per cycle would put them 30 apart, of one per ten cycles 4 apart.
        // Memory: Mono keeps some of every unloaded AppDomain's metadata; what certless leaks per
        // cycle would be its cache, its threads' stacks, its callbacks' thunks; 512 KiB per cycle
        // tells the two apart.
        int early = Math.Min(10, cycles - settle), late = Math.Min(10, cycles);
        Check(threads.Skip(cycles - late).Min() <= threads.Skip(settle).Take(early).Max() + 2,
            "threads flat after cycle " + (settle + 1) + ": " + string.Join(" ", threads));
        Check(handles.Skip(cycles - late).Min() <= handles.Skip(settle).Take(early).Max() + 2,
            "handles flat after cycle " + (settle + 1) + ": " + string.Join(" ", handles));
        long perCycle = (memory[cycles - 1] - memory[settle]) / Math.Max(1, cycles - 1 - settle);
        Console.WriteLine("  RSS growth after cycle {0}: {1} KiB per cycle", settle + 1, perCycle);
        Check(perCycle < 512, "memory grows less than 512 KiB per cycle (" + perCycle + " KiB)");
        Emulator("DELETE", "/_emulator/faults", "");
    }

    // ---- one "application": what a Web API's AppDomain would hold ----

    /// <summary>Lives in its own AppDomain; the default AppDomain drives it through remoting.</summary>
    public sealed class Application : MarshalByRefObject
    {
        private static readonly string[] SharePoint = { "https://contoso.sharepoint.com/.default" };
        private CertlessCredential credential;
        private int logLines;

        public int LogLines
        {
            get { return Volatile.Read(ref logLines); }
        }

        public bool WaitForLines(int count, int milliseconds)
        {
            var clock = Stopwatch.StartNew();
            while (LogLines < count && clock.ElapsedMilliseconds < milliseconds) Thread.Sleep(10);
            return LogLines >= count;
        }

        public void SetLogger()
        {
            CertlessLog.SetLogger((level, message) => Interlocked.Increment(ref logLines), CertlessLogLevel.Trace);
        }

        /// <summary>Starts requests and returns at once: some async, some blocking on threads of their own.</summary>
        public void Start(int asyncCount, int blockingCount, bool logger)
        {
            if (logger) SetLogger();
            credential = CertlessCredential.FromEnvironment();
            for (int i = 0; i < asyncCount; i++)
            {
                credential.GetTokenAsync(SharePoint);
            }
            for (int i = 0; i < blockingCount; i++)
            {
                var thread = new Thread(() =>
                {
                    try
                    {
                        credential.GetToken(SharePoint);
                    }
                    catch (Exception)
                    {
                        // Abandoned with the AppDomain (or aborted with it).
                    }
                });
                thread.IsBackground = true;
                thread.Start();
            }
        }

        /// <summary>Starts requests whose ends are reported to <paramref name="watcher"/> in the default AppDomain.</summary>
        public void StartWatched(int count, Watcher watcher)
        {
            credential = CertlessCredential.FromEnvironment();
            for (int i = 0; i < count; i++)
            {
                credential.GetTokenAsync(SharePoint).ContinueWith(t =>
                {
                    var e = t.Exception == null ? null : t.Exception.InnerException as CertlessException;
                    watcher.Report(t.Status == TaskStatus.RanToCompletion ? "token" : e != null ? "code " + e.Code : t.Status.ToString());
                }, TaskContinuationOptions.ExecuteSynchronously);
            }
        }

        public string TokenNow(bool fresh = false)
        {
            if (credential == null) credential = CertlessCredential.FromEnvironment();
            try
            {
                var options = new CertlessTokenRequestOptions { ForceRefresh = fresh };
                CertlessToken token = credential.GetToken(SharePoint, options);
                return "ok " + token;
            }
            catch (Exception e)
            {
                return "failed " + e.Message;
            }
        }
    }

    /// <summary>Collects outcomes reported from other AppDomains.</summary>
    public sealed class Watcher : MarshalByRefObject
    {
        private readonly List<string> outcomes = new List<string>();

        public void Report(string outcome)
        {
            lock (outcomes)
            {
                outcomes.Add(outcome);
                Monitor.PulseAll(outcomes);
            }
        }

        internal int Count
        {
            get { lock (outcomes) return outcomes.Count; }
        }

        internal string[] Outcomes
        {
            get { lock (outcomes) return outcomes.ToArray(); }
        }

        internal bool WaitFor(int count, int milliseconds)
        {
            var clock = Stopwatch.StartNew();
            lock (outcomes)
            {
                while (outcomes.Count < count)
                {
                    int left = milliseconds - (int)clock.ElapsedMilliseconds;
                    if (left <= 0 || !Monitor.Wait(outcomes, left)) return outcomes.Count >= count;
                }
                return true;
            }
        }
    }

    // ---- AppDomains ----

    private static AppDomain NewDomain(string name)
    {
        var setup = new AppDomainSetup { ApplicationBase = AppDomain.CurrentDomain.BaseDirectory };
        return AppDomain.CreateDomain(name, null, setup);
    }

    private static Application Load(AppDomain domain)
    {
        return (Application)domain.CreateInstanceAndUnwrap(typeof(Application).Assembly.FullName, typeof(Application).FullName);
    }

    /// <summary>
    /// Unloads <paramref name="domain"/> and returns how long that took in milliseconds; -1 (a failed check) when it
    /// had not returned after 30 s: a hung recycle, which in IIS ends with the worker process killed.
    /// </summary>
    private static double Unload(AppDomain domain)
    {
        string name = domain.FriendlyName;
        Exception failure = null;
        var clock = Stopwatch.StartNew();
        var unloader = new Thread(() =>
        {
            try
            {
                AppDomain.Unload(domain);
            }
            catch (Exception e)
            {
                failure = e;
            }
        });
        unloader.IsBackground = true;
        unloader.Start();
        if (!unloader.Join(30000))
        {
            Check(false, "AppDomain.Unload(" + name + ") had not returned after 30 s");
            Console.Out.Flush();
            Environment.Exit(3);
        }
        if (failure != null)
        {
            Check(false, "AppDomain.Unload(" + name + ") threw " + failure);
            return -1;
        }
        return clock.Elapsed.TotalMilliseconds;
    }

    // ---- the emulator ----

    private static void SlowManagedIdentity(int milliseconds = SlowMilliseconds)
    {
        Emulator("POST", "/_emulator/faults", "{\"endpoint\":\"imds\",\"delay_ms\":" + milliseconds + "}");
    }

    private static void WaitForManagedIdentityRequest()
    {
        // The counters were reset before the requests started.
        var clock = Stopwatch.StartNew();
        while (Counter("imds") < 1 && clock.ElapsedMilliseconds < 5000) Thread.Sleep(10);
        Check(Counter("imds") >= 1, "the requests reached the managed-identity endpoint");
    }

    private static long ResidentKiB()
    {
        foreach (string line in File.ReadAllLines("/proc/self/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                return long.Parse(line.Substring(6).Trim().Split(' ')[0]);
            }
        }
        return -1;
    }
}
