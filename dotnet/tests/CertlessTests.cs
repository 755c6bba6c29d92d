// Tests of the certless .NET wrapper against the emulator on loopback, compiled with mcs (C# 7.2)
// and run with mono by scripts/test/test-c-dotnet.sh, which starts the emulator and exports its client
// environment and CERTLESS_TEST_EMULATOR_URL. Prints "N passed, M failed"; exit code 1 on failure.

using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Net;
using System.Reflection;
using System.Threading;
using System.Threading.Tasks;
using Certless;
using static TestRunner;
using static EmulatorAdmin;

internal static class CertlessTests
{
    private static readonly string[] SharePoint = { "https://contoso.sharepoint.com/.default" };
    private static readonly string[] Graph = { "https://graph.microsoft.com/.default" };
    private const string UnknownApp = "9e9e9e9e-1111-4222-8333-444444444444";


    private static int Main()
    {
        Run("native version matches the wrapper's expectations", NativeVersion);
        Run("happy path, blocking", HappyPathBlocking);
        Run("happy path, async, continuation on the thread pool", HappyPathAsync);
        Run("a warm call hands out the kept managed token while the native cache holds that very token", KeptTokens);
        Run("request options: claims bypass the cache and reach Entra, tenant and force refresh", RequestOptions);
        Run("configuration errors map to CertlessException", ConfigurationErrors);
        Run("FromOptions: properties and names reach the native library, which gets a token", FromOptions);
        Run("FromOptions: unknown names, wrong kinds and out-of-range values get the native errors", OptionErrors);
        Run("FromOptions: the deadline ends a request that waits on IMDS", OptionsDeadline);
        Run("CertlessOptions has a property for every option", EveryOptionHasAProperty);
        Run("AADSTS error maps to CertlessException with its fields", AadstsError);
        Run("AADSTS error through GetTokenAsync", AadstsErrorAsync);
        Run("credential chain error carries its causes", ChainError);
        Run("no managed identity on the host: CertlessCredentialUnavailableException", Unavailable);
        Run("64 concurrent GetTokenAsync: one upstream request per leg", SixtyFourConcurrent);
        Run("cancellation", Cancellation);
        Run("disposal", Disposal);
        Run("finalizer safety and callbacks across garbage collections", FinalizerSafety);
        Run("log callback", Logging);
        Run("Diagnose returns the report, the cause on its first line", Diagnose);
        Run("Diagnose with settings names the app's matching federated credential; bad settings throw", DiagnoseWithSettings);
        Run("ExplainRefusal: a SharePoint 403 names the missing Sites.Selected grant, never the token", ExplainRefusal);
        Run("SharedCache: two credentials on one redis-server (two machines of a farm) make one Entra request", SharedCache);
        Run("clean up the emulator's faults", () => Emulator("DELETE", "/_emulator/faults", ""));
        return Summary("dotnet");
    }




    private static void ExplainRefusal()
    {
        using (var credential = CertlessCredential.FromEnvironment())
        {
            CertlessToken token = credential.GetToken(SharePoint);
            const string denied = "{\"error\":{\"code\":\"-2147024891, System.UnauthorizedAccessException\"," +
                "\"message\":{\"lang\":\"en-US\",\"value\":\"Access denied.\"}}}";
            CertlessException e = CertlessCredential.ExplainRefusal(
                "https://contoso.sharepoint.com/sites/finance/_api/web/lists", 403, null, denied, token.Token);
            Check(e != null && e.Code == 700 && e.Leg == "resource", "code 700, leg resource: " + (e == null ? "null" : e.Code + " " + e.Leg));
            Check(e.Message.Contains("Sites.Selected") && e.Message.Contains("sites/finance"), "names the role and the site: " + e.Message);
            Check(e.Remedy != null && e.Remedy.Contains("/permissions"), "the remedy gives the Graph request: " + e.Remedy);
            Check(e.HttpStatus == 403, "carries the status");
            Check(!e.Message.Contains(token.Token) && !e.Remedy.Contains(token.Token) && !e.ToString().Contains(token.Token),
                "the token appears nowhere");
            Throws<ArgumentNullException>(() => CertlessCredential.ExplainRefusal(null, 403, null, null, null), "a null url");
        }
    }

    private static string ConfigJson(string clientId, string extraCredential)
    {
        return "{\"AzureAd\":{\"Instance\":\"" + Env("AZURE_AUTHORITY_HOST") + "/\",\"TenantId\":\"" + Env("AZURE_TENANT_ID")
            + "\",\"ClientId\":\"" + clientId + "\",\"ClientCredentials\":[{\"SourceType\":\"SignedAssertionFromManagedIdentity\","
            + "\"ManagedIdentityClientId\":\"" + Env("CERTLESS_MANAGED_IDENTITY_CLIENT_ID") + "\"}" + extraCredential + "]}}";
    }

