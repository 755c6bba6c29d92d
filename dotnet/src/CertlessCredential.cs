using System;
using System.Runtime.CompilerServices;
using System.Threading;
using System.Threading.Tasks;

namespace Certless
{
    /// <summary>
    /// Gets Entra access tokens for one app registration from the host's managed identity through a
    /// federated identity credential, and caches them. Thread-safe: create one per app registration
    /// and share it for the life of the process. Dispose it when done (a finalizer releases it
    /// otherwise); requests still running when it is disposed complete normally.
    /// </summary>
    public sealed class CertlessCredential : IDisposable
    {
        private readonly CredentialHandle handle;
        private readonly TokenMemo memo = new TokenMemo();

        private CertlessCredential(CredentialHandle handle)
        {
            this.handle = handle;
            TenantId = Native.ReadUtf8(NativeMethods.certless_credential_tenant_id(handle));
            ClientId = Native.ReadUtf8(NativeMethods.certless_credential_client_id(handle));
        }

        /// <summary>The version of the loaded native library.</summary>
        public static string NativeVersion
        {
            get
            {
                Native.EnsureLoaded();
                return Native.Version();
            }
        }

        /// <summary>The app registration's tenant (directory) id.</summary>
        public string TenantId { get; private set; }

        /// <summary>The app registration's application (client) id.</summary>
        public string ClientId { get; private set; }

        /// <summary>From a Microsoft.Identity.Web <c>appsettings.json</c> (the whole file or its <c>AzureAd</c> section).</summary>
        public static CertlessCredential FromConfigFile(string path)
        {
            if (path == null) throw new ArgumentNullException("path");
            Native.EnsureLoaded();
            return Create((ref IntPtr c, ref IntPtr e) => NativeMethods.certless_credential_from_config_file(Native.Utf8(path), ref c, ref e));
        }

        /// <summary>From Microsoft.Identity.Web configuration JSON (a whole <c>appsettings.json</c> or its <c>AzureAd</c> section).</summary>
        public static CertlessCredential FromConfigJson(string json)
        {
            if (json == null) throw new ArgumentNullException("json");
            Native.EnsureLoaded();
            return Create((ref IntPtr c, ref IntPtr e) => NativeMethods.certless_credential_from_config_json(Native.Utf8(json), ref c, ref e));
        }

        /// <summary>From <c>AZURE_TENANT_ID</c>, <c>AZURE_CLIENT_ID</c>, <c>CERTLESS_MANAGED_IDENTITY_CLIENT_ID</c>, ...</summary>
        public static CertlessCredential FromEnvironment()
        {
            Native.EnsureLoaded();
            return Create((ref IntPtr c, ref IntPtr e) => NativeMethods.certless_credential_from_env(ref c, ref e));
        }

        /// <summary>
        /// From options: a configuration (<see cref="CertlessOptions.ConfigJson"/>, <see cref="CertlessOptions.ConfigFile"/>
        /// or <see cref="CertlessOptions.FromEnvironment"/>, at most one) with the other options applied on top, or the
        /// options alone (<c>TenantId</c>, <c>ClientId</c>, a managed identity or none for the system-assigned one). Every
        /// value is checked here; the options may be changed or reused afterwards.
        /// </summary>
        /// <exception cref="CertlessException">An unknown option (code 102; see its <c>Remedy</c>), a wrong or out-of-range value (100), or a configuration error.</exception>
        public static CertlessCredential FromOptions(CertlessOptions options)
        {
            if (options == null) throw new ArgumentNullException("options");
            Native.EnsureLoaded();
            using (OptionsHandle handle = OptionsHandle.Create())
            {
                options.ApplyTo(handle);
                return Create((ref IntPtr c, ref IntPtr e) => NativeMethods.certless_credential_from_options(handle, ref c, ref e));
            }
        }

