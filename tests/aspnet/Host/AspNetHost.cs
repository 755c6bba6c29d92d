// A small stand-in for IIS: hosts an ASP.NET application (its Global.asax, Web.config and bin\) in the
// ASP.NET runtime of .NET Framework / Mono (System.Web.Hosting.ApplicationHost), and feeds it the requests
// its own small HTTP/1.1 front end on loopback receives. As under IIS, the application lives in an AppDomain of its own
// inside this one process: touching its Web.config or copying a file into its bin\ makes ASP.NET unload
// that AppDomain and the next request starts a new one, while native libraries stay loaded.
//
// Debian's xsp4 does not start on Debian's Mono (docs/windows-iis.md); this is the part of it we need. The
// front end is a plain socket server (Front, below), not Mono's HttpListener: that lost about one connection in
// 140,000 (accepted by the kernel, never handed over, never closed), which failed one CI drive in a hundred.
//
//   mono AspNetHost.exe PORT_FILE APP_DIR
// Listens on a free loopback port, writes "http://127.0.0.1:PORT/" to PORT_FILE, serves until stdin
// closes or it is killed. GET /_host/stats answers with the process's thread and file-descriptor counts,
// its resident memory, how many application AppDomains were started and how many thread aborts meant for an
// unloading one reached a call that had left it (Program.CallApart), without entering the application; GET /_host/inflight lists the requests the host has accepted and not yet answered, each with
// the stage it is in (tests/aspnet/drive.py asks for it when a request takes far too long). Every request
// gets an answer within 155 s, whatever happens in the application's AppDomain. Compiled by
// scripts/test/test-aspnet.sh with mcs (C# 7.2) against System.Web.

using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using System.Text;
using System.Threading;
using System.Web;
using System.Web.Hosting;

namespace AspNetHost
{
    /// <summary>What the application answered.</summary>
    [Serializable]
    public sealed class Reply
    {
        public int Status;
        public string ContentType;
        public byte[] Body;
    }

    /// <summary>Lives in the application's AppDomain (ASP.NET creates it there); one call per request.</summary>
    public sealed class Runner : MarshalByRefObject
    {
        private Doors doors;

        public override object InitializeLifetimeService()
        {
            return null; // as long as the AppDomain lives
        }

        /// <summary>Tells <paramref name="hostDoors"/> (in the host's AppDomain) when this AppDomain begins to unload.</summary>
        public void Watch(Doors hostDoors)
        {
            doors = hostDoors;
            // Raised by Mono's (and .NET Framework's) AppDomain.Unload before it aborts the threads inside and
            // frees the AppDomain: the host then stops sending requests here.
            AppDomain.CurrentDomain.DomainUnload += (sender, e) => doors.Close();
        }

        // Whether ASP.NET has begun to shut the application down (a recycle), before its AppDomain unloads.
        private static bool ShuttingDown()
        {
            if (HostingEnvironment.ShutdownReason != ApplicationShutdownReason.None) return true;
            // Mono never sets ShutdownReason; its HttpRuntime says so in an internal property.
            return DomainUnloading != null && (bool)DomainUnloading.GetValue(null, null);
        }

        private static readonly PropertyInfo DomainUnloading =
            typeof(HttpRuntime).GetProperty("DomainUnloading", BindingFlags.NonPublic | BindingFlags.Static);

        /// <summary>The application's answer; null when ASP.NET is shutting it down (send the request elsewhere).</summary>
        public Reply Process(int call, TimeSpan limit, string verb, string path, string query, string contentType, byte[] body,
            string accept)
        {
            // From here on this thread is inside the AppDomain: an unload aborts it rather than freeing the
            // AppDomain under it.
            doors.Entered(call);
            if (ShuttingDown())
            {
                // Mono's runtime answers 500 from now until the AppDomain unloads (its application factory is
                // disposed): the host sends the request to a new AppDomain instead, as IIS does.
                doors.Shut();
                return null;
            }
            var request = new WorkerRequest(verb, path.TrimStart('/'), query, contentType, body, accept);
            HttpRuntime.ProcessRequest(request);
            return request.Wait(limit);
        }
    }