    private static bool IsJwt(string s)
    {
        return s != null && s.StartsWith("eyJ", StringComparison.Ordinal) && s.Split('.').Length == 3;
    }

    // ---- tests ----

    private static void NativeVersion()
    {
        string v = CertlessCredential.NativeVersion;
        Check(v != null && v.Split('.').Length == 3, "native version looks like x.y.z: " + v);
    }

    private static void HappyPathBlocking()
    {
        Reset();
        using (var credential = CertlessCredential.FromEnvironment())
        {
            Check(credential.TenantId == Env("AZURE_TENANT_ID"), "TenantId");
            Check(credential.ClientId == Env("AZURE_CLIENT_ID"), "ClientId");
            CertlessToken token = credential.GetToken(SharePoint);
            Check(IsJwt(token.Token), "the token is a JWT");
            Check(token.TokenType == "Bearer", "token type");
            Check(token.Source == "SignedAssertionFromManagedIdentity", "source");
            Check(token.ExpiresOn > DateTimeOffset.UtcNow.AddMinutes(10), "expires in the future");
            Check(token.ExpiresOn.ToUnixTimeSeconds() == token.ExpiresOnUnixSeconds, "ExpiresOn matches the Unix seconds");
            Check(!token.ToString().Contains(token.Token), "ToString hides the token");
            Check(Counter("imds") == 1 && Counter("entra_token") == 1, "one request per leg");

            CertlessToken again = credential.GetToken(SharePoint);
            Check(again.Token == token.Token, "second call served from the cache");
            CertlessToken cached;
            Check(credential.TryGetCachedToken(SharePoint, out cached) && cached.Token == token.Token, "TryGetCachedToken");
            Check(!credential.TryGetCachedToken(Graph, out cached) && cached == null, "nothing cached for another resource");
            Check(Counter("entra_token") == 1, "no further request");
        }
    }

    private static void KeptTokens()
    {
        Reset();
        using (var credential = CertlessCredential.FromEnvironment())
        {
            CertlessToken first = credential.GetToken(SharePoint);
            CertlessToken warm = credential.GetToken(SharePoint);
            CertlessToken cached;
            credential.TryGetCachedToken(SharePoint, out cached);
            Check(ReferenceEquals(first, warm), "a warm GetToken returns the kept token object (no copy)");
            Check(ReferenceEquals(first, cached), "TryGetCachedToken returns the kept token object");
            Task<CertlessToken> a = credential.GetTokenAsync(SharePoint);
            Check(a.IsCompleted && ReferenceEquals(a.Result, first), "a warm GetTokenAsync completes at once with it");
            Check(ReferenceEquals(a, credential.GetTokenAsync(SharePoint)), "... as the same completed task");

            // The native cache decides: once it holds another token, that one is handed out.
            CertlessToken forced = credential.GetToken(SharePoint, new CertlessTokenRequestOptions { ForceRefresh = true });
            Check(forced.Token != first.Token, "a forced refresh gets a new token");
            Check(credential.GetToken(SharePoint).Token == forced.Token, "the next GetToken hands out the new token, not the kept one");
            Check(credential.TryGetCachedToken(SharePoint, out cached) && cached.Token == forced.Token, "... and TryGetCachedToken");
            Check(credential.GetTokenAsync(SharePoint).Result.Token == forced.Token, "... and GetTokenAsync");

            // Another spelling of the resource and several credentials keep their own.
            string[] bare = { "https://contoso.sharepoint.com" };
            Check(credential.GetToken(bare).Token == forced.Token, "the bare resource is the same cache slot");
            using (var other = CertlessCredential.FromEnvironment())
            {
                CertlessToken own = other.GetToken(SharePoint);
                Check(own.Token != forced.Token && other.GetToken(SharePoint).Token == own.Token, "another credential has its own token");
                Check(credential.GetToken(SharePoint).Token == forced.Token, "... and does not disturb this one's");
            }
            Check(Counter("entra_token") == 3, "three exchanges in all (first, forced, other credential): " + Counter("entra_token"));
        }
    }

