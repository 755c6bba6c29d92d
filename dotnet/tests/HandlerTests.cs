// Tests of CertlessAuthenticationHandler: HttpClient requests to a local resource (an HttpListener on
// 127.0.0.1) that may answer 401 with a Continuous Access Evaluation claims challenge, with tokens
// from the emulator (scripts/test/test-c-dotnet.sh starts it and exports its client environment).
// Prints "N passed, M failed"; exit code 1 on failure.

using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Net.Sockets;
using System.Text;
using System.Threading;
using Certless;
using static TestRunner;
using static EmulatorAdmin;

internal static class HandlerTests
{
    private const string Scope = "https://contoso.sharepoint.com/.default";
    private const string Claims = "{\"access_token\":{\"nbf\":{\"essential\":true,\"value\":\"1700000000\"}}}";


    private static int Main()
    {
        using (var resource = new Resource())
        {
            Run("every request carries the credential's token", () => SendsToken(resource));
            Run("a claims challenge: one retry with a token carrying the claims, body sent again", () => ClaimsChallenge(resource));
            Run("a second challenge is returned, not retried", () => ChallengeTwice(resource));
            Run("a 401 without a Bearer claims challenge is returned as is", () => PlainUnauthorized(resource));
        }
        Run("arguments are checked", Arguments);
        return Summary("dotnet-handler");
    }



    private static HttpClient Client(CertlessCredential credential)
    {
        return new HttpClient(new CertlessAuthenticationHandler(credential, Scope) { InnerHandler = new HttpClientHandler() });
    }

    private static void SendsToken(Resource resource)
    {
        resource.Reset(challenges: 0, header: null);
        using (var credential = CertlessCredential.FromEnvironment())
        using (HttpClient client = Client(credential))
        {
            HttpResponseMessage response = client.GetAsync(resource.Url + "_api/web").Result;
            HttpResponseMessage second = client.GetAsync(resource.Url + "_api/web/lists").Result;
            Check(response.StatusCode == HttpStatusCode.OK && second.StatusCode == HttpStatusCode.OK, "200 twice");
            string expected = "Bearer " + credential.GetToken(Scope).Token;
            Check(resource.Authorizations.Count == 2 && resource.Authorizations.All(a => a == expected),
                "both requests carry the cached token");
        }
    }

    private static void ClaimsChallenge(Resource resource)
    {
        // A PoP challenge first, whose quoted value holds an escaped quote and a decoy "claims=".
        resource.Reset(challenges: 1, header: "PoP nonce=\"a\\\", claims=x\", " + Challenge(Convert.ToBase64String(Encoding.UTF8.GetBytes(Claims))));
        Emulator("DELETE", "/_emulator/requests", "");
        using (var credential = CertlessCredential.FromEnvironment())
        using (HttpClient client = Client(credential))
        {
            string before = credential.GetToken(Scope).Token;
            HttpResponseMessage response = client.PostAsync(resource.Url + "_api/web/lists",
                new StringContent("{\"Title\":\"x\"}", Encoding.UTF8, "application/json")).Result;
            Check(response.StatusCode == HttpStatusCode.OK, "the retry succeeded: " + response.StatusCode);
            Check(resource.Authorizations.Count == 2, "two requests reached the resource: " + resource.Authorizations.Count);
            Check(resource.Authorizations.Count == 2 && resource.Authorizations[0] == "Bearer " + before,
                "the first carried the cached token");
            string after = credential.GetToken(Scope).Token;
            Check(after != before, "the challenge replaced the cached token");
            Check(resource.Authorizations.Count == 2 && resource.Authorizations[1] == "Bearer " + after,
                "the retry carried the new token");
            Check(resource.Bodies.Count == 2 && resource.Bodies.All(b => b == "{\"Title\":\"x\"}"), "the body was sent both times");
            string journal = Emulator("GET", "/_emulator/requests", "");
            Check(journal.Contains("[\"claims\",\"" + Claims.Replace("\"", "\\\"") + "\"]"),
                "Entra received the decoded claims");

            // Later requests use the new token without another challenge.
            resource.Reset(challenges: 0, header: null);
            client.GetAsync(resource.Url + "_api/web").Wait();
            Check(resource.Authorizations.SequenceEqual(new[] { "Bearer " + after }), "the next request carries the new token");
        }
    }