    /// <summary>
    /// The way into one application AppDomain, kept in the host's AppDomain. Mono lets a thread into an AppDomain
    /// whose unload has begun, until the very end; one that enters after the unload has aborted the threads inside
    /// runs in an AppDomain being finalized and freed under it (it hangs, or the process crashes). IIS sends the
    /// requests that arrive once a recycle has begun to the new AppDomain; so does the host: when the AppDomain
    /// starts to unload, its doors close to new calls, and the unload waits until every call already let in is
    /// inside (where the unload aborts it, and the host sends it to the new AppDomain).
    /// </summary>
    public sealed class Doors : MarshalByRefObject
    {
        // Longer than any call takes from being let in to being inside; the unload must not wait forever.
        private static readonly TimeSpan EnteringLimit = TimeSpan.FromSeconds(30);
        private readonly object gate = new object();
        // Calls let in that have not yet reached the AppDomain.
        private readonly HashSet<int> entering = new HashSet<int>();
        private readonly int number;
        private bool closed;

        internal Doors(int number)
        {
            this.number = number;
        }

        internal int Number
        {
            get { return number; }
        }

        public override object InitializeLifetimeService()
        {
            return null; // as long as the host
        }

        /// <summary>False once the AppDomain has begun to unload: send the call to a new one.</summary>
        internal bool TryLetIn(int call)
        {
            lock (gate)
            {
                if (closed) return false;
                entering.Add(call);
                return true;
            }
        }

        /// <summary>The call is inside the AppDomain, or failed on its way (then it never will be).</summary>
        public void Entered(int call)
        {
            lock (gate)
            {
                if (entering.Remove(call) && entering.Count == 0) Monitor.PulseAll(gate);
            }
        }

        /// <summary>ASP.NET is shutting the application down: no call gets in any more.</summary>
        public void Shut()
        {
            lock (gate)
            {
                if (closed) return;
                closed = true;
            }
            Program.Log("AppDomain {0} is shutting down: new requests go to a new one", number);
        }

        internal bool IsClosed
        {
            get { lock (gate) return closed; }
        }

        /// <summary>Called from the AppDomain's DomainUnload: no call gets in any more, and those let in are inside.</summary>
        public void Close()
        {
            lock (gate)
            {
                closed = true;
                DateTime until = DateTime.UtcNow + EnteringLimit;
                while (entering.Count > 0 && DateTime.UtcNow < until)
                {
                    Monitor.Wait(gate, until - DateTime.UtcNow);
                }
                Program.Log("AppDomain {0} is unloading ({1} call(s) let in still on their way)", number, entering.Count);
            }
        }
    }

    /// <summary>
    /// A module of the host's, as IIS adds its own modules to every site (not deployed by test-aspnet.sh: see there
    /// why): it runs the request's async handler (Web API's) to its end on the pipeline's thread. Mono's
    /// HttpApplication loses a request whose async handler completes just as the pipeline leaves
    /// BeginProcessRequest (docs/windows-iis.md, tests/aspnet/MonoLostRequest); a handler the pipeline sees as
    /// synchronous never goes through that path. The thread waits for the request to end anyway (Mono's
    /// HttpApplication.ProcessRequest does), so nothing is lost by it.
    /// </summary>
    public sealed class WholeRequests : IHttpModule
    {
        public void Init(HttpApplication application)
        {
            application.PostMapRequestHandler += (sender, e) =>
            {
                HttpContext context = ((HttpApplication)sender).Context;
                var async = context.Handler as IHttpAsyncHandler;
                if (async != null) context.Handler = new ToTheEnd(async);
            };
        }

        public void Dispose()
        {
        }
    }

    /// <summary>An async handler run to its end on the calling thread.</summary>
    internal sealed class ToTheEnd : IHttpHandler
    {
        private readonly IHttpAsyncHandler inner;

        internal ToTheEnd(IHttpAsyncHandler inner)
        {
            this.inner = inner;
        }

        public bool IsReusable
        {
            get { return false; }
        }