    private static void RequestOptions()
    {
        Reset();
        Emulator("DELETE", "/_emulator/requests", "");
        const string claims = "{\"access_token\":{\"nbf\":{\"essential\":true,\"value\":\"1700000000\"}}}";
        using (var credential = CertlessCredential.FromEnvironment())
        {
            CertlessToken plain = credential.GetToken(SharePoint);
            CertlessToken challenged = credential.GetTokenAsync(SharePoint, new CertlessTokenRequestOptions { Claims = claims }).Result;
            Check(challenged.Token != plain.Token, "claims bypass the cache");
            Check(Counter("entra_token") == 2, "claims went to Entra");
            string journal = Emulator("GET", "/_emulator/requests", null);
            Check(journal.Contains("[\"claims\"," + "\"" + claims.Replace("\"", "\\\"") + "\"]"), "Entra received the claims");
            Check(credential.GetToken(SharePoint).Token == challenged.Token, "the challenged token replaced the cached one");
            var tenant = new CertlessTokenRequestOptions { TenantId = "." };
            CertlessException e = Throws<CertlessException>(() => credential.GetToken(SharePoint, tenant), "an invalid tenant");
            Check(e != null && e.Code >= 100 && e.Code < 200, "an invalid tenant is a configuration error");
            Check(credential.GetToken(SharePoint, new CertlessTokenRequestOptions()).Token == challenged.Token,
                "default options use the cache");
            Check(Counter("entra_token") == 2, "no further exchange");
        }
    }

    private static void HappyPathAsync()
    {
        Reset();
        using (var credential = CertlessCredential.FromConfigJson(ConfigJson(Env("AZURE_CLIENT_ID"), "")))
        {
            bool? onPool = null;
            Task<CertlessToken> task = credential.GetTokenAsync(Graph);
            Task check = task.ContinueWith(t => { onPool = Thread.CurrentThread.IsThreadPoolThread; },
                TaskContinuationOptions.ExecuteSynchronously);
            CertlessToken token = task.Result;
            check.Wait();
            Check(IsJwt(token.Token), "async token is a JWT");
            Check(onPool == true, "the task completes on a thread-pool thread, not a native worker");
            Task<CertlessToken> hit = credential.GetTokenAsync(Graph);
            Check(hit.IsCompleted && hit.Result.Token == token.Token, "a cache hit completes synchronously");
        }
    }

    private static void ConfigurationErrors()
    {
        CertlessException e = Throws<CertlessException>(() => CertlessCredential.FromConfigJson("{\"AzureAd\": {"), "malformed JSON");
        Check(e != null && e.Code == 101 && e.Leg == "config", "malformed JSON is code 101 in leg config");
        Check(e != null && e.Remedy != null && e.Message.Contains("certless code 101"), "message and remedy");

        e = Throws<CertlessException>(() => CertlessCredential.FromConfigJson(
            "{\"AzureAd\":{\"TennantId\":\"4f6c1d2a-8b3e-4e71-9a5d-0c2b7e9f3a81\"}}"), "unknown key");
        Check(e != null && e.Code == 102 && e.Message.Contains("TenantId"), "unknown key is code 102 and suggests TenantId");

        e = Throws<CertlessException>(() => CertlessCredential.FromConfigFile("/nonexistent/appsettings.json"), "missing file");
        Check(e != null && e.Code == 107, "unreadable file is code 107");

        Throws<ArgumentNullException>(() => CertlessCredential.FromConfigJson(null), "null JSON");
        using (var credential = CertlessCredential.FromEnvironment())
        {
            e = Throws<CertlessException>(() => credential.GetToken("https://graph.microsoft.com/User.Read"), "delegated scope");
            Check(e != null && e.Code == 106, "a delegated scope is code 106");
            Task<CertlessToken> t = credential.GetTokenAsync(new[] { "https://a/.default", "https://b/.default" });
            e = Throws<CertlessException>(() => t.Wait(), "two resources, async");
            Check(e != null && e.Code == 106, "two resources fault the task with code 106");
            Throws<ArgumentNullException>(() => credential.GetToken(new string[] { null }), "null scope");
        }
    }

