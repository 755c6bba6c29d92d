// OpenTelemetry from .NET: what the native library exports over OTLP/HTTP reaches a real receiver
// (tests/otlp/receiver.py) with Platform "dotnet". scripts/test/test-c-dotnet.sh starts the emulator and
// the receiver and runs this program with OTEL_EXPORTER_OTLP_ENDPOINT pointing at it (telemetry is read
// from the environment once per process); the flush at the process's exit and the "off" case run in
// child processes of this program, told apart on the receiver by their process.pid. The receiver
// answers GET /received with one metric or span per line, which is what is scanned here. Nothing waits
// for time to pass: each test flushes, then polls the receiver up to a bound (30 s) that only limits
// how long a broken run hangs. Prints "N passed, M failed"; exit code 1 on failure.

using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Net;
using System.Reflection;
using System.Text.RegularExpressions;
using System.Threading;
using Certless;
using static EmulatorAdmin;
using static TestRunner;

internal static class TelemetryTests
{
    private static readonly string[] Graph = { "https://graph.microsoft.com/.default" };
    private static readonly string[] SharePoint = { "https://contoso.sharepoint.com/.default" };
    private static readonly string[] Arm = { "https://management.azure.com/.default" };
    private const string MsalMeter = "MicrosoftIdentityClient_Common_Meter";
    private const string Spans = "/received?name=certless.acquire_token&name=certless.managed_identity&name=certless.entra";

    private static int Main(string[] args)
    {
        if (args.Length == 1 && args[0] == "child")
        {
            return Child();
        }
        Env("OTEL_EXPORTER_OTLP_ENDPOINT");
        Run("a miss then a hit: MSAL's metrics, certless's, one span tree, the traceparent on the wire", MissThenHit);
        Run("a Traceparent makes the request's span a child of the caller's; a malformed one is InvalidArgument", Traceparent);
        Run("a refused exchange: MsalFailure with its ErrorCode, spans with status ERROR", RefusedExchange);
        Run("the process's exit flushes what was recorded", ExitFlushes);
        Run("off: without OTEL_* variables Flush is true and nothing is sent", Off);
        Run("Flush checks its timeout", FlushChecksItsTimeout);
        Run("clean up the emulator's faults", () => Emulator("DELETE", "/_emulator/faults", ""));
        return Summary("dotnet telemetry");
    }

    // A child: two requests of one scope, and Flush's answer when asked for; no flush otherwise (the exit's).
    private static int Child()
    {
        using (var credential = CertlessCredential.FromEnvironment())
        {
            credential.GetToken(Graph);
            credential.GetToken(Graph);
        }
        if (Environment.GetEnvironmentVariable("TEST_FLUSH") == "1" && !CertlessTelemetry.Flush(TimeSpan.FromSeconds(30)))
        {
            return 1;
        }
        return 0;
    }

    private static string Receiver(string method, string path)
    {
        using (var web = new WebClient())
        {
            string url = Env("CERTLESS_TEST_OTLP_URL") + path;
            return method == "GET" ? web.DownloadString(url) : web.UploadString(url, method, "");
        }
    }

    private static IEnumerable<string> Lines(string received)
    {
        return received.Split('\n');
    }

    // A line holding every one of the needles.
    private static bool SomeLineHas(string received, params string[] needles)
    {
        return Lines(received).Any(line => needles.All(n => line.Contains(n)));
    }

    // GET path until every set of needles is on some line; the last answer. A bound on a broken run, not a timing.
    private static string WaitFor(string path, params string[][] wanted)
    {
        DateTime deadline = DateTime.UtcNow.AddSeconds(30);
        for (;;)
        {
            string received = Receiver("GET", path);
            if (wanted.All(needles => SomeLineHas(received, needles))) return received;
            if (DateTime.UtcNow > deadline)
            {
                Check(false, path + " did not arrive within 30 s; last answer: " + received.Substring(0, Math.Min(2000, received.Length)));
                return received;
            }
            Thread.Sleep(50);
        }
    }