        /// <summary>
        /// Walks the flow once, leg by leg (configuration, managed-identity endpoint, what a matching
        /// federated credential needs, the exchange, the token) and returns the report as JSON, the
        /// same as <c>certless doctor --json</c>: its <c>headline</c> is the cause and the fix in one
        /// line, <c>ok</c> whether a token was obtained. A failing flow is the report, not an exception.
        /// Blocking; call it from a diagnostics page or a support tool, not on every request.
        /// </summary>
        /// <param name="configPath">An <c>appsettings.json</c>; with <paramref name="configJson"/> also null, the environment.</param>
        /// <param name="configJson">The configuration as JSON (at most one of the two).</param>
        /// <param name="scope">The scope to get a token for; null: Microsoft Graph.</param>
        public static string Diagnose(string configPath = null, string configJson = null, string scope = null)
        {
            Native.EnsureLoaded();
            return DiagnoseNative(configPath, configJson, scope);
        }

        [MethodImpl(MethodImplOptions.NoInlining)]
        private static string DiagnoseNative(string configPath, string configJson, string scope)
        {
            IntPtr report = IntPtr.Zero;
            IntPtr error = IntPtr.Zero;
            uint status = NativeMethods.certless_diagnose(
                configPath == null ? null : Native.Utf8(configPath),
                configJson == null ? null : Native.Utf8(configJson),
                scope == null ? null : Native.Utf8(scope),
                ref report, ref error);
            return TakeReport(status, report, error);
        }

        /// <summary>
        /// <see cref="Diagnose(string, string, string)"/> for the credential <paramref name="options"/> describe (as
        /// <see cref="FromOptions"/> would build it). Options that cannot make a credential (no tenant, say) are the
        /// report's configuration failure, not an exception; an unknown option name or a value of the wrong kind
        /// throws, as in <see cref="FromOptions"/>.
        /// </summary>
        /// <param name="options">The credential's options.</param>
        /// <param name="scope">The scope to get a token for; null: Microsoft Graph.</param>
        public static string Diagnose(CertlessOptions options, string scope = null)
        {
            if (options == null) throw new ArgumentNullException("options");
            Native.EnsureLoaded();
            return DiagnoseNative(options, scope);
        }

        [MethodImpl(MethodImplOptions.NoInlining)]
        private static string DiagnoseNative(CertlessOptions options, string scope)
        {
            using (OptionsHandle handle = OptionsHandle.Create())
            {
                options.ApplyTo(handle);
                IntPtr report = IntPtr.Zero;
                IntPtr error = IntPtr.Zero;
                uint status = NativeMethods.certless_diagnose_options(
                    handle, scope == null ? null : Native.Utf8(scope), ref report, ref error);
                return TakeReport(status, report, error);
            }
        }

        /// <summary>
        /// <see cref="Diagnose(string, string, string)"/> with settings: the scope, and where to read the app's federated
        /// credentials back from, so that the report's <c>headline</c> names the credential that matches the managed
        /// identity (<c>... through federated credential '&lt;name&gt;'</c>) or the one that nearly does, what differs
        /// and the <c>az</c> command that fixes it. Settings the native library refuses (two sources of the list, a
        /// Graph token source missing or doubled, a malformed <see cref="CertlessDiagnoseSettings.FederatedCredentialsJson"/>)
        /// throw a <see cref="CertlessException"/> with code 100 that says what is wrong.
        /// </summary>
        /// <param name="settings">What to ask for and read back; null: the defaults.</param>
        /// <param name="configPath">An <c>appsettings.json</c>; with <paramref name="configJson"/> also null, the environment.</param>
        /// <param name="configJson">The configuration as JSON (at most one of the two).</param>
        public static string Diagnose(CertlessDiagnoseSettings settings, string configPath = null, string configJson = null)
        {
            string settingsJson = settings == null ? null : settings.ToJson();
            Native.EnsureLoaded();
            return DiagnoseWithNative(configPath, configJson, null, settingsJson);
        }

        /// <summary>
        /// <see cref="Diagnose(CertlessOptions, string)"/> with settings, as <see cref="Diagnose(CertlessDiagnoseSettings, string, string)"/>
        /// takes them.
        /// </summary>
        /// <param name="options">The credential's options.</param>
        /// <param name="settings">What to ask for and read back; null: the defaults.</param>
        public static string Diagnose(CertlessOptions options, CertlessDiagnoseSettings settings)
        {
            if (options == null) throw new ArgumentNullException("options");
            string settingsJson = settings == null ? null : settings.ToJson();
            Native.EnsureLoaded();
            return DiagnoseWithNative(null, null, options, settingsJson);
        }