    // Options in the .NET idiom (properties, TimeSpan) and by name, with the emulator's environment given through
    // the options rather than the process's.
    private static void SharedCache()
    {
        Reset();
        string dir = Path.Combine(Path.GetTempPath(), "certless-dotnet-redis-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        var probe = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        int port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        var redis = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo
        {
            FileName = "redis-server",
            Arguments = "--bind 127.0.0.1 --port " + port + " --save \"\" --appendonly no --dir " + dir,
            UseShellExecute = false,
            RedirectStandardOutput = true,
        });
        try
        {
            for (int i = 0; ; i++)
            {
                try { using (new System.Net.Sockets.TcpClient("127.0.0.1", port)) { } break; }
                catch (System.Net.Sockets.SocketException) when (i < 500) { Thread.Sleep(20); }
            }
            byte[] key = new byte[32];
            using (var random = System.Security.Cryptography.RandomNumberGenerator.Create()) random.GetBytes(key);
            string keyFile = Path.Combine(dir, "shared-cache.key");
            File.WriteAllText(keyFile, "dotnet-test:" + Convert.ToBase64String(key) + "\n");
            Func<CertlessOptions> machine = () =>
            {
                CertlessOptions o = EmulatorOptions();
                o.SharedCache = "redis://127.0.0.1:" + port + "/0";
                o.SharedCacheKeyFile = keyFile;
                // A test machine's 2 cores do not always answer a read within the 50 ms default.
                return o.SetEnvironmentVariable("CERTLESS_SHARED_CACHE_READ_BUDGET_MS", "1000");
            };
            using (var first = CertlessCredential.FromOptions(machine()))
            using (var second = CertlessCredential.FromOptions(machine()))
            {
                CertlessToken token = first.GetToken(Graph);
                Thread.Sleep(300); // the write is in the background
                Check(second.GetToken(Graph).Token == token.Token, "the second machine reads the first one's token");
                Check(Counter("entra_token") == 1, "one Entra request for both: " + Counter("entra_token"));
                // The first machine missed, took the lease, fetched and wrote; the second read it.
                CertlessSharedCacheStats fetched = first.GetSharedCacheStats(), read = second.GetSharedCacheStats();
                Check(read != null && read.Target == "redis://127.0.0.1:" + port + "/0" && read.State == "closed",
                    "the stats name the target and the breaker's state: " + read);
                Check(fetched.Misses == 1 && fetched.LeasesWon == 1 && fetched.Hits == 0 && fetched.Writes >= 1,
                    "the first machine's stats: " + fetched);
                Check(read.Hits == 1 && read.LeasesWon == 0 && read.Errors == 0, "the second machine's stats: " + read);
            }
            using (var alone = CertlessCredential.FromOptions(EmulatorOptions()))
            {
                Check(alone.GetSharedCacheStats() == null, "no stats without a shared cache");
            }
            CertlessOptions bad = machine();
            bad.SharedCache = "http://cache:6379";
            CertlessException e = Throws<CertlessException>(() => CertlessCredential.FromOptions(bad), "an http:// address");
            Check(e.Message.Contains("scheme 'http'"), "says what is wrong: " + e.Message);
        }
        finally
        {
            redis.Kill();
            redis.WaitForExit();
        }
    }

    private static CertlessOptions EmulatorOptions()
    {
        return new CertlessOptions
        {
            TenantId = Env("AZURE_TENANT_ID"),
            ClientId = Env("AZURE_CLIENT_ID"),
            AuthorityHost = Env("AZURE_AUTHORITY_HOST"),
            ManagedIdentityClientId = Env("CERTLESS_MANAGED_IDENTITY_CLIENT_ID"),
            CaFile = Env("CERTLESS_CA_FILE"),
            RequestTimeout = TimeSpan.FromSeconds(20),
        }.SetEnvironmentVariable("AZURE_POD_IDENTITY_AUTHORITY_HOST", Env("AZURE_POD_IDENTITY_AUTHORITY_HOST"));
    }

    private static void FromOptions()
    {
        Reset();
        CertlessOptions options = EmulatorOptions().Set("connect_timeout_ms", 4000).Set("Deadline", "90");
        Check(options.TenantId == Env("AZURE_TENANT_ID"), "a property reads back");
        Check(options.RequestTimeout == TimeSpan.FromSeconds(20), "a duration reads back as a TimeSpan");
        Check(options.Deadline == null && !options.FromEnvironment, "what was not set through a property reads as unset");
        using (var credential = CertlessCredential.FromOptions(options))
        {
            Check(credential.TenantId == Env("AZURE_TENANT_ID") && credential.ClientId == Env("AZURE_CLIENT_ID"), "ids");
            CertlessToken token = credential.GetToken(SharePoint);
            Check(IsJwt(token.Token), "a token from options");
            Check(Counter("imds") == 1, "IMDS found through the options' environment");
        }
        // Starting from the environment, overridden by an option: the options are only read.
        options = new CertlessOptions { FromEnvironment = true, ClientId = UnknownApp };
        using (var credential = CertlessCredential.FromOptions(options))
        {
            Check(credential.ClientId == UnknownApp && credential.TenantId == Env("AZURE_TENANT_ID"), "the option overrides the environment");
        }
        options.ClientId = null;
        using (var credential = CertlessCredential.FromOptions(options))
        {
            Check(credential.ClientId == Env("AZURE_CLIENT_ID"), "a property set to null is unset");
        }
        Throws<ArgumentNullException>(() => CertlessCredential.FromOptions(null), "null options");
        Throws<ArgumentNullException>(() => new CertlessOptions().Set(null, "x"), "null name");
        Throws<ArgumentNullException>(() => new CertlessOptions().SetEnvironmentVariable("A", null), "null variable value");
    }