        public void ProcessRequest(HttpContext context)
        {
            // A callback that does nothing: this thread waits for the end itself.
            IAsyncResult result = inner.BeginProcessRequest(context, ended => { }, null);
            if (!result.IsCompleted) result.AsyncWaitHandle.WaitOne();
            inner.EndProcessRequest(result);
        }
    }

    /// <summary>One request as the ASP.NET runtime reads it, and its answer as the runtime writes it.</summary>
    internal sealed class WorkerRequest : SimpleWorkerRequest
    {
        private readonly string verb;
        private readonly string contentType;
        private readonly byte[] body;
        private readonly string accept;
        private readonly MemoryStream output = new MemoryStream();
        private readonly ManualResetEvent ended = new ManualResetEvent(false);
        private int status = 200;
        private string responseType;

        internal WorkerRequest(string verb, string page, string query, string contentType, byte[] body, string accept)
            : base(page, query, new StringWriter())
        {
            this.verb = verb;
            this.contentType = contentType;
            this.body = body ?? new byte[0];
            this.accept = accept;
        }

        public override string GetHttpVerbName()
        {
            return verb;
        }

        public override string GetKnownRequestHeader(int index)
        {
            switch (index)
            {
                case HeaderContentType: return contentType;
                case HeaderContentLength: return body.Length.ToString();
                case HeaderAccept: return accept;
                default: return base.GetKnownRequestHeader(index);
            }
        }

        public override byte[] GetPreloadedEntityBody()
        {
            return body;
        }

        public override bool IsEntireEntityBodyIsPreloaded()
        {
            return true;
        }

        public override void SendStatus(int statusCode, string statusDescription)
        {
            status = statusCode;
        }

        public override void SendKnownResponseHeader(int index, string value)
        {
            if (index == HeaderContentType) responseType = value;
        }

        public override void SendUnknownResponseHeader(string name, string value)
        {
        }

        public override void SendResponseFromMemory(byte[] data, int length)
        {
            lock (output) output.Write(data, 0, length);
        }

        public override void FlushResponse(bool finalFlush)
        {
            // Mono's runtime ends a request with a final flush; .NET Framework's calls EndOfRequest too.
            if (finalFlush) ended.Set();
        }

        public override void EndOfRequest()
        {
            ended.Set();
        }

        internal Reply Wait(TimeSpan limit)
        {
            // A request the application never finishes is the host's 504, not a hang of the host.
            if (!ended.WaitOne(limit)) return Program.TimedOut();
            lock (output)
            {
                return new Reply { Status = status, ContentType = responseType, Body = output.ToArray() };
            }
        }
    }

    /// <summary>
    /// A request the host has accepted and not yet answered, and where it is: when one hangs, the test asks for
    /// these (GET /_host/inflight) to tell a request the host never got from one stuck in the application.
    /// </summary>
    internal sealed class InFlight
    {
        private static readonly Dictionary<int, InFlight> All = new Dictionary<int, InFlight>();
        private static int last;

        private readonly int id;
        private readonly string tag;
        private readonly DateTime accepted = DateTime.UtcNow;
        private string stage = "accepted";
        private DateTime since = DateTime.UtcNow;

        private InFlight(int id, string tag)
        {
            this.id = id;
            this.tag = tag;
        }

        internal static InFlight Begin(string tag)
        {
            lock (All)
            {
                var request = new InFlight(++last, tag);
                All.Add(request.id, request);
                return request;
            }
        }

        internal string Tag
        {
            get { return tag; }
        }

        internal void Enter(string newStage)
        {
            lock (All)
            {
                stage = newStage;
                since = DateTime.UtcNow;
            }
        }

        internal void End()
        {
            lock (All) All.Remove(id);
        }

        internal static string Json()
        {
            var b = new StringBuilder("[");
            DateTime now = DateTime.UtcNow;
            lock (All)
            {
                foreach (InFlight r in All.Values)
                {
                    if (b.Length > 1) b.Append(',');
                    // The closing brace apart: "{4:F1}}}" would read "}}" as part of the number's format.
                    b.AppendFormat(CultureInfo.InvariantCulture,
                        "{{\"id\":{0},\"tag\":\"{1}\",\"stage\":\"{2}\",\"accepted_s_ago\":{3:F1},\"in_stage_s\":{4:F1}",
                        r.id, r.tag, r.stage, (now - r.accepted).TotalSeconds, (now - r.since).TotalSeconds).Append('}');
                }
            }
            return b.Append(']').ToString();
        }
    }