        [MethodImpl(MethodImplOptions.NoInlining)]
        private static string DiagnoseWithNative(string configPath, string configJson, CertlessOptions options, string settingsJson)
        {
            byte[] path = configPath == null ? null : Native.Utf8(configPath);
            byte[] json = configJson == null ? null : Native.Utf8(configJson);
            byte[] settings = settingsJson == null ? null : Native.Utf8(settingsJson);
            IntPtr report = IntPtr.Zero;
            IntPtr error = IntPtr.Zero;
            if (options == null)
            {
                uint status = NativeMethods.certless_diagnose_with(path, json, IntPtr.Zero, settings, ref report, ref error);
                return TakeReport(status, report, error);
            }
            using (OptionsHandle handle = OptionsHandle.Create())
            {
                options.ApplyTo(handle);
                uint status = NativeMethods.certless_diagnose_with(path, json, handle, settings, ref report, ref error);
                return TakeReport(status, report, error);
            }
        }

        /// <summary>
        /// Why a resource (SharePoint, Microsoft Graph, ...) refused a token from certless, as an exception to throw
        /// or log: code 700, leg <c>resource</c>, a message that names the resource, the SharePoint site and what the
        /// token carried (roles, audience, app; never the token), and a <see cref="CertlessException.Remedy"/> with
        /// what is missing and how to add it (for <c>Sites.Selected</c>, the Microsoft Graph requests that grant the
        /// site). <see cref="CertlessAuthenticationHandler.ExplainRefusalAsync"/> calls it for a response.
        /// </summary>
        /// <param name="url">The refused request's URL.</param>
        /// <param name="status">The answer's HTTP status (401 or 403).</param>
        /// <param name="wwwAuthenticate">The answer's <c>WWW-Authenticate</c> header; null when none.</param>
        /// <param name="body">The answer's body; null when not read.</param>
        /// <param name="token">The bearer token that was sent; null when not known (the explanation then says less).</param>
        public static CertlessException ExplainRefusal(string url, int status, string wwwAuthenticate, string body, string token)
        {
            if (url == null) throw new ArgumentNullException("url");
            if (status < 0 || status > 999) throw new ArgumentOutOfRangeException("status", "an HTTP status");
            Native.EnsureLoaded();
            return ExplainNative(url, status, wwwAuthenticate, body, token);
        }

        [MethodImpl(MethodImplOptions.NoInlining)]
        private static CertlessException ExplainNative(string url, int status, string wwwAuthenticate, string body, string token)
        {
            IntPtr error = IntPtr.Zero;
            NativeMethods.certless_explain_refusal(Native.Utf8(url), (ushort)status,
                wwwAuthenticate == null ? null : Native.Utf8(wwwAuthenticate), body == null ? null : Native.Utf8(body),
                token == null ? null : Native.Utf8(token), ref error);
            if (error == IntPtr.Zero)
            {
                return new CertlessException("certless could not explain the refusal (HTTP " + status + ")", 900, "internal",
                    null, null, status, new int[0], null, null, null, null, new CertlessException[0], false);
            }
            return Native.TakeError(error);
        }

        // The report's JSON, freeing the report; the error as an exception.
        private static string TakeReport(uint status, IntPtr report, IntPtr error)
        {
            Native.ThrowIfFailed(status, error);
            try
            {
                return Native.ReadUtf8(NativeMethods.certless_report_json(report));
            }
            finally
            {
                NativeMethods.certless_report_free(report);
            }
        }

        private delegate uint Factory(ref IntPtr credential, ref IntPtr error);

        private static CertlessCredential Create(Factory factory)
        {
            IntPtr credential = IntPtr.Zero;
            IntPtr error = IntPtr.Zero;
            uint status = factory(ref credential, ref error);
            Native.ThrowIfFailed(status, error);
            return new CertlessCredential(new CredentialHandle(credential));
        }