    private static void OptionErrors()
    {
        CertlessException e = Throws<CertlessException>(
            () => CertlessCredential.FromOptions(EmulatorOptions().Set("TennantId", "x")), "unknown option");
        Check(e != null && e.Code == 102 && e.Leg == "config", "an unknown option is code 102");
        Check(e != null && e.Remedy == "Did you mean 'TenantId'?", "did you mean, in .NET's spelling: " + (e == null ? "" : e.Remedy));
        e = Throws<CertlessException>(() => CertlessCredential.FromOptions(EmulatorOptions().Set("Deadline", true)), "wrong kind");
        Check(e != null && e.Code == 100 && e.Detail == "Deadline takes a number, not the flag true", "wrong kind: " + (e == null ? "" : e.Detail));
        e = Throws<CertlessException>(() => CertlessCredential.FromOptions(EmulatorOptions().Set("TenantId", 42)), "number for text");
        Check(e != null && e.Code == 100 && e.Detail == "TenantId takes text, not the number 42", "text option: " + (e == null ? "" : e.Detail));
        var zero = EmulatorOptions();
        zero.ConnectTimeout = TimeSpan.Zero;
        e = Throws<CertlessException>(() => CertlessCredential.FromOptions(zero), "zero timeout");
        Check(e != null && e.Code == 100 && e.Detail.Contains("ConnectTimeout is 0 s") && e.Remedy != null, "zero timeout: " + (e == null ? "" : e.Detail));
        var day = EmulatorOptions();
        day.Deadline = TimeSpan.FromDays(1);
        e = Throws<CertlessException>(() => CertlessCredential.FromOptions(day), "a day-long deadline");
        Check(e != null && e.Code == 100 && e.Detail.Contains("at most one hour"), "out of range");
        e = Throws<CertlessException>(() => CertlessCredential.FromOptions(new CertlessOptions { ManagedIdentityClientId = "a", ManagedIdentityObjectId = "b" }),
            "two managed identities");
        Check(e != null && e.Code == 100 && e.Detail.Contains("at most one"), "two managed identities");
    }

    // A new option is added once, in the native library; it must then get a property here.
    private static void EveryOptionHasAProperty()
    {
        CertlessException e = Throws<CertlessException>(
            () => CertlessCredential.FromOptions(new CertlessOptions().Set("ZzzzZzzzzz", "x")), "an unknown name");
        const string prefix = "The options are: ";
        Check(e != null && e.Remedy.StartsWith(prefix, StringComparison.Ordinal), "the options are listed: " + (e == null ? "" : e.Remedy));
        if (e == null || !e.Remedy.StartsWith(prefix, StringComparison.Ordinal)) return;
        string[] listed = e.Remedy.Substring(prefix.Length).TrimEnd('.').Split(new[] { ", " }, StringSplitOptions.None);
        Check(listed.Contains("Deadline"), "Deadline is listed");
        foreach (string name in listed)
        {
            string property = name == "FromEnv" ? "FromEnvironment" : name;
            Check(typeof(CertlessOptions).GetProperty(property) != null, "CertlessOptions has a property for " + name);
        }
    }

    private static void OptionsDeadline()
    {
        Reset();
        CertlessOptions options = EmulatorOptions();
        options.Deadline = TimeSpan.FromSeconds(1);
        using (var credential = CertlessCredential.FromOptions(options))
        {
            // IMDS answers only after 20 s: the 1 s deadline ends the request first.
            Emulator("POST", "/_emulator/faults", "{\"endpoint\":\"imds\",\"delay_ms\":20000,\"remaining\":1}");
            CertlessException e = Throws<CertlessException>(() => credential.GetToken(Graph), "a request past its deadline");
            Check(e != null && e.Code == 201 && e.Leg == "managed_identity", "a managed-identity timeout");
            Check(e != null && e.Detail.Contains("no token within the 1 s deadline"), "names the deadline: " + (e == null ? "" : e.Detail));
            Emulator("DELETE", "/_emulator/faults", "");
        }
    }

    private static void CheckAadsts(CertlessException e)
    {
        Check(e != null, "CertlessException thrown");
        if (e == null) return;
        Check(e.Code == 302, "code 302 (exchange rejected), got " + e.Code);
        Check(e.Leg == "exchange", "leg exchange, got " + e.Leg);
        Check(e.HttpStatus == 400 || e.HttpStatus == 401, "HTTP status 400/401, got " + e.HttpStatus);
        Check(e.AadstsCodes.Contains(700016), "AADSTS700016 in " + string.Join(",", e.AadstsCodes));
        Check(!string.IsNullOrEmpty(e.TraceId), "trace id");
        Check(!string.IsNullOrEmpty(e.CorrelationId), "correlation id");
        Check(e.OAuthError != null, "OAuth error");
        Check(e.CredentialSource == "SignedAssertionFromManagedIdentity", "credential source");
        Check(e.Message.Contains("AADSTS700016") && e.Message.Contains(e.TraceId), "message has the code and the trace id");
        Check(e.Detail != null && e.Causes.Count == 0, "detail, no causes");
        Check(!e.IsUnavailable && !(e is CertlessCredentialUnavailableException), "Entra refusing is not unavailable");
    }