    /// <summary>
    /// One request's call into the application, made on a thread of its own (Program.CallApart): what it asks, and
    /// what came back.
    /// </summary>
    internal sealed class Call
    {
        internal readonly InFlight Tracked;
        internal readonly string Verb;
        internal readonly string Path;
        internal readonly string Query;
        internal readonly string ContentType;
        internal readonly byte[] Body;
        internal readonly string Accept;
        internal readonly ManualResetEvent Done = new ManualResetEvent(false);
        internal Reply Reply;
        internal Exception Failure;

        internal Call(InFlight tracked, Request request)
        {
            Tracked = tracked;
            Verb = request.Verb;
            Path = request.Path;
            Query = request.Query;
            ContentType = request.Header("Content-Type");
            Body = request.Body;
            Accept = request.Header("Accept");
        }
    }

    /// <summary>One application AppDomain as the host sees it: the object requests go through, and its doors.</summary>
    internal sealed class Application
    {
        internal readonly Runner Runner;
        internal readonly Doors Doors;

        internal Application(Runner runner, Doors doors)
        {
            Runner = runner;
            Doors = doors;
        }
    }

    internal static class Program
    {
        // A request's answer within this, however many AppDomains it passes through (the test waits 180 s).
        private static readonly TimeSpan RequestLimit = TimeSpan.FromSeconds(150);
        private static readonly object Gate = new object();
        private static string appDir;
        private static Application current;
        private static int started;
        private static int refused;
        private static int calls;
        private static int strayAborts;

        private static int Main(string[] args)
        {
            if (args.Length != 2)
            {
                Console.Error.WriteLine("usage: mono AspNetHost.exe PORT_FILE APP_DIR");
                return 2;
            }
            appDir = Path.GetFullPath(args[1]);
            // The kernel's queue holds a whole round of the test's concurrent connections while threads start.
            var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start(1024);
            int port = ((IPEndPoint)listener.LocalEndpoint).Port;
            ThreadPool.SetMinThreads(256, 64);
            Current();
            File.WriteAllText(args[0], "http://127.0.0.1:" + port + "/\n");
            Console.WriteLine("serving {0} on http://127.0.0.1:{1}/", appDir, port);
            var stop = new Thread(() =>
            {
                // Ends when the test closes our stdin (or exits).
                while (Console.In.ReadLine() != null) { }
                listener.Stop();
            });
            stop.IsBackground = true;
            stop.Start();
            while (true)
            {
                Socket client;
                try
                {
                    client = listener.AcceptSocket();
                }
                catch (SocketException)
                {
                    break; // stopped
                }
                catch (ObjectDisposedException)
                {
                    break;
                }
                var worker = new Thread(Serve) { IsBackground = true };
                worker.Start(client);
            }
            return 0;
        }

        // The application's AppDomain for a new request: a new one once the last has begun to unload.
        private static Application Current()
        {
            lock (Gate)
            {
                if (current == null || current.Doors.IsClosed)
                {
                    var runner = (Runner)ApplicationHost.CreateApplicationHost(typeof(Runner), "/", appDir);
                    var doors = new Doors(++started);
                    runner.Watch(doors);
                    current = new Application(runner, doors);
                    Log("AppDomain {0} started", started);
                }
                return current;
            }
        }

        // For an AppDomain that went without its doors closing first.
        private static void Forget(Application gone, Exception why)
        {
            lock (Gate)
            {
                if (current != gone) return;
                current = null;
                Log("AppDomain {0} is gone ({1})", gone.Doors.Number, why.GetType().Name);
            }
        }

        // Timestamped, so that a thread dump in the same log can be placed among the recycles.
        internal static void Log(string format, params object[] args)
        {
            Console.WriteLine(DateTime.UtcNow.ToString("HH:mm:ss.fff") + " host: " + string.Format(format, args));
        }

