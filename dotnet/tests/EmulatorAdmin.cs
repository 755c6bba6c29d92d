// The emulator's admin API (/_emulator/...) for the .NET test programs (compiled into each): the
// test scripts start the emulator and export its client environment and CERTLESS_TEST_EMULATOR_URL.
using System;
using System.Net;

internal static class EmulatorAdmin
{
    /// <summary>Sends <paramref name="body"/> (JSON) to the admin path; the response body.</summary>
    internal static string Emulator(string method, string path, string body)
    {
        using (var web = new WebClient())
        {
            web.Headers[HttpRequestHeader.ContentType] = "application/json";
            string url = Env("CERTLESS_TEST_EMULATOR_URL") + path;
            return method == "GET" ? web.DownloadString(url) : web.UploadString(url, method, body ?? "");
        }
    }

    /// <summary>How many requests an endpoint counted (<c>imds</c>, <c>entra_token</c>, ...); -1 when it has no counter.</summary>
    internal static long Counter(string name)
    {
        string json = Emulator("GET", "/_emulator/counters", null);
        string key = "\"" + name + "\":";
        int at = json.IndexOf(key, StringComparison.Ordinal);
        if (at < 0) return -1;
        int start = at + key.Length;
        int end = start;
        while (end < json.Length && char.IsDigit(json[end])) end++;
        return long.Parse(json.Substring(start, end - start));
    }

    /// <summary>No faults, counters at zero.</summary>
    internal static void Reset()
    {
        Emulator("DELETE", "/_emulator/faults", "");
        Emulator("POST", "/_emulator/counters/reset", "");
    }

    /// <summary>A variable the test scripts set; an exception that says so when it is missing.</summary>
    internal static string Env(string name)
    {
        string value = Environment.GetEnvironmentVariable(name);
        if (string.IsNullOrEmpty(value))
        {
            throw new InvalidOperationException(name + " is not set: run through scripts/test/test-c-dotnet.sh");
        }
        return value;
    }
}