    private static void AadstsError()
    {
        using (var credential = CertlessCredential.FromConfigJson(ConfigJson(UnknownApp, "")))
        {
            CheckAadsts(Throws<CertlessException>(() => credential.GetToken(SharePoint), "unknown app"));
        }
    }

    private static void AadstsErrorAsync()
    {
        using (var credential = CertlessCredential.FromConfigJson(ConfigJson(UnknownApp, "")))
        {
            Task<CertlessToken> task = credential.GetTokenAsync(SharePoint);
            CheckAadsts(Throws<CertlessException>(() => task.Wait(), "unknown app, async"));
            Check(task.IsFaulted, "the task is faulted");
        }
    }

    private static void Diagnose()
    {
        string healthy = CertlessCredential.Diagnose(scope: SharePoint[0]);
        Check(healthy.Contains("\"ok\": true"), "the healthy set-up is ok: " + healthy);
        Check(healthy.Contains("\"headline\": \"OK: token obtained"), "an OK headline");
        Check(!healthy.Contains("eyJ"), "never a raw token");
        string failing = CertlessCredential.Diagnose(configJson: ConfigJson(UnknownApp, ""), scope: SharePoint[0]);
        Check(failing.Contains("\"ok\": false"), "the unknown app is not ok");
        Check(failing.Contains("\"headline\": \"FAIL: ") && failing.Contains("AADSTS700016"), "the cause on the first line: " + failing);
        Throws<CertlessException>(() => CertlessCredential.Diagnose("a.json", "{}"), "path and JSON together");

        // The same from options: healthy, then options that cannot make a credential (the report says why).
        string fromOptions = CertlessCredential.Diagnose(EmulatorOptions(), SharePoint[0]);
        Check(fromOptions.Contains("\"ok\": true") && !fromOptions.Contains("eyJ"), "options: healthy: " + fromOptions);
        CertlessOptions noTenant = EmulatorOptions();
        noTenant.TenantId = null;
        string unusable = CertlessCredential.Diagnose(noTenant);
        Check(unusable.Contains("\"ok\": false") && unusable.Contains("\"headline\": \"FAIL: "), "options without a tenant: " + unusable);
        Throws<ArgumentNullException>(() => CertlessCredential.Diagnose((CertlessOptions)null), "null options");
        Throws<CertlessException>(() => CertlessCredential.Diagnose(new CertlessOptions().Set("NoSuchOption", "x")), "an unknown option");
    }

    private static void DiagnoseWithSettings()
    {
        // The emulator's app's federated credentials, as `az ad app federated-credential list` prints them.
        string credentials = JsonArray(Emulator("GET", "/_emulator/registry", null), "\"federated_credentials\"");
        string named = "through federated credential '" + JsonString(credentials, "\"name\"") + "'";
        var inline = new CertlessDiagnoseSettings { Scope = SharePoint[0], FederatedCredentialsJson = credentials };
        string fromEnvironment = CertlessCredential.Diagnose(inline);
        Check(fromEnvironment.Contains("\"ok\": true") && fromEnvironment.Contains(named), "inline list: " + fromEnvironment);
        string fromOptions = CertlessCredential.Diagnose(EmulatorOptions(),
            new CertlessDiagnoseSettings { FederatedCredentialsJson = "{\"value\": " + credentials + "}" });
        Check(fromOptions.Contains(named), "options, Graph's shape: " + fromOptions);
        string file = Path.Combine(Path.GetTempPath(), "certless-fics-" + Guid.NewGuid().ToString("N") + ".json");
        try
        {
            File.WriteAllText(file, credentials);
            string fromFile = CertlessCredential.Diagnose(new CertlessDiagnoseSettings { FederatedCredentialsFile = file });
            Check(fromFile.Contains(named), "a file: " + fromFile);
        }
        finally
        {
            File.Delete(file);
        }
        Check(CertlessCredential.Diagnose((CertlessDiagnoseSettings)null).Contains("\"ok\": true"), "null settings: the defaults");
        // A scope with a quote and a control character reaches the native library as a JSON string.
        string quoted = CertlessCredential.Diagnose(new CertlessDiagnoseSettings { Scope = "api://\"x\"\t/.default" });
        Check(quoted.Contains("\"headline\": "), "a scope that needs escaping is read: " + quoted);

        // Settings the native library refuses throw, saying what is wrong.
        CheckRefused(new CertlessDiagnoseSettings { FederatedCredentialsJson = credentials, GraphTokenEnvironmentVariable = "GRAPH_TOKEN" }, "one way");
        CheckRefused(new CertlessDiagnoseSettings { GraphUrl = "https://graph.microsoft.com" }, "exactly one token source");
        CheckRefused(new CertlessDiagnoseSettings { GraphTokenEnvironmentVariable = "A", GraphTokenCommand = "b" }, "exactly one token source");
        CheckRefused(new CertlessDiagnoseSettings { FederatedCredentialsJson = "[{" }, "not valid");
        CertlessException e = Throws<CertlessException>(
            () => CertlessCredential.Diagnose(new CertlessDiagnoseSettings(), "a.json", "{}"), "path and JSON together");
        Check(e.Code == 100, "code 100: " + e.Code);
        Throws<ArgumentNullException>(() => CertlessCredential.Diagnose((CertlessOptions)null, inline), "null options");
    }