        /// <summary>
        /// An access token for one resource, e.g. <c>https://contoso.sharepoint.com/.default</c>: from the
        /// cache at once, else the calling thread waits while certless asks the managed-identity endpoint
        /// and Entra. Prefer <see cref="GetTokenAsync(string[], CancellationToken)"/> on request threads.
        /// </summary>
        /// <exception cref="CertlessException">The token could not be obtained; see its code, leg and AADSTS codes.</exception>
        public CertlessToken GetToken(params string[] scopes)
        {
            return GetToken(scopes, null);
        }

        /// <summary>
        /// <see cref="GetToken(string[])"/> with request options: the claims of a Continuous Access
        /// Evaluation challenge (which bypass the cache), another tenant, a forced refresh.
        /// </summary>
        /// <exception cref="CertlessException">The token could not be obtained; see its code, leg and AADSTS codes.</exception>
        public CertlessToken GetToken(string[] scopes, CertlessTokenRequestOptions options)
        {
            ThrowIfDisposed();
            TokenMemo.Entry kept = Kept(scopes, options);
            if (kept != null) return kept.Token;
            using (TokenOptionsHandle native = options == null ? null : options.ToNative())
            {
                // The calling thread waits in managed code, not in a native call: an AppDomain being
                // unloaded (an IIS recycle) can then abandon the request and end the wait at once,
                // instead of waiting for the managed-identity endpoint and Entra to answer.
                Task<CertlessToken> started = PendingRequest.Start(handle, scopes, native, CancellationToken.None);
                if (started == null) return GetTokenBlocking(scopes, options, native);
                CertlessToken token = started.GetAwaiter().GetResult();
                if (scopes.Length != 1 || (options != null && !options.IsDefault)) return token;
                // Kept for the next calls, which then hand out this very object while the native cache
                // holds this token.
                TokenMemo.Entry now = Cached(scopes);
                return now != null && string.Equals(now.Token.Token, token.Token, StringComparison.Ordinal) ? now.Token : token;
            }
        }

        /// <summary>The cached token for the scopes if a valid one is cached; never waits, never touches the network.</summary>
        public bool TryGetCachedToken(string[] scopes, out CertlessToken token)
        {
            ThrowIfDisposed();
            TokenMemo.Entry entry = Cached(scopes);
            token = entry == null ? null : entry.Token;
            return entry != null;
        }

        /// <summary>
        /// What the shared cache (<see cref="CertlessOptions.SharedCache"/>, <c>CERTLESS_SHARED_CACHE</c>) did since this
        /// credential was made, and its breaker's state now; null when the credential has none. Never waits, never
        /// touches the network.
        /// </summary>
        public CertlessSharedCacheStats GetSharedCacheStats()
        {
            ThrowIfDisposed();
            string target = Native.ReadUtf8(NativeMethods.certless_credential_shared_cache_target(handle));
            if (target == null) return null;
            string state = Native.ReadUtf8(NativeMethods.certless_credential_shared_cache_state(handle));
            return new CertlessSharedCacheStats(target, state, name =>
            {
                ulong value = 0;
                IntPtr error = IntPtr.Zero;
                Native.ThrowIfFailed(NativeMethods.certless_credential_shared_cache_counter(handle, Native.Utf8(name), ref value, ref error), error);
                return (long)value;
            });
        }

        /// <summary>
        /// An access token, without blocking any thread: a cached token completes synchronously;
        /// otherwise the request runs on certless's native worker threads and the task completes on
        /// the thread pool. Cancelling <paramref name="cancellationToken"/> cancels the request.
        /// </summary>
        /// <returns>A task that faults with <see cref="CertlessException"/> on failure.</returns>
        public Task<CertlessToken> GetTokenAsync(string[] scopes, CancellationToken cancellationToken = default(CancellationToken))
        {
            return GetTokenAsync(scopes, null, cancellationToken);
        }