    private static string Field(string line, string key)
    {
        Match m = Regex.Match(line, "\"" + Regex.Escape(key) + "\": \"([^\"]*)\"");
        return m.Success ? m.Groups[1].Value : null;
    }

    private static int IntField(string line, string key)
    {
        Match m = Regex.Match(line, "\"" + Regex.Escape(key) + "\": (-?[0-9]+)");
        return m.Success ? int.Parse(m.Groups[1].Value) : -1;
    }

    private sealed class Span
    {
        internal string Name, TraceId, SpanId, ParentSpanId, Kind, Status, Method, Line;
        internal int HttpStatus, Pid;
    }

    private static List<Span> ParseSpans(string received)
    {
        return Lines(received).Where(l => l.Contains("\"span_id\": \"")).Select(l => new Span
        {
            Name = Field(l, "name"),
            TraceId = Field(l, "trace_id"),
            SpanId = Field(l, "span_id"),
            ParentSpanId = Field(l, "parent_span_id"),
            Kind = Field(l, "kind"),
            Status = Field(l, "status"),
            Method = Field(l, "http.request.method"),
            HttpStatus = IntField(l, "http.response.status_code"),
            Pid = IntField(l, "process.pid"),
            Line = l,
        }).ToList();
    }

    // The spans once at least `roots` request spans are there.
    private static List<Span> WaitForSpans(int roots)
    {
        DateTime deadline = DateTime.UtcNow.AddSeconds(30);
        for (;;)
        {
            List<Span> spans = ParseSpans(Receiver("GET", Spans));
            if (spans.Count(s => s.Name == "certless.acquire_token") >= roots) return spans;
            if (DateTime.UtcNow > deadline)
            {
                Check(false, roots + " request spans did not arrive within 30 s");
                return spans;
            }
            Thread.Sleep(50);
        }
    }

    private static void MissThenHit()
    {
        Receiver("DELETE", "/received");
        Emulator("DELETE", "/_emulator/requests", "");
        using (var credential = CertlessCredential.FromEnvironment())
        {
            credential.GetToken(Graph);
            credential.GetToken(Graph);
        }
        Check(CertlessTelemetry.Flush(TimeSpan.FromSeconds(30)), "Flush sent everything");
        int pid = Process.GetCurrentProcess().Id;
        string received = WaitFor(
            "/received?name=MsalSuccess&name=MsalTotalDuration.1A&name=MsalDurationInHttp.1A&name=MsalDurationInL1CacheInUs.1B" +
            "&name=certless.managed_identity.requests&name=certless.entra.requests",
            new[] { "\"name\": \"MsalSuccess\"", "\"TokenSource\": \"IdentityProvider\"", "\"Platform\": \"dotnet\"",
                "\"ApiId\": \"AcquireTokenForClient\"", "\"CacheRefreshReason\": \"NoCachedAccessToken\"",
                "\"scope\": \"" + MsalMeter + "\"", "\"type\": \"sum\"", "\"monotonic\": true" },
            new[] { "\"name\": \"MsalSuccess\"", "\"TokenSource\": \"Cache\"", "\"CacheLevel\": \"L1Cache\"" },
            new[] { "\"certless.host\": \"dotnet\"", "\"telemetry.sdk.name\": \"certless\"", "\"telemetry.sdk.language\": \"rust\"",
                "\"process.pid\": " + pid + "," },
            new[] { "\"name\": \"MsalTotalDuration.1A\"", "\"type\": \"histogram\"", "\"unit\": \"ms\"" },
            new[] { "\"name\": \"MsalDurationInHttp.1A\"", "\"unit\": \"ms\"" },
            new[] { "\"name\": \"MsalDurationInL1CacheInUs.1B\"", "\"type\": \"histogram\"", "\"unit\": \"us\"" },
            new[] { "\"name\": \"certless.managed_identity.requests\"", "\"unit\": \"{request}\"", "\"outcome\": \"ok\"",
                "\"certless.managed_identity.source\": \"imds\"", "\"http.response.status_code\": 200" },
            new[] { "\"name\": \"certless.entra.requests\"", "\"outcome\": \"ok\"" });
        var platforms = Regex.Matches(received, "\"Platform\": \"([^\"]*)\"").Cast<Match>().Select(m => m.Groups[1].Value).Distinct().ToList();
        Check(platforms.Count == 1 && platforms[0] == "dotnet", "every point says Platform dotnet: " + string.Join(",", platforms));
        Check(!Receiver("GET", "/received?name=MsalFailure").Contains("MsalFailure"), "no failure");

        List<Span> spans = WaitForSpans(1);
        Check(spans.Count(s => s.Name == "certless.acquire_token") == 1, "one fetch, one request span; the hit made none");
        Span root = spans.FirstOrDefault(s => s.Name == "certless.acquire_token");
        Span mi = spans.FirstOrDefault(s => s.Name == "certless.managed_identity");
        Span entra = spans.FirstOrDefault(s => s.Name == "certless.entra");
        Check(root != null && mi != null && entra != null, "the request span and both HTTP spans");
        if (root == null || mi == null || entra == null) return;
        Check(spans.Count == 3, "three spans: " + spans.Count);
        Check(root.Kind == "INTERNAL" && root.ParentSpanId == "" && root.Status != "ERROR", "the request span: " + root.Line);
        Check(root.TraceId.Length == 32 && root.SpanId.Length == 16, "ids in hex");
        foreach (Span child in new[] { mi, entra })
        {
            Check(child.TraceId == root.TraceId && child.ParentSpanId == root.SpanId, child.Name + " is the request span's child");
            Check(child.Kind == "CLIENT" && child.HttpStatus == 200, child.Name + ": " + child.Line);
        }
        Check(mi.Method == "GET" && entra.Method == "POST", "methods");
        string requests = Emulator("GET", "/_emulator/requests", null);
        Check(requests.Contains("[\"traceparent\",\"00-" + root.TraceId + "-" + mi.SpanId + "-01\"]"),
            "the managed-identity request carried its span's context");
        Check(requests.Contains("[\"traceparent\",\"00-" + root.TraceId + "-" + entra.SpanId + "-01\"]"),
            "the exchange carried its span's context");
    }