    private static void CheckRefused(CertlessDiagnoseSettings settings, string says)
    {
        CertlessException e = Throws<CertlessException>(() => CertlessCredential.Diagnose(settings), says);
        Check(e.Code == 100 && e.Message.Contains(says), "code 100 saying '" + says + "': " + e.Code + " " + e.Message);
    }

    /// <summary>The JSON array after <paramref name="key"/> in <paramref name="json"/>, as text (brackets counted; its
    /// strings hold no brackets).</summary>
    private static string JsonArray(string json, string key)
    {
        int start = json.IndexOf('[', json.IndexOf(key, StringComparison.Ordinal));
        int depth = 0;
        for (int i = start; i < json.Length; i++)
        {
            if (json[i] == '[') depth++;
            else if (json[i] == ']' && --depth == 0) return json.Substring(start, i - start + 1);
        }
        throw new InvalidOperationException(key + " holds no complete array: " + json);
    }

    /// <summary>The first string value of <paramref name="key"/> in <paramref name="json"/> (no escapes in it).</summary>
    private static string JsonString(string json, string key)
    {
        int start = json.IndexOf('"', json.IndexOf(':', json.IndexOf(key, StringComparison.Ordinal)) + 1) + 1;
        return json.Substring(start, json.IndexOf('"', start) - start);
    }

    private static void Unavailable()
    {
        // Docker Desktop answers IMDS's address itself, with a 403 saying the network is unreachable.
        Emulator("POST", "/_emulator/faults", "{\"endpoint\":\"imds\",\"status\":403,\"remaining\":1,\"body\":{\"custom\":"
            + "\"connecting to 169.254.169.254:80: dial tcp 169.254.169.254:80: connectex: A socket operation was "
            + "attempted to an unreachable network.\"}}");
        using (var credential = CertlessCredential.FromEnvironment())
        {
            var e = Throws<CertlessCredentialUnavailableException>(() => credential.GetToken(Graph), "Docker Desktop's IMDS");
            Check(e != null && e.IsUnavailable && e.Leg == "managed_identity" && e.HttpStatus == 403,
                "unavailable, managed_identity, 403");
            Check(e is CertlessException, "still a CertlessException");
        }
        // The managed identity answers and refuses: a real failure.
        Emulator("POST", "/_emulator/faults", "{\"endpoint\":\"imds\",\"status\":400,\"remaining\":1}");
        using (var credential = CertlessCredential.FromEnvironment())
        {
            var e = Throws<CertlessException>(() => credential.GetTokenAsync(Graph).Wait(), "IMDS 400, async");
            Check(e != null && !e.IsUnavailable && !(e is CertlessCredentialUnavailableException) && e.Code == 202,
                "a refusal is not unavailable");
        }
    }

    private static void ChainError()
    {
        string keyVault = ",{\"SourceType\":\"CustomSignedAssertion\",\"CustomSignedAssertionProviderName\":\"MyProvider\"}";
        using (var credential = CertlessCredential.FromConfigJson(ConfigJson(UnknownApp, keyVault)))
        {
            CertlessException e = Throws<CertlessException>(() => credential.GetToken(Graph), "two failing sources");
            Check(e != null && e.Code == 400 && e.Causes.Count == 2, "code 400 with two causes");
            if (e != null && e.Causes.Count == 2)
            {
                Check(e.Causes[0].Code == 302 && e.Causes[0].AadstsCodes.Contains(700016), "first cause is the AADSTS error");
                Check(e.Causes[1].Code == 104 && e.Causes[1].CredentialSource == "CustomSignedAssertion", "second cause is the unsupported source");
            }
        }
    }

