// certless for HttpClient: a DelegatingHandler that sends a certless access token with every
// request, and answers a Continuous Access Evaluation (CAE) claims challenge once.
//
// Compiled into the NuGet package's Certless.dll beside Certless.cs; a project that copies
// Certless.cs may copy this file too (it needs a reference to System.Net.Http). C# 7.2,
// .NET Framework 4.5+.

using System;
using System.Collections.Generic;
using System.Net;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace Certless
{
    /// <summary>
    /// Adds <c>Authorization: Bearer {token}</c> from a <see cref="CertlessCredential"/> to every request
    /// sent through it. When the resource answers 401 with a claims challenge
    /// (<c>WWW-Authenticate: Bearer ..., claims="{base64 JSON}"</c>: a Continuous Access Evaluation
    /// challenge, sent when the resource no longer accepts the token it got — a revoked session, a
    /// changed policy), it gets a token with those claims (which bypasses the cache and replaces the
    /// cached token) and sends the request again, once. Any other response, and a second challenge,
    /// is returned as is — or, with <see cref="ThrowOnRefusal"/>, a refusal (403, an unanswerable 401) is
    /// thrown as a <see cref="CertlessException"/> that says what is missing.
    /// </summary>
    /// <remarks>
    /// The request body is buffered before the first send so that it can be sent again. Thread-safe: one
    /// handler (and one <see cref="HttpClient"/>) may serve every request of the application.
    /// </remarks>
    /// <example>
    /// <code>
    /// var client = new HttpClient(new CertlessAuthenticationHandler(credential, "https://contoso.sharepoint.com/.default")
    /// {
    ///     InnerHandler = new HttpClientHandler(),
    /// });
    /// </code>
    /// </example>
    public class CertlessAuthenticationHandler : DelegatingHandler
    {
        private readonly CertlessCredential credential;
        private readonly string[] scopes;

        /// <summary>
        /// A handler for the resource of <paramref name="scopes"/> (<c>https://contoso.sharepoint.com/.default</c>).
        /// Set <see cref="DelegatingHandler.InnerHandler"/> before use (an <see cref="HttpClientHandler"/>), or let
        /// <c>IHttpClientFactory</c> set it.
        /// </summary>
        public CertlessAuthenticationHandler(CertlessCredential credential, params string[] scopes)
        {
            this.credential = Check(credential);
            this.scopes = CheckScopes(scopes);
        }

        /// <summary>A handler for the resource of <paramref name="scopes"/> that sends through <paramref name="innerHandler"/>.</summary>
        public CertlessAuthenticationHandler(CertlessCredential credential, string[] scopes, HttpMessageHandler innerHandler)
            : base(innerHandler)
        {
            this.credential = Check(credential);
            this.scopes = CheckScopes(scopes);
        }

        /// <summary>Sends the request with a token; on a claims challenge, once more with a token carrying those claims.</summary>
        /// <exception cref="CertlessException">No token could be obtained (the request is then not sent).</exception>
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (request == null) throw new ArgumentNullException("request");
            if (request.Content != null)
            {
                await request.Content.LoadIntoBufferAsync().ConfigureAwait(false);
            }
            CertlessToken token = await credential.GetTokenAsync(scopes, cancellationToken).ConfigureAwait(false);
            Authorize(request, token);
            HttpResponseMessage response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
            string claims = response.StatusCode == HttpStatusCode.Unauthorized ? ClaimsChallenge(response) : null;
            if (claims == null)
            {
                return await Refused(response).ConfigureAwait(false);
            }
            try
            {
                var options = new CertlessTokenRequestOptions { Claims = claims };
                token = await credential.GetTokenAsync(scopes, options, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                response.Dispose();
            }
            Authorize(request, token);
            return await Refused(await base.SendAsync(request, cancellationToken).ConfigureAwait(false)).ConfigureAwait(false);
        }

        /// <summary>
        /// When the resource refuses the token — a 403, or a 401 that is not a claims challenge (or a second
        /// challenge) — throw the <see cref="CertlessException"/> of <see cref="ExplainRefusalAsync"/> (code 700,
        /// leg <c>resource</c>: what the token carried and what is missing, e.g. a <c>Sites.Selected</c> grant on
        /// a SharePoint site and how to add it) instead of returning the response. Default false: the response is
        /// returned as is.
        /// </summary>
        public bool ThrowOnRefusal { get; set; }

        /// <summary>
        /// Why the resource refused the token sent with <paramref name="response"/>'s request, as a
        /// <see cref="CertlessException"/> (code 700, leg <c>resource</c>) whose message says which resource and
        /// SharePoint site refused, what the token carried (roles, audience, app; never the token) and whose
        /// <see cref="CertlessException.Remedy"/> says what is missing and how to add it; null when the response
        /// is not a 401 or 403. Reads the response's body.
        /// </summary>
        public static async Task<CertlessException> ExplainRefusalAsync(HttpResponseMessage response)
        {
            if (response == null) throw new ArgumentNullException("response");
            int status = (int)response.StatusCode;
            if (status != 401 && status != 403) return null;
            string body = response.Content == null ? null : await response.Content.ReadAsStringAsync().ConfigureAwait(false);
            IEnumerable<string> challenges;
            string challenge = response.Headers.TryGetValues("WWW-Authenticate", out challenges) ? string.Join(", ", challenges) : null;
            HttpRequestMessage request = response.RequestMessage;
            string url = request == null || request.RequestUri == null ? "" : request.RequestUri.AbsoluteUri;
            string token = request == null || request.Headers.Authorization == null ? null : request.Headers.Authorization.Parameter;
            return CertlessCredential.ExplainRefusal(url, status, challenge, body, token);
        }

        private async Task<HttpResponseMessage> Refused(HttpResponseMessage response)
        {
            if (!ThrowOnRefusal) return response;
            CertlessException refusal = await ExplainRefusalAsync(response).ConfigureAwait(false);
            if (refusal == null) return response;
            response.Dispose();
            throw refusal;
        }

        private static void Authorize(HttpRequestMessage request, CertlessToken token)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue(token.TokenType ?? "Bearer", token.Token);
        }

        /// <summary>
        /// The decoded claims of the response's Bearer claims challenge; null when it has none (or one that is
        /// not base64 of UTF-8 JSON: such a 401 is returned to the caller as is).
        /// </summary>
        internal static string ClaimsChallenge(HttpResponseMessage response)
        {
            IEnumerable<string> values;
            if (!response.Headers.TryGetValues("WWW-Authenticate", out values))
            {
                return null;
            }
            foreach (string value in values)
            {
                foreach (KeyValuePair<string, KeyValuePair<string, string>> p in ChallengeParameters(value))
                {
                    if (string.Equals(p.Key, "Bearer", StringComparison.OrdinalIgnoreCase) &&
                        string.Equals(p.Value.Key, "claims", StringComparison.OrdinalIgnoreCase))
                    {
                        string decoded = DecodeClaims(p.Value.Value);
                        if (decoded != null) return decoded;
                    }
                }
            }
            return null;
        }

        /// <summary>
        /// The parameters of a <c>WWW-Authenticate</c> value (RFC 9110 section 11.6.1), each with the scheme of
        /// its challenge: one value may hold several challenges (<c>Bearer a="1", PoP b="2"</c>), and a
        /// parameter's value may be a token or a quoted string with backslash escapes.
        /// </summary>
        internal static IEnumerable<KeyValuePair<string, KeyValuePair<string, string>>> ChallengeParameters(string header)
        {
            string scheme = null;
            int i = 0;
            while (i < header.Length)
            {
                while (i < header.Length && (header[i] == ' ' || header[i] == '\t' || header[i] == ',')) i++;
                int start = i;
                while (i < header.Length && header[i] != ' ' && header[i] != '\t' && header[i] != ',' && header[i] != '=') i++;
                if (i == start)
                {
                    i++; // a stray '=': skip it
                    continue;
                }
                string word = header.Substring(start, i - start);
                int afterWord = i;
                while (i < header.Length && (header[i] == ' ' || header[i] == '\t')) i++;
                if (i >= header.Length || header[i] != '=')
                {
                    scheme = word; // a token not followed by '=' starts a new challenge
                    i = afterWord;
                    continue;
                }
                i++;
                while (i < header.Length && (header[i] == ' ' || header[i] == '\t')) i++;
                var value = new StringBuilder();
                if (i < header.Length && header[i] == '"')
                {
                    for (i++; i < header.Length && header[i] != '"'; i++)
                    {
                        if (header[i] == '\\' && i + 1 < header.Length) i++;
                        value.Append(header[i]);
                    }
                    i++;
                }
                else
                {
                    // A token value, or a token68 (base64 with '=' padding).
                    while (i < header.Length && header[i] != ',' && header[i] != ' ' && header[i] != '\t') value.Append(header[i++]);
                }
                if (scheme != null)
                {
                    yield return new KeyValuePair<string, KeyValuePair<string, string>>(
                        scheme, new KeyValuePair<string, string>(word, value.ToString()));
                }
            }
        }

        // Resources send the claims as base64 (Entra's and Microsoft Graph's challenges) or base64url.
        private static string DecodeClaims(string encoded)
        {
            string text = encoded.Trim().Replace('-', '+').Replace('_', '/');
            switch (text.Length % 4)
            {
                case 2: text += "=="; break;
                case 3: text += "="; break;
            }
            try
            {
                string claims = new UTF8Encoding(false, true).GetString(Convert.FromBase64String(text));
                return claims.TrimStart().StartsWith("{", StringComparison.Ordinal) ? claims : null;
            }
            catch (FormatException)
            {
                return null;
            }
            catch (ArgumentException)
            {
                return null; // not UTF-8
            }
        }

        private static CertlessCredential Check(CertlessCredential credential)
        {
            if (credential == null) throw new ArgumentNullException("credential");
            return credential;
        }

        private static string[] CheckScopes(string[] scopes)
        {
            if (scopes == null || scopes.Length == 0)
            {
                throw new ArgumentException(
                    "give the scope of the resource the requests go to, e.g. https://contoso.sharepoint.com/.default",
                    "scopes");
            }
            return (string[])scopes.Clone();
        }
    }
}