    private static void Traceparent()
    {
        const string traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
        const string spanId = "00f067aa0ba902b7";
        Receiver("DELETE", "/received");
        using (var credential = CertlessCredential.FromEnvironment())
        {
            var malformed = new CertlessTokenRequestOptions { Traceparent = "00-not-a-traceparent-01" };
            CertlessException e = Throws<CertlessException>(() => credential.GetToken(Arm, malformed), "a malformed traceparent");
            Check(e != null && e.Code == 100, "InvalidArgument: " + (e == null ? "none" : e.Code.ToString()));
            var options = new CertlessTokenRequestOptions { Traceparent = "00-" + traceId + "-" + spanId + "-01" };
            credential.GetTokenAsync(SharePoint, options).Wait();
        }
        Check(CertlessTelemetry.Flush(TimeSpan.FromSeconds(30)), "Flush sent everything");
        List<Span> spans = WaitForSpans(1);
        Span root = spans.FirstOrDefault(s => s.Name == "certless.acquire_token");
        Check(root != null && root.TraceId == traceId && root.ParentSpanId == spanId,
            "the request span is the caller's child: " + (root == null ? "none" : root.Line));
        if (root == null) return;
        List<Span> children = spans.Where(s => s.ParentSpanId == root.SpanId).ToList();
        // The exchange, and the managed identity unless its token was reused.
        Check(children.Any(s => s.Name == "certless.entra") && children.All(s => s.TraceId == traceId),
            "the HTTP spans are in the caller's trace");
    }