        // One connection, one request (the answer says Connection: close, as the test's clients need no more).
        private static void Serve(object state)
        {
            var client = (Socket)state;
            Request request;
            try
            {
                request = Front.Read(client);
            }
            catch (Exception e)
            {
                Log("a connection sent no readable request ({0}: {1}): closed", e.GetType().Name, e.Message);
                Front.Abort(client);
                return;
            }
            InFlight tracked = InFlight.Begin(request.Tag);
            try
            {
                Answer(client, request, tracked);
            }
            finally
            {
                tracked.End();
            }
        }

        private static void Answer(Socket client, Request request, InFlight tracked)
        {
            try
            {
                if (request.Path == "/_host/stats")
                {
                    Front.Send(client, 200, "application/json", Encoding.UTF8.GetBytes(Stats()));
                    return;
                }
                if (request.Path == "/_host/inflight")
                {
                    Front.Send(client, 200, "application/json", Encoding.UTF8.GetBytes(InFlight.Json()));
                    return;
                }
                Reply reply = CallApart(new Call(tracked, request));
                if (reply == null)
                {
                    Interlocked.Increment(ref refused);
                    tracked.Enter("sending 503");
                    Front.Send(client, 503, "text/plain", Encoding.UTF8.GetBytes("the application is restarting"));
                    return;
                }
                tracked.Enter("sending " + reply.Status);
                Front.Send(client, reply.Status, reply.ContentType, reply.Body);
            }
            catch (Exception e)
            {
                Interlocked.Increment(ref refused);
                try
                {
                    tracked.Enter("sending 503 after " + e.GetType().Name);
                    Front.Send(client, 503, "text/plain", Encoding.UTF8.GetBytes("host: " + e.GetType().Name + ": " + e.Message));
                }
                catch (Exception again)
                {
                    // The client went away, or the answer broke off half-written: end the connection rather than
                    // leave the client waiting, and say so (a hung request in the test is then not this).
                    Log("could not answer request {0} ({1}: {2}; then {3}): connection aborted", tracked.Tag, e.GetType().Name,
                        e.Message, again.GetType().Name);
                    Front.Abort(client);
                }
            }
        }

        // Mono unloads an AppDomain by aborting every thread it finds inside, and the abort lands where the thread
        // is when it gets there: a thread that has just come back from the AppDomain gets it in the host's own code
        // (seen on Mono 6.8), in the middle of writing the answer, which then never ends, and the client waits for
        // ever. So the thread that answers the client never enters an application AppDomain: a thread of its own
        // does, and the answer waits for it no longer than RequestLimit (a 504 then, as IIS answers a request that
        // took too long).
        private static Reply CallApart(Call call)
        {
            var caller = new Thread(CallApplication) { IsBackground = true };
            caller.Start(call);
            if (!call.Done.WaitOne(RequestLimit + TimeSpan.FromSeconds(5)))
            {
                Log("a call into the application did not come back");
                return TimedOut();
            }
            if (call.Failure != null) throw new InvalidOperationException("the call into the application failed: " + call.Failure.GetType().Name + ": " + call.Failure.Message, call.Failure);
            return call.Reply;
        }

        private static void CallApplication(object state)
        {
            var call = (Call)state;
            try
            {
                call.Reply = Run(call);
            }
            catch (ThreadAbortException)
            {
                // Meant for the AppDomain this thread has just left, being unloaded: the request was in it when it
                // went (refused, unless its answer had come back).
                Thread.ResetAbort();
                Interlocked.Increment(ref strayAborts);
                Log("a thread abort for an unloading AppDomain reached a call that had left it");
            }
            catch (Exception e)
            {
                call.Failure = e;
            }
            finally
            {
                call.Done.Set(); // Mono delays a thread abort until a finally block has run
            }
        }