        /// <summary>
        /// <see cref="GetTokenAsync(string[], CancellationToken)"/> with request options: the claims of a
        /// Continuous Access Evaluation challenge (which bypass the cache), another tenant, a forced refresh.
        /// </summary>
        /// <returns>A task that faults with <see cref="CertlessException"/> on failure.</returns>
        public Task<CertlessToken> GetTokenAsync(string[] scopes, CertlessTokenRequestOptions options,
            CancellationToken cancellationToken = default(CancellationToken))
        {
            if (scopes == null) throw new ArgumentNullException("scopes");
            ThrowIfDisposed();
            var failed = new TaskCompletionSource<CertlessToken>();
            if (cancellationToken.IsCancellationRequested)
            {
                failed.SetCanceled();
                return failed.Task;
            }
            try
            {
                if (options == null || options.IsDefault)
                {
                    TokenMemo.Entry entry = Cached(scopes);
                    if (entry != null) return entry.Completed;
                }
                using (TokenOptionsHandle native = options == null ? null : options.ToNative())
                {
                    Task<CertlessToken> started = PendingRequest.Start(handle, scopes, native, cancellationToken);
                    if (started != null) return started;
                    // The AppDomain is unloading: nothing may call back into it, so ask synchronously.
                    failed.SetResult(GetTokenBlocking(scopes, options, native));
                    return failed.Task;
                }
            }
            catch (CertlessException e)
            {
                failed.SetException(e);
                return failed.Task;
            }
        }

        // The native library's blocking call: the calling thread waits in native code, and nothing calls back.
        private CertlessToken GetTokenBlocking(string[] scopes, CertlessTokenRequestOptions options, TokenOptionsHandle native)
        {
            using (var list = new Utf8List(scopes))
            {
                IntPtr token = IntPtr.Zero;
                IntPtr error = IntPtr.Zero;
                uint status = NativeMethods.certless_credential_get_token(handle, list.Pointers, list.Length,
                    Native.OrNull(native), ref token, ref error);
                Native.ThrowIfFailed(status, error);
                return Take(scopes, options, token).Token;
            }
        }

        // A cache hit, in the order of cost: the managed copy kept from an earlier call while the
        // native cache still holds that very token (no string copied), else the native cache.
        private TokenMemo.Entry Cached(string[] scopes)
        {
            TokenMemo.Entry kept = Kept(scopes, null);
            if (kept != null) return kept;
            using (var list = new Utf8List(scopes))
            {
                IntPtr native = IntPtr.Zero;
                IntPtr error = IntPtr.Zero;
                uint status = NativeMethods.certless_credential_cached_token(handle, list.Pointers, list.Length, ref native, ref error);
                if (status == Native.NotCached) return null;
                Native.ThrowIfFailed(status, error);
                return Take(scopes, null, native);
            }
        }

        private TokenMemo.Entry Kept(string[] scopes, CertlessTokenRequestOptions options)
        {
            if (scopes == null) throw new ArgumentNullException("scopes");
            if (scopes.Length != 1 || (options != null && !options.IsDefault)) return null;
            return memo.Find(handle, scopes[0]);
        }

        // Copies a native token into a managed one; for a plain one-scope request it is kept (with the
        // native token, whose identity the native cache is asked about), else released at once.
        private TokenMemo.Entry Take(string[] scopes, CertlessTokenRequestOptions options, IntPtr token)
        {
            var native = new TokenHandle(token);
            if (scopes.Length == 1 && scopes[0] != null && (options == null || options.IsDefault))
            {
                return memo.Keep(scopes[0], native);
            }
            using (native)
            {
                return new TokenMemo.Entry(null, null, null, Native.ReadToken(native));
            }
        }

        // A disposed credential is refused here, before any native call: an ObjectDisposedException raised inside
        // Mono's P/Invoke marshalling of the closed handle can leave the runtime holding an object of the AppDomain,
        // which aborts the process when that AppDomain is unloaded.
        private void ThrowIfDisposed()
        {
            if (handle.IsClosed) throw new ObjectDisposedException("CertlessCredential", "this credential has been disposed");
        }

        /// <summary>Releases the native credential. Idempotent.</summary>
        public void Dispose()
        {
            handle.Dispose();
            memo.Dispose();
        }
    }
}
