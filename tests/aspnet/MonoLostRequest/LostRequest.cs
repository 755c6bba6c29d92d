// Shows a defect of Mono's ASP.NET runtime (docs/windows-iis.md, "Mono's ASP.NET pipeline can lose a request"):
// with an async handler whose completion arrives just as the pipeline leaves BeginProcessRequest, now and then a
// request never ends, and HttpRuntime.ProcessRequest never returns. No certless and no AppDomain unload involved.
// Not run in CI; to run it (Mono 6.8: about one request in 30,000 lost; 5 of 144,000 on 2026-12-07):
//
//   mkdir -p site/bin && cp Web.config site/ && mcs -r:System.Web.dll -out:site/bin/LostRequest.dll LostRequest.cs
//   cd site && SPIN=200 mono bin/LostRequest.dll . 16 1000     (exit 1: requests lost; a thread dump follows)
//
// SPIN bounds the random spin before the handler completes: 200 puts completions near the window, much longer
// completions (2000 and more) were never lost.

using System;
using System.Diagnostics;
using System.IO;
using System.Threading;
using System.Web;
using System.Web.Hosting;

/// <summary>The handler's IAsyncResult: completed once its callback has been called.</summary>
public sealed class Completion : IAsyncResult
{
    private readonly ManualResetEvent completed = new ManualResetEvent(false);

    public object AsyncState { get; set; }
    public WaitHandle AsyncWaitHandle { get { return completed; } }
    public bool CompletedSynchronously { get { return false; } }
    public bool IsCompleted { get { return completed.WaitOne(0); } }

    internal void Complete()
    {
        completed.Set();
    }
}

/// <summary>Writes "ok" and completes on a thread-pool thread after a short random spin.</summary>
public sealed class RaceHandler : IHttpAsyncHandler
{
    private static readonly int Spin = int.Parse(Environment.GetEnvironmentVariable("SPIN") ?? "200");
    private static int seed;

    public bool IsReusable { get { return true; } }

    public void ProcessRequest(HttpContext context)
    {
    }

    public IAsyncResult BeginProcessRequest(HttpContext context, AsyncCallback callback, object extraData)
    {
        var result = new Completion { AsyncState = extraData };
        int spin = new Random(Interlocked.Increment(ref seed)).Next(0, Spin);
        context.Response.Write("ok");
        ThreadPool.QueueUserWorkItem(_ =>
        {
            Thread.SpinWait(spin);
            result.Complete();
            callback(result);
        });
        return result;
    }

    public void EndProcessRequest(IAsyncResult result)
    {
    }
}

/// <summary>Runs in the application's AppDomain: sends the requests and counts those that never end.</summary>
public sealed class Runner : MarshalByRefObject
{
    public override object InitializeLifetimeService()
    {
        return null;
    }

    public int Run(int clients, int each)
    {
        int ended = 0;
        var threads = new Thread[clients];
        for (int c = 0; c < clients; c++)
        {
            threads[c] = new Thread(() =>
            {
                for (int i = 0; i < each; i++)
                {
                    // Each request on a thread of its own: a lost one blocks only that thread.
                    var request = new Thread(() =>
                    {
                        HttpRuntime.ProcessRequest(new SimpleWorkerRequest("x.race", "", new StringWriter()));
                        Interlocked.Increment(ref ended);
                    }) { IsBackground = true };
                    request.Start();
                    request.Join(5000);
                }
            });
            threads[c].Start();
        }
        foreach (Thread t in threads) t.Join();
        int lost = clients * each - Volatile.Read(ref ended);
        Console.WriteLine("{0} requests, {1} never ended", clients * each, lost);
        if (lost > 0)
        {
            // Mono prints every thread's stack: the lost ones wait in HttpApplication's ProcessRequest.
            Process.Start("kill", "-QUIT " + Process.GetCurrentProcess().Id).WaitForExit();
            Thread.Sleep(2000);
        }
        return lost;
    }
}

internal static class Program
{
    private static int Main(string[] args)
    {
        var runner = (Runner)ApplicationHost.CreateApplicationHost(typeof(Runner), "/", Path.GetFullPath(args[0]));
        return runner.Run(int.Parse(args[1]), int.Parse(args[2])) > 0 ? 1 : 0;
    }
}