        // A request that reaches an AppDomain that has begun to unload goes to the new one, as IIS routes new
        // requests to the new AppDomain; one that was inside it when it went is tried again there, twice at
        // most, then refused (null: the caller answers 503), as IIS refuses it.
        private static Reply Run(Call call)
        {
            DateTime deadline = DateTime.UtcNow + RequestLimit;
            int attempt = 0;
            while (attempt < 3)
            {
                TimeSpan left = deadline - DateTime.UtcNow;
                if (left <= TimeSpan.Zero) return TimedOut();
                call.Tracked.Enter("getting the application's AppDomain (attempt " + (attempt + 1) + ")");
                Application app = Current();
                int id = Interlocked.Increment(ref calls);
                if (!app.Doors.TryLetIn(id)) continue; // it began to unload meanwhile: Current() makes the next
                attempt++;
                call.Tracked.Enter("in AppDomain " + app.Doors.Number + " (attempt " + attempt + ")");
                try
                {
                    Reply reply = app.Runner.Process(id, left, call.Verb, call.Path, call.Query, call.ContentType, call.Body,
                        call.Accept);
                    if (reply != null) return reply;
                    attempt--; // turned away before it started: no attempt used
                }
                catch (AppDomainUnloadedException e)
                {
                    Forget(app, e);
                }
                catch (System.Runtime.Remoting.RemotingException e)
                {
                    Forget(app, e);
                }
                finally
                {
                    app.Doors.Entered(id); // a call that failed on its way in never will be
                }
            }
            return null;
        }

        internal static Reply TimedOut()
        {
            return new Reply { Status = 504, ContentType = "text/plain", Body = Encoding.UTF8.GetBytes("the application did not finish the request") };
        }

        private static string Stats()
        {
            long rss = -1;
            foreach (string line in File.ReadAllLines("/proc/self/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal)) rss = long.Parse(line.Substring(6).Trim().Split(' ')[0]);
            }
            int threads = Directory.GetFileSystemEntries("/proc/self/task").Length;
            int fds = Directory.GetFileSystemEntries("/proc/self/fd").Length;
            lock (Gate)
            {
                return string.Format(
                    "{{\"threads\":{0},\"fds\":{1},\"rss_kib\":{2},\"app_domains_started\":{3},\"refused\":{4},\"stray_aborts\":{5}}}",
                    threads, fds, rss, started, Volatile.Read(ref refused), Volatile.Read(ref strayAborts));
            }
        }

    }

    /// <summary>One request as the front end read it: its line, its headers and its body.</summary>
    internal sealed class Request
    {
        internal string Verb;
        internal string Path;
        internal string Query;
        internal readonly Dictionary<string, string> Headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        internal byte[] Body;

        internal string Header(string name)
        {
            string value;
            return Headers.TryGetValue(name, out value) ? value : null;
        }

        // The test's name for a request (header X-Drive-Request), reduced to characters JSON needs no escape for.
        internal string Tag
        {
            get
            {
                var b = new StringBuilder();
                foreach (char c in Header("X-Drive-Request") ?? "")
                {
                    if (char.IsLetterOrDigit(c) || c == '-' || c == '_' || c == '.') b.Append(c);
                }
                return b.ToString();
            }
        }
    }

    /// <summary>
    /// The host's HTTP/1.1 front end, the part http.sys plays under IIS: reads one request from a connection
    /// (request line, headers, a Content-Length body) and writes one answer with Connection: close. Enough for the
    /// test's clients; chunked request bodies are refused (411), as they never come.
    /// </summary>
    internal static class Front
    {
        private const int MaxHead = 64 * 1024;
        private const int MaxBody = 16 * 1024 * 1024;
        // A client that connected and then says nothing for this long is gone (http.sys waits 120 s).
        private const int ReadTimeoutMs = 120 * 1000;

