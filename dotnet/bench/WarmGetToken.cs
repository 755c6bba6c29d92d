// The cost of a cache hit from .NET: GetToken (and GetTokenAsync) on a warm credential, against the
// emulator (scripts/bench/bench-dotnet.sh starts it and exports its client environment).
//
//   mono WarmGetToken.exe [samples] [calls-per-sample]
//
// Each sample times a batch of calls with Stopwatch; printed are the median and p99 over the samples
// of the time per call, in nanoseconds.

using System;
using System.Diagnostics;
using Certless;

internal static class WarmGetToken
{
    private static readonly string[] Scope = { "https://contoso.sharepoint.com/.default" };

    private static int Main(string[] args)
    {
        int samples = args.Length > 0 ? int.Parse(args[0]) : 20000;
        int batch = args.Length > 1 ? int.Parse(args[1]) : 100;
        using (var credential = CertlessCredential.FromEnvironment())
        {
            string token = credential.GetToken(Scope).Token;
            if (!token.StartsWith("eyJ", StringComparison.Ordinal)) throw new Exception("not a token");
            Report("GetToken", samples, batch, () => credential.GetToken(Scope));
            Report("GetTokenAsync", samples, batch, () => credential.GetTokenAsync(Scope).Result);
        }
        return 0;
    }

    private static void Report(string name, int samples, int batch, Func<CertlessToken> call)
    {
        for (int i = 0; i < 100000; i++) call(); // JIT and caches warm
        var perCall = new double[samples];
        double nsPerTick = 1e9 / Stopwatch.Frequency;
        for (int s = 0; s < samples; s++)
        {
            long start = Stopwatch.GetTimestamp();
            for (int i = 0; i < batch; i++) call();
            perCall[s] = (Stopwatch.GetTimestamp() - start) * nsPerTick / batch;
        }
        Array.Sort(perCall);
        Console.WriteLine("{0} warm: median {1:F0} ns, p99 {2:F0} ns, min {3:F0} ns per call ({4} samples of {5} calls)",
            name, perCall[samples / 2], perCall[(int)(samples * 0.99)], perCall[0], samples, batch);
    }
}