    private static void ChallengeTwice(Resource resource)
    {
        // base64url without padding, as some resources send it.
        string encoded = Convert.ToBase64String(Encoding.UTF8.GetBytes(Claims)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        resource.Reset(challenges: 5, header: Challenge(encoded));
        using (var credential = CertlessCredential.FromEnvironment())
        using (HttpClient client = Client(credential))
        {
            HttpResponseMessage response = client.GetAsync(resource.Url + "_api/web").Result;
            Check(response.StatusCode == HttpStatusCode.Unauthorized, "the second 401 reaches the caller");
            Check(resource.Authorizations.Count == 2, "exactly one retry: " + resource.Authorizations.Count);
            Check(resource.Authorizations.Distinct().Count() == 2, "the retry carried another token");
        }
    }

    private static void PlainUnauthorized(Resource resource)
    {
        string encoded = Convert.ToBase64String(Encoding.UTF8.GetBytes(Claims));
        string[] headers =
        {
            null,
            "Bearer realm=\"\", error=\"invalid_token\"",
            "PoP claims=\"" + encoded + "\"",
            Challenge(Convert.ToBase64String(Encoding.UTF8.GetBytes("not JSON"))),
            Challenge("%%%not base64"),
        };
        using (var credential = CertlessCredential.FromEnvironment())
        using (HttpClient client = Client(credential))
        {
            foreach (string header in headers)
            {
                resource.Reset(challenges: 5, header: header);
                HttpResponseMessage response = client.GetAsync(resource.Url + "_api/web").Result;
                Check(response.StatusCode == HttpStatusCode.Unauthorized && resource.Authorizations.Count == 1,
                    "not retried: " + (header ?? "no WWW-Authenticate") + ": " + resource.Authorizations.Count + " requests");
            }
        }
    }

    private static string Challenge(string claims)
    {
        return "Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\", "
            + "error=\"insufficient_claims\", claims=\"" + claims + "\"";
    }

    private static void Arguments()
    {
        using (var credential = CertlessCredential.FromEnvironment())
        {
            bool threw = false;
            try { new CertlessAuthenticationHandler(credential); }
            catch (ArgumentException e) { threw = e.Message.Contains("https://contoso.sharepoint.com/.default"); }
            Check(threw, "no scope: an error that shows one");
            threw = false;
            try { new CertlessAuthenticationHandler(null, Scope); }
            catch (ArgumentNullException) { threw = true; }
            Check(threw, "no credential");
        }
    }

    /// <summary>A resource on 127.0.0.1 that answers 401 with a challenge the first N times, then 200.</summary>
    private sealed class Resource : IDisposable
    {
        private readonly HttpListener listener = new HttpListener();
        private readonly Thread thread;
        private readonly object gate = new object();
        private int challenges;
        private string header;

        internal readonly List<string> Authorizations = new List<string>();
        internal readonly List<string> Bodies = new List<string>();
        internal readonly string Url;

        internal Resource()
        {
            var probe = new TcpListener(IPAddress.Loopback, 0);
            probe.Start();
            int port = ((IPEndPoint)probe.LocalEndpoint).Port;
            probe.Stop();
            Url = "http://127.0.0.1:" + port + "/";
            listener.Prefixes.Add(Url);
            listener.Start();
            thread = new Thread(Serve) { IsBackground = true };
            thread.Start();
        }

        internal void Reset(int challenges, string header)
        {
            lock (gate)
            {
                this.challenges = challenges;
                this.header = header;
                Authorizations.Clear();
                Bodies.Clear();
            }
        }

        private void Serve()
        {
            while (listener.IsListening)
            {
                HttpListenerContext context;
                try
                {
                    context = listener.GetContext();
                }
                catch (Exception)
                {
                    return; // stopped
                }
                string body;
                using (var reader = new StreamReader(context.Request.InputStream, Encoding.UTF8))
                {
                    body = reader.ReadToEnd();
                }
                bool challenge;
                string challengeHeader;
                lock (gate)
                {
                    Authorizations.Add(context.Request.Headers["Authorization"]);
                    if (body.Length > 0) Bodies.Add(body);
                    challenge = challenges > 0;
                    if (challenge) challenges--;
                    challengeHeader = header;
                }
                if (challenge)
                {
                    context.Response.StatusCode = 401;
                    if (challengeHeader != null) context.Response.AddHeader("WWW-Authenticate", challengeHeader);
                }
                else
                {
                    context.Response.StatusCode = 200;
                }
                byte[] answer = Encoding.UTF8.GetBytes("{}");
                context.Response.ContentType = "application/json";
                context.Response.OutputStream.Write(answer, 0, answer.Length);
                context.Response.Close();
            }
        }

        public void Dispose()
        {
            listener.Stop();
            listener.Close();
        }
    }
}