    private static void SixtyFourConcurrent()
    {
        Reset();
        using (var credential = CertlessCredential.FromEnvironment())
        using (var start = new ManualResetEventSlim(false))
        {
            var tasks = new Task<CertlessToken>[64];
            var starters = new Thread[8];
            for (int t = 0; t < starters.Length; t++)
            {
                int first = t * 8;
                starters[t] = new Thread(() =>
                {
                    start.Wait();
                    for (int i = first; i < first + 8; i++) tasks[i] = credential.GetTokenAsync(SharePoint);
                });
                starters[t].Start();
            }
            start.Set();
            foreach (Thread t in starters) t.Join();
            Task.WaitAll(tasks);
            Check(tasks.All(t => t.Status == TaskStatus.RanToCompletion), "all 64 succeeded");
            Check(tasks.Select(t => t.Result.Token).Distinct().Count() == 1, "all 64 got the same token");
            long imds = Counter("imds");
            long entra = Counter("entra_token");
            Check(imds == 1, "exactly one IMDS request for 64 concurrent callers, got " + imds);
            Check(entra == 1, "exactly one Entra request for 64 concurrent callers, got " + entra);
        }
    }

    private static void Cancellation()
    {
        Reset();
        using (var credential = CertlessCredential.FromEnvironment())
        {
            var cancelled = new CancellationTokenSource();
            cancelled.Cancel();
            Check(credential.GetTokenAsync(Graph, cancelled.Token).IsCanceled, "an already cancelled token cancels at once");

            // IMDS answers only after 3 s: the request is running when it is cancelled (the shared
            // fetch then goes on, and the next request joins it).
            Emulator("POST", "/_emulator/faults", "{\"endpoint\":\"imds\",\"delay_ms\":3000}");
            using (var cts = new CancellationTokenSource())
            {
                Task<CertlessToken> task = credential.GetTokenAsync(Graph, cts.Token);
                Check(!task.IsCompleted, "the request is running");
                cts.Cancel();
                Throws<TaskCanceledException>(() => task.Wait(), "a cancelled request");
                Check(task.IsCanceled, "the task is cancelled");
            }
            Emulator("DELETE", "/_emulator/faults", "");
            // The credential still works afterwards.
            Check(IsJwt(credential.GetTokenAsync(Graph, new CancellationTokenSource().Token).Result.Token), "works after a cancellation");
        }
    }

    private static void Disposal()
    {
        Reset();
        var credential = CertlessCredential.FromEnvironment();
        Emulator("POST", "/_emulator/faults", "{\"endpoint\":\"imds\",\"delay_ms\":500}");
        Task<CertlessToken> inFlight = credential.GetTokenAsync(Graph);
        credential.Dispose();
        credential.Dispose(); // idempotent
        Throws<ObjectDisposedException>(() => credential.GetToken(Graph), "GetToken after Dispose");
        Throws<ObjectDisposedException>(() => credential.GetTokenAsync(Graph), "GetTokenAsync after Dispose");
        Check(IsJwt(inFlight.Result.Token), "a request running at Dispose completes");
        Emulator("DELETE", "/_emulator/faults", "");
    }

    private static void FinalizerSafety()
    {
        Reset();
        Emulator("POST", "/_emulator/faults", "{\"endpoint\":\"imds\",\"delay_ms\":300}");
        var pending = new List<Task<CertlessToken>>();
        for (int i = 0; i < 16; i++)
        {
            // Never disposed, never referenced again: only the finalizer releases them.
            pending.Add(CertlessCredential.FromEnvironment().GetTokenAsync(Graph));
        }
        for (int i = 0; i < 200; i++)
        {
            CertlessCredential.FromEnvironment();
        }
        for (int i = 0; i < 5; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            Thread.Sleep(50);
        }
        Task.WaitAll(pending.ToArray());
        Check(pending.All(t => IsJwt(t.Result.Token)), "requests of collected credentials complete (state and delegate kept alive)");
        Emulator("DELETE", "/_emulator/faults", "");
        GC.Collect();
        GC.WaitForPendingFinalizers();
        using (var credential = CertlessCredential.FromEnvironment())
        {
            Check(IsJwt(credential.GetToken(Graph).Token), "the library still works after finalizers ran");
        }
    }

    private static void Logging()
    {
        var lines = new List<string>();
        CertlessLog.SetLogger((level, message) => { lock (lines) lines.Add(level + " " + message); }, CertlessLogLevel.Information);
        string token;
        using (var credential = CertlessCredential.FromEnvironment())
        {
            token = credential.GetToken(SharePoint).Token;
        }
        CertlessLog.SetLogger(null, CertlessLogLevel.Off);
        lock (lines)
        {
            Check(lines.Count > 0, "log lines arrived");
            Check(lines.All(l => !l.Contains(token)), "no log line contains the token");
        }
    }
}