        internal static Request Read(Socket client)
        {
            client.NoDelay = true;
            client.ReceiveTimeout = ReadTimeoutMs;
            var head = new MemoryStream();
            var chunk = new byte[8192];
            int end = -1;
            while (end < 0)
            {
                int n = client.Receive(chunk);
                if (n == 0) throw new IOException("the client closed the connection before the request's headers ended");
                head.Write(chunk, 0, n);
                end = HeadEnd(head.GetBuffer(), (int)head.Length);
                if (end < 0 && head.Length > MaxHead) throw new InvalidDataException("request headers over 64 KiB");
            }
            byte[] buffer = head.GetBuffer();
            string[] lines = Encoding.ASCII.GetString(buffer, 0, end).Split(new[] { "\r\n" }, StringSplitOptions.None);
            string[] first = lines[0].Split(' ');
            if (first.Length != 3 || !first[2].StartsWith("HTTP/1.", StringComparison.Ordinal))
                throw new InvalidDataException("not an HTTP/1.x request line");
            var request = new Request { Verb = first[0] };
            string target = first[1];
            int q = target.IndexOf('?');
            request.Path = Uri.UnescapeDataString(q < 0 ? target : target.Substring(0, q));
            request.Query = q < 0 ? "" : target.Substring(q + 1);
            for (int i = 1; i < lines.Length; i++)
            {
                int colon = lines[i].IndexOf(':');
                if (colon <= 0) continue;
                request.Headers[lines[i].Substring(0, colon).Trim()] = lines[i].Substring(colon + 1).Trim();
            }
            if (request.Header("Transfer-Encoding") != null)
            {
                Send(client, 411, "text/plain", Encoding.UTF8.GetBytes("send a Content-Length"));
                throw new InvalidDataException("a chunked request body (refused with 411)");
            }
            long length = 0;
            string declared = request.Header("Content-Length");
            if (declared != null && (!long.TryParse(declared, NumberStyles.None, CultureInfo.InvariantCulture, out length) || length > MaxBody))
                throw new InvalidDataException("Content-Length " + declared);
            var body = new byte[length];
            int have = (int)Math.Min(length, head.Length - (end + 4));
            Buffer.BlockCopy(buffer, end + 4, body, 0, have);
            while (have < length)
            {
                int n = client.Receive(body, have, (int)length - have, SocketFlags.None);
                if (n == 0) throw new IOException("the client closed the connection in the request's body");
                have += n;
            }
            request.Body = body;
            return request;
        }

        // Where the blank line after the headers begins, or -1.
        private static int HeadEnd(byte[] buffer, int length)
        {
            for (int i = 0; i + 3 < length; i++)
            {
                if (buffer[i] == '\r' && buffer[i + 1] == '\n' && buffer[i + 2] == '\r' && buffer[i + 3] == '\n') return i;
            }
            return -1;
        }

        internal static void Send(Socket client, int status, string contentType, byte[] body)
        {
            var head = new StringBuilder();
            head.Append("HTTP/1.1 ").Append(status.ToString(CultureInfo.InvariantCulture)).Append(' ')
                .Append(Reason(status)).Append("\r\n");
            if (contentType != null) head.Append("Content-Type: ").Append(contentType).Append("\r\n");
            head.Append("Content-Length: ").Append(body.Length.ToString(CultureInfo.InvariantCulture)).Append("\r\n");
            head.Append("Connection: close\r\n\r\n");
            byte[] bytes = Encoding.ASCII.GetBytes(head.ToString());
            var whole = new byte[bytes.Length + body.Length];
            Buffer.BlockCopy(bytes, 0, whole, 0, bytes.Length);
            Buffer.BlockCopy(body, 0, whole, bytes.Length, body.Length);
            int sent = 0;
            while (sent < whole.Length) sent += client.Send(whole, sent, whole.Length - sent, SocketFlags.None);
            // A graceful close: the client reads the whole answer, then the end of the stream.
            try
            {
                client.Shutdown(SocketShutdown.Send);
            }
            finally
            {
                client.Close();
            }
        }

        // Ends the connection with a reset: a client waiting for an answer learns at once there will be none.
        internal static void Abort(Socket client)
        {
            try
            {
                client.LingerState = new LingerOption(true, 0);
                client.Close();
            }
            catch (Exception)
            {
                // already closed
            }
        }

        private static string Reason(int status)
        {
            switch (status)
            {
                case 200: return "OK";
                case 201: return "Created";
                case 204: return "No Content";
                case 400: return "Bad Request";
                case 401: return "Unauthorized";
                case 403: return "Forbidden";
                case 404: return "Not Found";
                case 411: return "Length Required";
                case 500: return "Internal Server Error";
                case 502: return "Bad Gateway";
                case 503: return "Service Unavailable";
                case 504: return "Gateway Timeout";
                default: return "Status";
            }
        }
    }
}