    private static void RefusedExchange()
    {
        Receiver("DELETE", "/received");
        Emulator("POST", "/_emulator/faults", "{\"endpoint\":\"entra_token\",\"status\":400}");
        try
        {
            using (var credential = CertlessCredential.FromEnvironment())
            {
                CertlessException e = Throws<CertlessException>(() => credential.GetToken(Graph), "a refused exchange");
                Check(e != null && e.Code == 302, "ExchangeRejected");
            }
        }
        finally
        {
            Emulator("DELETE", "/_emulator/faults", "");
        }
        Check(CertlessTelemetry.Flush(TimeSpan.FromSeconds(30)), "Flush sent everything");
        WaitFor("/received?name=MsalFailure&name=certless.entra.requests",
            new[] { "\"name\": \"MsalFailure\"", "\"scope\": \"" + MsalMeter + "\"", "\"Platform\": \"dotnet\"",
                "\"ApiId\": \"AcquireTokenForClient\"", "\"ErrorCode\": \"ExchangeRejected\"", "\"IsProactiveRefresh\": false" },
            new[] { "\"name\": \"certless.entra.requests\"", "\"outcome\": \"rejected\"", "\"http.response.status_code\": 400" });
        List<Span> spans = WaitForSpans(1);
        Check(spans.Count(s => s.Name == "certless.acquire_token") == 1, "one request span");
        Check(spans.Where(s => s.Name == "certless.acquire_token").All(s => s.Status == "ERROR"), "the request span failed");
        List<Span> entra = spans.Where(s => s.Name == "certless.entra").ToList();
        Check(entra.Count >= 1 && entra.All(s => s.Status == "ERROR" && s.HttpStatus == 400), "each exchange span failed with 400");
    }

    // This program again, as a child with the environment changed by `change`; its exit code and pid.
    private static int RunChild(Action<ProcessStartInfo> change, out int pid)
    {
        Process self = Process.GetCurrentProcess();
        var start = new ProcessStartInfo(self.MainModule.FileName,
            "--debug \"" + Assembly.GetEntryAssembly().Location + "\" child") { UseShellExecute = false };
        change(start);
        using (Process child = Process.Start(start))
        {
            pid = child.Id;
            // A bound on a hang at exit, not a timing.
            if (!child.WaitForExit(120000))
            {
                child.Kill();
                return -1;
            }
            return child.ExitCode;
        }
    }

    private static void ExitFlushes()
    {
        Receiver("DELETE", "/received");
        int pid;
        int exit = RunChild(start =>
        {
            // Intervals far longer than the child: only the flush at its exit (AppDomain.ProcessExit) sends.
            start.EnvironmentVariables["OTEL_METRIC_EXPORT_INTERVAL"] = "600000";
            start.EnvironmentVariables["OTEL_BSP_SCHEDULE_DELAY"] = "600000";
        }, out pid);
        Check(exit == 0, "the child exited with " + exit);
        WaitFor("/received?name=MsalSuccess&name=certless.acquire_token",
            new[] { "\"name\": \"MsalSuccess\"", "\"process.pid\": " + pid + ",", "\"Platform\": \"dotnet\"" },
            new[] { "\"name\": \"certless.acquire_token\"", "\"process.pid\": " + pid + "," });
    }

    private static void Off()
    {
        int pid;
        int exit = RunChild(start =>
        {
            foreach (string name in start.EnvironmentVariables.Keys.Cast<string>().Where(k => k.StartsWith("OTEL_")).ToList())
            {
                start.EnvironmentVariables.Remove(name);
            }
            start.EnvironmentVariables["TEST_FLUSH"] = "1";
        }, out pid);
        Check(exit == 0, "the child's Flush was true (exit code " + exit + ")");
        // The child has exited, and its exit flushes too: whatever it would have sent has arrived.
        Check(!Receiver("GET", "/received").Contains("\"process.pid\": " + pid + ","), "nothing from the child");
    }

    private static void FlushChecksItsTimeout()
    {
        Throws<ArgumentOutOfRangeException>(() => CertlessTelemetry.Flush(TimeSpan.FromMilliseconds(-1)), "a negative timeout");
        Throws<ArgumentOutOfRangeException>(() => CertlessTelemetry.Flush(TimeSpan.FromHours(1.5)), "more than an hour");
        // A zero bound returns at once, sent or not.
        CertlessTelemetry.Flush(TimeSpan.Zero);
    }
}
