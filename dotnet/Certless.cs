// certless for .NET: Microsoft Entra access tokens from a managed identity through a federated
// identity credential -- no certificate, no secret.
//
// The NuGet package Certless carries this file compiled, with the native libraries. Or, one file
// with no dependencies: add it to your project (or build dotnet/Certless.csproj) and put the
// native library beside your application:
//   Windows   bin\x64\certless.dll and bin\x86\certless.dll (picked by process bitness, so one
//             deployment serves 32-bit and 64-bit IIS application pools), or a single
//             bin\certless.dll of the process's bitness
//   Linux     libcertless.so beside the .exe or on LD_LIBRARY_PATH
//   macOS     libcertless.dylib beside the .exe or on DYLD_LIBRARY_PATH
// CERTLESS_LIBRARY_PATH (the full path of the native library) overrides the search on Windows.
//
// Compiles with C# 7.2 (Mono's mcs, Visual Studio 2017) for .NET Framework 4.5+ and for modern
// .NET. Thin glue over the C ABI (include/certless.h): all token logic lives in the native library.

using System;
using System.Collections.Generic;
using System.IO;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace Certless
{
    /// <summary>An access token and what is known about it.</summary>
    public sealed class CertlessToken
    {
        internal CertlessToken(string token, string tokenType, long expiresOn, long refreshOn, string source)
        {
            Token = token;
            TokenType = tokenType;
            ExpiresOnUnixSeconds = expiresOn;
            ExpiresOn = FromUnix(expiresOn);
            RefreshOn = refreshOn == 0 ? (DateTimeOffset?)null : FromUnix(refreshOn);
            Source = source;
        }

        /// <summary>The bearer token: send it as <c>Authorization: Bearer {Token}</c>. Never log it.</summary>
        public string Token { get; private set; }

        /// <summary><c>Bearer</c>, in practice.</summary>
        public string TokenType { get; private set; }

        /// <summary>When the token expires (UTC).</summary>
        public DateTimeOffset ExpiresOn { get; private set; }

        /// <summary>When the token expires, in Unix seconds.</summary>
        public long ExpiresOnUnixSeconds { get; private set; }

        /// <summary>When to refresh the token, if Entra said; null otherwise (certless refreshes its cache itself).</summary>
        public DateTimeOffset? RefreshOn { get; private set; }

        /// <summary>Which credential source produced the token (<c>SignedAssertionFromManagedIdentity</c>).</summary>
        public string Source { get; private set; }

        /// <summary>Describes the token without revealing it.</summary>
        public override string ToString()
        {
            return string.Format("CertlessToken({0}, expires {1:u}, from {2}, value redacted)", TokenType, ExpiresOn, Source);
        }

        private static DateTimeOffset FromUnix(long seconds)
        {
            return new DateTimeOffset(1970, 1, 1, 0, 0, 0, TimeSpan.Zero).AddSeconds(seconds);
        }
    }

    /// <summary>
    /// A certless error: a stable numeric <see cref="Code"/> (the same in every certless binding),
    /// the <see cref="Leg"/> of the flow that failed, and what the server said. The message is the
    /// whole story (leg, cause, HTTP status, AADSTS codes, ids, fix); quote the trace and
    /// correlation ids in a support ticket.
    /// </summary>
    public class CertlessException : Exception
    {
        internal CertlessException(string text, int code, string leg, string detail, string remedy, int? httpStatus,
            int[] aadstsCodes, string oauthError, string traceId, string correlationId, string credentialSource,
            CertlessException[] causes, bool isUnavailable)
            : base(text)
        {
            IsUnavailable = isUnavailable;
            Code = code;
            Leg = leg;
            Detail = detail;
            Remedy = remedy;
            HttpStatus = httpStatus;
            AadstsCodes = Array.AsReadOnly(aadstsCodes);
            OAuthError = oauthError;
            TraceId = traceId;
            CorrelationId = correlationId;
            CredentialSource = credentialSource;
            Causes = Array.AsReadOnly(causes);
        }

        /// <summary>The stable error code: 1xx configuration, 2xx managed-identity endpoint, 3xx Entra exchange, 4xx chain, 500 cancelled, 700 the resource refused the token, 900 internal.</summary>
        public int Code { get; private set; }

        /// <summary><c>config</c>, <c>managed_identity</c>, <c>exchange</c>, <c>key_vault</c>, <c>chain</c>, <c>caller</c>, <c>resource</c> or <c>internal</c>.</summary>
        public string Leg { get; private set; }

        /// <summary>What went wrong in one or two sentences, without the details and the fix.</summary>
        public string Detail { get; private set; }

        /// <summary>How to fix the common causes; null when unknown.</summary>
        public string Remedy { get; private set; }

        /// <summary>The HTTP status the failing endpoint answered with; null when there was no HTTP answer.</summary>
        public int? HttpStatus { get; private set; }

        /// <summary>Entra's AADSTS codes (70021 for AADSTS70021, ...); empty for other errors.</summary>
        public IList<int> AadstsCodes { get; private set; }

        /// <summary>The OAuth <c>error</c> field (<c>invalid_client</c>, ...); null when none.</summary>
        public string OAuthError { get; private set; }

        /// <summary>Entra's trace id; null when Entra sent none.</summary>
        public string TraceId { get; private set; }

        /// <summary>The correlation id of the failed request; null when there was no request.</summary>
        public string CorrelationId { get; private set; }

        /// <summary>The credential source that failed (<c>SignedAssertionFromManagedIdentity</c>, ...); null when not about one source.</summary>
        public string CredentialSource { get; private set; }

        /// <summary>For code 400 (every credential source failed): each source's failure, in order.</summary>
        public IList<CertlessException> Causes { get; private set; }

        /// <summary>
        /// True when the credential cannot work on this host at all, as opposed to failing: there is no
        /// managed identity here (nothing answers at IMDS's address, or Docker Desktop answers for it) and no
        /// other source of the credential list produced a token. Such an error is a
        /// <see cref="CertlessCredentialUnavailableException"/>; a host that tries several ways to authenticate
        /// moves on to its next one.
        /// </summary>
        public bool IsUnavailable { get; private set; }
    }

    /// <summary>
    /// There is no managed identity on this host and no other source of the credential list produced a token
    /// (<see cref="CertlessException.IsUnavailable"/>): catch it to try another way to authenticate, as the Azure
    /// SDKs' credential chains do with their <c>CredentialUnavailableException</c>.
    /// </summary>
    public class CertlessCredentialUnavailableException : CertlessException
    {
        internal CertlessCredentialUnavailableException(string text, int code, string leg, string detail, string remedy,
            int? httpStatus, int[] aadstsCodes, string oauthError, string traceId, string correlationId,
            string credentialSource, CertlessException[] causes)
            : base(text, code, leg, detail, remedy, httpStatus, aadstsCodes, oauthError, traceId, correlationId,
                credentialSource, causes, true)
        {
        }
    }

    /// <summary>Log levels of <see cref="CertlessLog.SetLogger"/>.</summary>
    public enum CertlessLogLevel
    {
        /// <summary>No messages.</summary>
        Off = 0,
        /// <summary>A token request failed.</summary>
        Error = 1,
        /// <summary>A credential source failed and the next was tried; a token arrived with little life left.</summary>
        Warning = 2,
        /// <summary>Which managed-identity source was chosen and why; a token was acquired.</summary>
        Information = 3,
        /// <summary>Details for troubleshooting.</summary>
        Debug = 4,
        /// <summary>Everything.</summary>
        Trace = 5,
    }

    /// <summary>The native library's log messages (already free of tokens and secrets).</summary>
    public static class CertlessLog
    {
        private static readonly object Gate = new object();
        private static Action<CertlessLogLevel, string> logger;
        // This AppDomain's native subscription (certless_log_subscription *); zero when none.
        private static IntPtr subscription;
        // Kept in a static field: the native side holds a pointer to it while subscribed. Statics are
        // per AppDomain, and so is the thunk the runtime makes for this delegate.
        private static readonly NativeMethods.LogCallback Callback = OnLog;

        /// <summary>
        /// Sends messages up to <paramref name="maxLevel"/> to <paramref name="log"/>, which is called on
        /// a thread certless keeps for this logger, one message at a time, in order, and must not call
        /// <see cref="SetLogger"/>. Null (or <see cref="CertlessLogLevel.Off"/>) turns logging off; once that
        /// returns, every message has been delivered. One logger per AppDomain: each application of an IIS
        /// application pool (each in its AppDomain) may set its own. When the AppDomain unloads (an IIS
        /// recycle) or the process exits, the logger is removed first, so no native thread calls into an
        /// unloaded AppDomain.
        /// </summary>
        public static void SetLogger(Action<CertlessLogLevel, string> log, CertlessLogLevel maxLevel)
        {
            Native.EnsureLoaded();
            DomainLifetime.EnsureHooked();
            lock (Gate)
            {
                bool wanted = log != null && maxLevel != CertlessLogLevel.Off;
                if (wanted && DomainLifetime.IsClosing)
                {
                    throw new InvalidOperationException("certless: this AppDomain is unloading; no logger can be set now.");
                }
                IntPtr old = subscription;
                subscription = IntPtr.Zero;
                if (old != IntPtr.Zero)
                {
                    // Waits until the old logger has been given what was queued for it.
                    Unsubscribe(old);
                }
                logger = log;
                if (!wanted) return;
                subscription = Subscribe(maxLevel);
            }
        }

        // The native calls live in methods of their own, compiled only once the library is loaded (Mono
        // binds a method's P/Invokes when it compiles the method: Native.EnsureLoaded).
        [MethodImpl(MethodImplOptions.NoInlining)]
        private static IntPtr Subscribe(CertlessLogLevel maxLevel)
        {
            IntPtr added = IntPtr.Zero;
            IntPtr error = IntPtr.Zero;
            uint status = NativeMethods.certless_log_subscribe(Callback, IntPtr.Zero, (uint)maxLevel, ref added, ref error);
            Native.ThrowIfFailed(status, error);
            return added;
        }

        [MethodImpl(MethodImplOptions.NoInlining)]
        private static void Unsubscribe(IntPtr old)
        {
            NativeMethods.certless_log_unsubscribe(old);
        }

        /// <summary>Removes this AppDomain's logger (it is unloading, or the process exits).</summary>
        internal static void Detach()
        {
            try
            {
                lock (Gate)
                {
                    if (subscription == IntPtr.Zero) return;
                }
                SetLogger(null, CertlessLogLevel.Off);
            }
            catch (Exception)
            {
                // Unloading anyway.
            }
        }

        private static void OnLog(IntPtr userdata, uint level, IntPtr message)
        {
            try
            {
                Native.MarkBackground();
                Action<CertlessLogLevel, string> log = logger;
                if (log != null)
                {
                    log((CertlessLogLevel)level, Native.ReadUtf8(message));
                }
            }
            catch (Exception)
            {
                // An exception must not unwind into native code; a failing logger loses one line.
            }
        }
    }

    /// <summary>
    /// The life of this AppDomain as certless sees it. Native threads call into managed code in two places:
    /// the completion of a <see cref="CertlessCredential.GetTokenAsync(string[], CancellationToken)"/> and the
    /// logger. Both enter the AppDomain that registered them, through a thunk that belongs to it. When the
    /// AppDomain unloads (IIS recycles an application on every deployment to bin\ and every Web.config edit,
    /// inside the same w3wp.exe, with the native library still loaded) or the process exits, this abandons every
    /// request the AppDomain still has running (the native library then never calls their completion) and removes
    /// its logger, before the runtime tears the AppDomain down. What the native side keeps (its runtime threads)
    /// never runs managed code, so a new AppDomain uses the loaded library as the first one did.
    /// </summary>
    internal static class DomainLifetime
    {
        private static readonly object Gate = new object();
        private static readonly HashSet<PendingRequest> Running = new HashSet<PendingRequest>();
        private static bool hooked;
        private static bool closing;

        /// <summary>True once the AppDomain has begun to unload (or the process to exit).</summary>
        internal static bool IsClosing
        {
            get { return Volatile.Read(ref closing); }
        }

        internal static void EnsureHooked()
        {
            if (Volatile.Read(ref hooked)) return;
            lock (Gate)
            {
                if (hooked) return;
                // .NET Framework raises DomainUnload in every AppDomain but the default one, and ProcessExit
                // there; Mono raises both; modern .NET has one AppDomain and raises ProcessExit.
                AppDomain.CurrentDomain.DomainUnload += OnUnload;
                AppDomain.CurrentDomain.ProcessExit += OnUnload;
                Volatile.Write(ref hooked, true);
            }
        }

        /// <summary>
        /// Starts a native request with <paramref name="start"/> and tracks it until it completes, atomically with
        /// respect to <see cref="Close"/>: a request is either abandoned by it or not started. False when the
        /// AppDomain is closing (nothing was started).
        /// </summary>
        internal static bool Track(PendingRequest request, Func<bool> start)
        {
            lock (Gate)
            {
                if (closing) return false;
                if (start()) Running.Add(request);
                return true;
            }
        }

        internal static void Untrack(PendingRequest request)
        {
            lock (Gate)
            {
                Running.Remove(request);
            }
        }

        private static void OnUnload(object sender, EventArgs e)
        {
            Close();
        }

        /// <summary>Abandons every running request and removes the logger. Idempotent.</summary>
        internal static void Close()
        {
            PendingRequest[] running;
            lock (Gate)
            {
                if (closing) return;
                Volatile.Write(ref closing, true);
                running = new PendingRequest[Running.Count];
                Running.CopyTo(running);
                Running.Clear();
            }
            // Outside the lock: abandoning waits for a completion running on another thread, which
            // untracks itself under the lock.
            foreach (PendingRequest request in running)
            {
                request.Abandon();
            }
            CertlessLog.Detach();
        }
    }

    /// <summary>
    /// The options of a <see cref="CertlessCredential"/>, for <see cref="CertlessCredential.FromOptions"/>: every
    /// option as a property, and any option by name with <c>Set</c> (including options added to the native library
    /// after this file was written). Names are matched as the native library matches them, without regard to case or
    /// underscores (<c>TenantId</c>, <c>tenant_id</c>); a duration takes seconds, or milliseconds under its name plus
    /// <c>Ms</c> (<c>Set("DeadlineMs", 30000)</c>).
    /// </summary>
    /// <remarks>
    /// A plain object that holds no native resource, so it needs no disposal and can be built with an object
    /// initializer or bound from configuration. The native library checks every value, with the same rules and error
    /// text in every certless binding, when <see cref="CertlessCredential.FromOptions"/> builds the credential: an
    /// unknown name throws a <see cref="CertlessException"/> with code 102 whose <see cref="CertlessException.Remedy"/>
    /// names the option probably meant; a value of the wrong kind or out of range (a duration must be more than zero
    /// and at most one hour) throws one with code 100. Not thread-safe while being modified.
    /// </remarks>
    public sealed class CertlessOptions
    {
        // Everything set, in the order it was set (a later value for the same option wins); null unsets.
        private readonly List<Setting> settings = new List<Setting>();
        private readonly List<KeyValuePair<string, string>> environment = new List<KeyValuePair<string, string>>();
        private bool isolateEnvironment;

        /// <summary>The app registration's directory (tenant): a GUID or a verified domain.</summary>
        public string TenantId { get { return (string)Get("TenantId"); } set { Put("TenantId", value); } }

        /// <summary>The app registration's Application (client) ID.</summary>
        public string ClientId { get { return (string)Get("ClientId"); } set { Put("ClientId", value); } }

        /// <summary>The cloud's login host (default <c>https://login.microsoftonline.com</c>).</summary>
        public string AuthorityHost { get { return (string)Get("AuthorityHost"); } set { Put("AuthorityHost", value); } }

        /// <summary>A user-assigned managed identity by client id (at most one of the three; none: system-assigned).</summary>
        public string ManagedIdentityClientId
        {
            get { return (string)Get("ManagedIdentityClientId"); }
            set { Put("ManagedIdentityClientId", value); }
        }

        /// <summary>A user-assigned managed identity by object (principal) id.</summary>
        public string ManagedIdentityObjectId
        {
            get { return (string)Get("ManagedIdentityObjectId"); }
            set { Put("ManagedIdentityObjectId", value); }
        }

        /// <summary>A user-assigned managed identity by ARM resource id.</summary>
        public string ManagedIdentityResourceId
        {
            get { return (string)Get("ManagedIdentityResourceId"); }
            set { Put("ManagedIdentityResourceId", value); }
        }

        /// <summary>Use this managed-identity source (<c>imds</c>, <c>app_service</c>, ...) instead of detecting it.</summary>
        public string ManagedIdentitySource
        {
            get { return (string)Get("ManagedIdentitySource"); }
            set { Put("ManagedIdentitySource", value); }
        }

        /// <summary>The managed-identity token's audience (default <c>api://AzureADTokenExchange</c>, or the cloud's).</summary>
        public string TokenExchangeAudience
        {
            get { return (string)Get("TokenExchangeAudience"); }
            set { Put("TokenExchangeAudience", value); }
        }

        /// <summary>Time to establish a connection (default 5 s).</summary>
        public TimeSpan? ConnectTimeout { get { return Duration("ConnectTimeout"); } set { Put("ConnectTimeout", Seconds(value)); } }

        /// <summary>Time for one HTTP request (default 30 s).</summary>
        public TimeSpan? RequestTimeout { get { return Duration("RequestTimeout"); } set { Put("RequestTimeout", Seconds(value)); } }

        /// <summary>Time for one token request, retries included (default 120 s, or <c>CERTLESS_REQUEST_DEADLINE</c>).</summary>
        public TimeSpan? Deadline { get { return Duration("Deadline"); } set { Put("Deadline", Seconds(value)); } }

        /// <summary>A PEM file of extra CA certificates to trust for Entra.</summary>
        public string CaFile { get { return (string)Get("CaFile"); } set { Put("CaFile", value); } }

        /// <summary>Start from this Microsoft.Identity.Web configuration (an <c>appsettings.json</c> or its <c>AzureAd</c> section) as JSON.</summary>
        public string ConfigJson { get { return (string)Get("ConfigJson"); } set { Put("ConfigJson", value); } }

        /// <summary>Start from this Microsoft.Identity.Web configuration file.</summary>
        public string ConfigFile { get { return (string)Get("ConfigFile"); } set { Put("ConfigFile", value); } }

        /// <summary>Start from the environment variables (<c>AZURE_TENANT_ID</c>, <c>AZURE_CLIENT_ID</c>, ...).</summary>
        public bool FromEnvironment
        {
            get { return Get("FromEnv") as bool? ?? false; }
            set { Put("FromEnv", value); }
        }

        /// <summary>Sets option <paramref name="name"/> to text (every option takes text: <c>"2.5"</c>, <c>"true"</c>); null unsets it.</summary>
        public CertlessOptions Set(string name, string value)
        {
            return Add(name, value);
        }

        /// <summary>Sets option <paramref name="name"/> to a number: seconds for a duration, milliseconds under a name ending in <c>Ms</c>.</summary>
        public CertlessOptions Set(string name, double value)
        {
            return Add(name, value);
        }

        /// <summary>Sets the flag option <paramref name="name"/>.</summary>
        public CertlessOptions Set(string name, bool value)
        {
            return Add(name, value);
        }

        /// <summary>
        /// Adds a variable to the environment the credential reads (managed-identity detection,
        /// <see cref="FromEnvironment"/>) instead of the process's: once one is added, the process's environment
        /// is not read at all.
        /// </summary>
        public CertlessOptions SetEnvironmentVariable(string name, string value)
        {
            if (name == null) throw new ArgumentNullException("name");
            if (value == null) throw new ArgumentNullException("value");
            environment.Add(new KeyValuePair<string, string>(name, value));
            return this;
        }

        /// <summary>The credential reads no variable of the process's environment, only those added with <see cref="SetEnvironmentVariable"/>.</summary>
        public CertlessOptions IsolateEnvironment()
        {
            isolateEnvironment = true;
            return this;
        }

        private CertlessOptions Add(string name, object value)
        {
            if (name == null) throw new ArgumentNullException("name");
            settings.Add(new Setting(name, value, false));
            return this;
        }

        // A property replaces what it set before, and reads back only that (Set's names are the native
        // library's to match); null leaves the option unset.
        private void Put(string name, object value)
        {
            settings.RemoveAll(s => s.ByProperty && s.Name == name);
            if (value != null) settings.Add(new Setting(name, value, true));
        }

        private object Get(string name)
        {
            for (int i = settings.Count - 1; i >= 0; i--)
            {
                if (settings[i].ByProperty && settings[i].Name == name) return settings[i].Value;
            }
            return null;
        }

        private TimeSpan? Duration(string name)
        {
            object seconds = Get(name);
            return seconds == null ? (TimeSpan?)null : TimeSpan.FromSeconds((double)seconds);
        }

        private static object Seconds(TimeSpan? value)
        {
            return value.HasValue ? (object)value.Value.TotalSeconds : null;
        }

        /// <summary>Hands every option to a native options object, which checks each one.</summary>
        internal void ApplyTo(OptionsHandle handle)
        {
            foreach (Setting s in settings)
            {
                IntPtr error = IntPtr.Zero;
                byte[] name = Native.Utf8(s.Name);
                uint status;
                if (s.Value == null)
                {
                    status = NativeMethods.certless_options_unset(handle, name, ref error);
                }
                else if (s.Value is string)
                {
                    status = NativeMethods.certless_options_set(handle, name, Native.Utf8((string)s.Value), ref error);
                }
                else if (s.Value is bool)
                {
                    status = NativeMethods.certless_options_set_flag(handle, name, (bool)s.Value, ref error);
                }
                else
                {
                    status = NativeMethods.certless_options_set_number(handle, name, (double)s.Value, ref error);
                }
                Native.ThrowIfFailed(status, error);
            }
            if (isolateEnvironment)
            {
                IntPtr error = IntPtr.Zero;
                Native.ThrowIfFailed(NativeMethods.certless_options_isolate_environment(handle, ref error), error);
            }
            foreach (KeyValuePair<string, string> variable in environment)
            {
                IntPtr error = IntPtr.Zero;
                uint status = NativeMethods.certless_options_set_environment_variable(
                    handle, Native.Utf8(variable.Key), Native.Utf8(variable.Value), ref error);
                Native.ThrowIfFailed(status, error);
            }
        }

        private struct Setting
        {
            internal readonly string Name;
            internal readonly object Value;
            internal readonly bool ByProperty;

            internal Setting(string name, object value, bool byProperty)
            {
                Name = name;
                Value = value;
                ByProperty = byProperty;
            }
        }
    }

    /// <summary>
    /// Options of one token request beyond the scopes: the claims of a Continuous Access Evaluation
    /// challenge, another tenant, a forced refresh. Null or a default instance means none.
    /// </summary>
    public sealed class CertlessTokenRequestOptions
    {
        /// <summary>
        /// The claims a resource asked for in a Continuous Access Evaluation challenge (the JSON, decoded
        /// from the <c>claims</c> parameter of its <c>WWW-Authenticate: Bearer</c> header). Such a
        /// request bypasses the cache, and its token replaces the cached one.
        /// </summary>
        public string Claims { get; set; }

        /// <summary>Another tenant than the configured one (multi-tenant apps): a GUID or a domain.</summary>
        public string TenantId { get; set; }

        /// <summary>Fetch a new token even if a cached one is valid (it then replaces the cached one).</summary>
        public bool ForceRefresh { get; set; }

        internal bool IsDefault
        {
            get { return Claims == null && TenantId == null && !ForceRefresh; }
        }

        /// <summary>A native copy for one call; null for the defaults.</summary>
        internal TokenOptionsHandle ToNative()
        {
            if (IsDefault) return null;
            TokenOptionsHandle handle = TokenOptionsHandle.Create();
            try
            {
                IntPtr error = IntPtr.Zero;
                if (Claims != null)
                {
                    Native.ThrowIfFailed(NativeMethods.certless_token_options_set_claims(handle, Native.Utf8(Claims), ref error), error);
                }
                if (TenantId != null)
                {
                    Native.ThrowIfFailed(NativeMethods.certless_token_options_set_tenant_id(handle, Native.Utf8(TenantId), ref error), error);
                }
                if (ForceRefresh)
                {
                    Native.ThrowIfFailed(NativeMethods.certless_token_options_set_force_refresh(handle, true, ref error), error);
                }
                return handle;
            }
            catch
            {
                handle.Dispose();
                throw;
            }
        }
    }

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

    /// <summary>
    /// The managed tokens last handed out, one per scope, each with its native token. A warm
    /// <c>GetToken</c> asks the native cache whether it still holds that very token
    /// (<c>certless_credential_token_is_current</c>: no string crosses the boundary) and hands out
    /// the managed copy while it does. Whether a token may be used is the native cache's decision
    /// alone: this only spares the copy.
    /// </summary>
    internal sealed class TokenMemo : IDisposable
    {
        // Scopes (distinct resources or spellings) kept; older ones are copied again on use.
        private const int Kept = 16;
        private static readonly Entry[] None = new Entry[0];

        private readonly object gate = new object();
        // Replaced whole under the lock, read without it.
        private Entry[] entries = None;

        internal sealed class Entry : IDisposable
        {
            internal readonly string Scope;
            internal readonly ScopeHandle NativeScope;
            internal readonly TokenHandle NativeToken;
            internal readonly CertlessToken Token;
            internal readonly Task<CertlessToken> Completed;

            internal Entry(string scope, ScopeHandle nativeScope, TokenHandle nativeToken, CertlessToken token)
            {
                Scope = scope;
                NativeScope = nativeScope;
                NativeToken = nativeToken;
                Token = token;
                Completed = Task.FromResult(token);
            }

            public void Dispose()
            {
                if (NativeToken != null) NativeToken.Dispose();
                if (NativeScope != null) NativeScope.Dispose();
            }
        }

        /// <summary>The kept entry for <paramref name="scope"/> if the native cache still holds its token.</summary>
        internal Entry Find(CredentialHandle credential, string scope)
        {
            Entry[] current = Volatile.Read(ref entries);
            for (int i = 0; i < current.Length; i++)
            {
                Entry entry = current[i];
                if (!string.Equals(entry.Scope, scope, StringComparison.Ordinal)) continue;
                try
                {
                    return NativeMethods.certless_credential_token_is_current(credential, entry.NativeScope, new UIntPtr(1),
                        IntPtr.Zero, entry.NativeToken) ? entry : null;
                }
                catch (ObjectDisposedException)
                {
                    // Replaced (or the credential disposed) meanwhile: take the slow path, which says which.
                    return null;
                }
            }
            return null;
        }

        /// <summary>Copies <paramref name="native"/> (now owned here) and keeps both for <paramref name="scope"/>.</summary>
        internal Entry Keep(string scope, TokenHandle native)
        {
            Entry entry;
            try
            {
                entry = new Entry(scope, ScopeHandle.Create(scope), native, Native.ReadToken(native));
            }
            catch
            {
                native.Dispose();
                throw;
            }
            Entry dropped = null;
            lock (gate)
            {
                var next = new List<Entry>(entries.Length + 1);
                foreach (Entry e in entries)
                {
                    if (string.Equals(e.Scope, scope, StringComparison.Ordinal)) dropped = e;
                    else next.Add(e);
                }
                if (dropped == null && next.Count >= Kept)
                {
                    dropped = next[0];
                    next.RemoveAt(0);
                }
                next.Add(entry);
                Volatile.Write(ref entries, next.ToArray());
            }
            // A reader that still holds the dropped entry gets ObjectDisposedException, or the
            // native handles stay alive until its call returns (SafeHandle reference counts).
            if (dropped != null) dropped.Dispose();
            return entry;
        }

        public void Dispose()
        {
            Entry[] old;
            lock (gate)
            {
                old = entries;
                Volatile.Write(ref entries, None);
            }
            foreach (Entry e in old) e.Dispose();
        }
    }

    /// <summary>One <see cref="CertlessCredential.GetTokenAsync(string[], CancellationToken)"/> request waiting for its native completion callback.</summary>
    internal sealed class PendingRequest
    {
        // One delegate for every request, in a static field: it is never collected, so the native
        // side can always call it. Each request's state travels as a GCHandle in `userdata`, which
        // keeps the state alive until the callback has run exactly once.
        private static readonly NativeMethods.TokenCallback Callback = OnCompleted;

        private readonly TaskCompletionSource<CertlessToken> completion = new TaskCompletionSource<CertlessToken>();
        private readonly CancellationToken cancellationToken;
        private readonly object gate = new object();
        private PendingHandle pending;
        // Keeps this request alive for the native callback (its userdata) until it runs or is abandoned.
        private GCHandle selfHandle;
        private CancellationTokenRegistration registration;
        private bool registered;
        private bool completed;

        private PendingRequest(CancellationToken cancellationToken)
        {
            this.cancellationToken = cancellationToken;
        }

        /// <summary>
        /// Starts a request; null when this AppDomain is unloading (nothing started: the caller asks the
        /// native library synchronously instead, which calls nothing back).
        /// </summary>
        internal static Task<CertlessToken> Start(CredentialHandle credential, string[] scopes, TokenOptionsHandle options,
            CancellationToken cancellationToken)
        {
            DomainLifetime.EnsureHooked();
            var request = new PendingRequest(cancellationToken);
            bool open;
            using (var list = new Utf8List(scopes))
            {
                open = DomainLifetime.Track(request, () => request.StartNative(credential, list, options));
            }
            if (!open) return null;
            if (cancellationToken.CanBeCanceled)
            {
                CancellationTokenRegistration r = cancellationToken.Register(s => ((PendingRequest)s).Cancel(), request);
                bool dispose;
                lock (request.gate)
                {
                    dispose = request.completed;
                    request.registration = r;
                    request.registered = true;
                }
                if (dispose)
                {
                    r.Dispose();
                }
            }
            return request.completion.Task;
        }

        // The native start; true when the request is still running when it returns (then tracked, for
        // Abandon), false when its callback already ran (a fast answer). Throws when nothing started.
        private bool StartNative(CredentialHandle credential, Utf8List list, TokenOptionsHandle options)
        {
            GCHandle self = GCHandle.Alloc(this);
            IntPtr native = IntPtr.Zero;
            IntPtr error = IntPtr.Zero;
            uint status;
            try
            {
                status = NativeMethods.certless_credential_get_token_async(credential, list.Pointers, list.Length,
                    Native.OrNull(options), Callback, GCHandle.ToIntPtr(self), ref native, ref error);
            }
            catch
            {
                self.Free();
                throw;
            }
            if (status != Native.Ok)
            {
                self.Free(); // nothing started: the callback will never run
                Native.ThrowIfFailed(status, error);
            }
            var pendingHandle = new PendingHandle(native);
            lock (gate)
            {
                if (completed)
                {
                    pendingHandle.Dispose();
                    return false;
                }
                pending = pendingHandle;
                selfHandle = self;
                return true;
            }
        }

        /// <summary>
        /// The AppDomain is unloading: makes sure the native library never calls this request back (waiting for
        /// a completion already running on another thread), and ends the task with a cancellation error.
        /// </summary>
        internal void Abandon()
        {
            PendingHandle handle;
            lock (gate)
            {
                if (completed) return;
                handle = pending;
            }
            bool abandoned;
            try
            {
                abandoned = handle != null && NativeMethods.certless_pending_abandon(handle);
            }
            catch (Exception)
            {
                return;
            }
            if (!abandoned) return; // the completion ran (or runs no more): it finished the task
            GCHandle self;
            lock (gate)
            {
                completed = true;
                pending = null;
                self = selfHandle;
            }
            if (self.IsAllocated) self.Free();
            handle.Dispose();
            // Ended here, on the unloading thread: work queued to the thread pool of an AppDomain being
            // unloaded may never run, and a thread waiting in GetToken must wake up now.
            Finish(null, new CertlessException(
                "certless: the token request was abandoned because its AppDomain is unloading (an IIS recycle or " +
                "redeployment, or the process is exiting); a request in the new AppDomain gets a token as usual.",
                Native.Cancelled, "caller", "the token request's AppDomain is unloading", null, null, new int[0], null,
                null, null, null, new CertlessException[0], false), true);
        }

        private void Cancel()
        {
            try
            {
                lock (gate)
                {
                    if (!completed && pending != null)
                    {
                        NativeMethods.certless_pending_cancel(pending);
                    }
                }
            }
            catch (Exception)
            {
                // Cancellation callbacks must not throw; the request then completes on its own.
            }
        }

        // Runs on a short-lived thread certless creates for this completion (so Mono, which waits at
        // exit for every native thread that entered managed code, sees it end). Nothing may throw
        // out of here into native code.
        private static void OnCompleted(IntPtr userdata, IntPtr token, IntPtr error)
        {
            Native.MarkBackground();
            CertlessToken result = null;
            Exception failure = null;
            try
            {
                if (token != IntPtr.Zero)
                {
                    result = Native.TakeToken(token);
                }
                else
                {
                    failure = Native.TakeError(error);
                }
            }
            catch (Exception e)
            {
                failure = e;
            }
            try
            {
                GCHandle self = GCHandle.FromIntPtr(userdata);
                var request = (PendingRequest)self.Target;
                self.Free();
                request.Complete(result, failure);
            }
            catch (Exception)
            {
                // Only a broken userdata could get here; there is no task left to report to.
            }
        }

        private void Complete(CertlessToken result, Exception failure)
        {
            PendingHandle handle;
            lock (gate)
            {
                completed = true;
                handle = pending;
                pending = null;
            }
            DomainLifetime.Untrack(this);
            if (handle != null)
            {
                handle.Dispose();
            }
            Finish(result, failure, false);
        }

        private void Finish(CertlessToken result, Exception failure, bool inline)
        {
            bool unregister;
            lock (gate)
            {
                unregister = registered;
            }
            if (unregister)
            {
                registration.Dispose();
            }
            var certless = failure as CertlessException;
            bool cancelled = certless != null && certless.Code == Native.Cancelled && cancellationToken.IsCancellationRequested;
            WaitCallback end = _ =>
            {
                if (cancelled)
                {
                    completion.TrySetCanceled();
                }
                else if (failure != null)
                {
                    completion.TrySetException(failure);
                }
                else
                {
                    completion.TrySetResult(result);
                }
            };
            if (inline)
            {
                end(null);
            }
            else
            {
                // Continuations run on the thread pool, never on the native callback thread.
                ThreadPool.QueueUserWorkItem(end);
            }
        }
    }

    /// <summary>An owned <c>certless_credential *</c>.</summary>
    internal sealed class CredentialHandle : SafeHandle
    {
        public CredentialHandle() : base(IntPtr.Zero, true) { }

        internal CredentialHandle(IntPtr handle) : base(IntPtr.Zero, true)
        {
            SetHandle(handle);
        }

        public override bool IsInvalid { get { return handle == IntPtr.Zero; } }

        protected override bool ReleaseHandle()
        {
            NativeMethods.certless_credential_free(handle);
            return true;
        }
    }

    /// <summary>An owned <c>certless_options *</c>, alive for one <see cref="CertlessCredential.FromOptions"/> call.</summary>
    internal sealed class OptionsHandle : SafeHandle
    {
        public OptionsHandle() : base(IntPtr.Zero, true) { }

        internal static OptionsHandle Create()
        {
            IntPtr options = IntPtr.Zero;
            IntPtr error = IntPtr.Zero;
            Native.ThrowIfFailed(NativeMethods.certless_options_new(ref options, ref error), error);
            var handle = new OptionsHandle();
            handle.SetHandle(options);
            return handle;
        }

        public override bool IsInvalid { get { return handle == IntPtr.Zero; } }

        protected override bool ReleaseHandle()
        {
            NativeMethods.certless_options_free(handle);
            return true;
        }
    }

    /// <summary>An owned <c>certless_pending *</c>.</summary>
    internal sealed class PendingHandle : SafeHandle
    {
        public PendingHandle() : base(IntPtr.Zero, true) { }

        internal PendingHandle(IntPtr handle) : base(IntPtr.Zero, true)
        {
            SetHandle(handle);
        }

        public override bool IsInvalid { get { return handle == IntPtr.Zero; } }

        protected override bool ReleaseHandle()
        {
            NativeMethods.certless_pending_free(handle);
            return true;
        }
    }

    /// <summary>An owned <c>certless_token *</c>, released as soon as it is copied.</summary>
    internal sealed class TokenHandle : SafeHandle
    {
        internal TokenHandle(IntPtr handle) : base(IntPtr.Zero, true)
        {
            SetHandle(handle);
        }

        public override bool IsInvalid { get { return handle == IntPtr.Zero; } }

        protected override bool ReleaseHandle()
        {
            NativeMethods.certless_token_free(handle);
            return true;
        }
    }

    /// <summary>An owned <c>certless_token_options *</c>, alive for one call.</summary>
    internal sealed class TokenOptionsHandle : SafeHandle
    {
        public TokenOptionsHandle() : base(IntPtr.Zero, true) { }

        internal static TokenOptionsHandle Create()
        {
            var handle = new TokenOptionsHandle();
            handle.SetHandle(NativeMethods.certless_token_options_new());
            return handle;
        }

        public override bool IsInvalid { get { return handle == IntPtr.Zero; } }

        protected override bool ReleaseHandle()
        {
            NativeMethods.certless_token_options_free(handle);
            return true;
        }
    }

    /// <summary>
    /// One scope as the C ABI takes a list of them (<c>const char *const *</c>), in one block of unmanaged
    /// memory: the pointer to the string, then the NUL-terminated UTF-8 string.
    /// </summary>
    internal sealed class ScopeHandle : SafeHandle
    {
        public ScopeHandle() : base(IntPtr.Zero, true) { }

        internal static ScopeHandle Create(string scope)
        {
            byte[] bytes = Native.Utf8(scope);
            var handle = new ScopeHandle();
            IntPtr block = Marshal.AllocHGlobal(IntPtr.Size + bytes.Length);
            handle.SetHandle(block);
            IntPtr text = new IntPtr(block.ToInt64() + IntPtr.Size);
            Marshal.Copy(bytes, 0, text, bytes.Length);
            Marshal.WriteIntPtr(block, text);
            return handle;
        }

        public override bool IsInvalid { get { return handle == IntPtr.Zero; } }

        protected override bool ReleaseHandle()
        {
            Marshal.FreeHGlobal(handle);
            return true;
        }
    }

    /// <summary>An owned <c>certless_error *</c>, released as soon as it is copied.</summary>
    internal sealed class ErrorHandle : SafeHandle
    {
        internal ErrorHandle(IntPtr handle) : base(IntPtr.Zero, true)
        {
            SetHandle(handle);
        }

        public override bool IsInvalid { get { return handle == IntPtr.Zero; } }

        protected override bool ReleaseHandle()
        {
            NativeMethods.certless_error_free(handle);
            return true;
        }
    }

    /// <summary>Scopes as NUL-terminated UTF-8 strings in unmanaged memory, for one call.</summary>
    internal sealed class Utf8List : IDisposable
    {
        internal readonly IntPtr[] Pointers;
        internal readonly UIntPtr Length;

        internal Utf8List(string[] items)
        {
            if (items == null) throw new ArgumentNullException("scopes");
            Pointers = new IntPtr[items.Length];
            Length = new UIntPtr((uint)items.Length);
            try
            {
                for (int i = 0; i < items.Length; i++)
                {
                    if (items[i] == null) throw new ArgumentNullException("scopes", "scopes[" + i + "] is null");
                    byte[] bytes = Native.Utf8(items[i]);
                    Pointers[i] = Marshal.AllocHGlobal(bytes.Length);
                    Marshal.Copy(bytes, 0, Pointers[i], bytes.Length);
                }
            }
            catch
            {
                Dispose();
                throw;
            }
        }

        public void Dispose()
        {
            for (int i = 0; i < Pointers.Length; i++)
            {
                if (Pointers[i] != IntPtr.Zero)
                {
                    Marshal.FreeHGlobal(Pointers[i]);
                    Pointers[i] = IntPtr.Zero;
                }
            }
        }
    }

    /// <summary>Loading the native library, strings, and copying native objects into managed ones.</summary>
    internal static class Native
    {
        internal const uint Ok = 0;
        internal const uint NotCached = 1;
        internal const int Cancelled = 500;

        private static readonly object Gate = new object();
        private static bool loaded;

        /// <summary>
        /// On Windows, loads <c>x64\certless.dll</c> or <c>x86\certless.dll</c> according to the process's
        /// bitness before the first call, so that <c>[DllImport("certless")]</c> binds to it (Windows
        /// reuses a loaded module of the same name). Searched: <c>CERTLESS_LIBRARY_PATH</c>, then the
        /// application base directory and its private bin path (ASP.NET's <c>bin</c>). When none is
        /// found, the normal DLL search applies (a <c>certless.dll</c> beside the application).
        /// On Linux, loads <c>libcertless.so</c> from the same places (an ASP.NET application on Mono runs from a
        /// shadow copy, where P/Invoke does not find bin's library); otherwise the platform's normal search applies.
        /// Mono binds a method's P/Invokes when it compiles the method, so a method that calls this must call the
        /// library only through other methods (NoInlining). Then one call proves the library answers: a
        /// library that is missing, of the other bitness or older than this file throws the runtime's
        /// own exception type, with a message that says where certless looked and how to fix it.
        /// </summary>
        internal static void EnsureLoaded()
        {
            if (loaded) return;
            lock (Gate)
            {
                if (loaded) return;
                var looked = new List<string>();
                if (Environment.OSVersion.Platform == PlatformID.Win32NT)
                {
                    foreach (string candidate in WindowsCandidates())
                    {
                        if (!File.Exists(candidate))
                        {
                            looked.Add(candidate + " (not there)");
                        }
                        else if (LoadLibraryW(candidate) != IntPtr.Zero)
                        {
                            break;
                        }
                        else
                        {
                            looked.Add(string.Format("{0} (LoadLibrary failed: Win32 error {1})", candidate, Marshal.GetLastWin32Error()));
                        }
                    }
                }
                else
                {
                    foreach (string candidate in UnixCandidates())
                    {
                        if (!File.Exists(candidate))
                        {
                            looked.Add(candidate + " (not there)");
                            continue;
                        }
                        string failure = DlOpen(candidate);
                        if (failure == null) break;
                        looked.Add(string.Format("{0} ({1})", candidate, failure));
                    }
                }
                Probe(looked);
                loaded = true;
            }
        }

        // The first call into the library, turned into an exception that says what to do when it fails.
        private static void Probe(List<string> looked)
        {
            string where = looked.Count == 0 ? "" : " Looked for: " + string.Join("; ", looked.ToArray()) + ".";
            string bitness = Environment.Is64BitProcess ? "64-bit" : "32-bit";
            try
            {
                NativeMethods.certless_version();
            }
            catch (DllNotFoundException e)
            {
                throw new DllNotFoundException(
                    "certless: the native library (certless.dll, libcertless.so) could not be loaded." + where + " " + Fix(bitness), e);
            }
            catch (BadImageFormatException e)
            {
                throw new BadImageFormatException(
                    "certless: the native library found is not for this " + bitness + " process." + where + " " + Fix(bitness), e);
            }
            catch (EntryPointNotFoundException e)
            {
                throw new EntryPointNotFoundException(
                    "certless: the native library found is older than this Certless.dll (it lacks certless_version); " +
                    "deploy the native library of the same package version.", e);
            }
        }

        private static string Fix(string bitness)
        {
            if (Environment.OSVersion.Platform == PlatformID.Win32NT)
            {
                return "The NuGet package Certless copies runtimes\\win-x64\\native\\certless.dll to bin\\x64 and " +
                    "runtimes\\win-x86\\native\\certless.dll to bin\\x86 when the project builds: rebuild, make sure both " +
                    "folders are deployed with the application, or set CERTLESS_LIBRARY_PATH to the DLL's full path. This " +
                    "process is " + bitness + " (an IIS application pool with 'Enable 32-Bit Applications' is 32-bit and needs " +
                    "the x86 DLL).";
            }
            return "Put libcertless.so (runtimes/linux-x64/native in the NuGet package, native/linux-x64 in a release) " +
                "beside the application (bin/ for an ASP.NET application), in a directory on LD_LIBRARY_PATH, or set " +
                "CERTLESS_LIBRARY_PATH to its full path. This process is " + bitness + ".";
        }

        private static IEnumerable<string> WindowsCandidates()
        {
            string explicitPath = Environment.GetEnvironmentVariable("CERTLESS_LIBRARY_PATH");
            if (!string.IsNullOrEmpty(explicitPath))
            {
                yield return explicitPath;
            }
            string arch = Environment.Is64BitProcess ? "x64" : "x86";
            foreach (string dir in ApplicationDirectories())
            {
                yield return Path.Combine(Path.Combine(dir, arch), "certless.dll");
            }
        }

        // Linux: libcertless.so in the application's directories. An ASP.NET application on Mono runs its
        // assemblies from a shadow copy, where P/Invoke looks, not from bin/ where the package put the
        // library. Once loaded from a full path, the library answers P/Invoke's dlopen("libcertless.so")
        // itself (it names itself so: ffi-c/build.rs).
        private static IEnumerable<string> UnixCandidates()
        {
            string explicitPath = Environment.GetEnvironmentVariable("CERTLESS_LIBRARY_PATH");
            if (!string.IsNullOrEmpty(explicitPath))
            {
                yield return explicitPath;
            }
            foreach (string dir in ApplicationDirectories())
            {
                yield return Path.Combine(dir, "libcertless.so");
            }
        }

        // The application's private bin paths (ASP.NET's bin), then its base directory.
        private static List<string> ApplicationDirectories()
        {
            var dirs = new List<string>();
            string baseDir = AppDomain.CurrentDomain.BaseDirectory;
            if (string.IsNullOrEmpty(baseDir)) return dirs;
            string privateBin = AppDomain.CurrentDomain.RelativeSearchPath;
            if (!string.IsNullOrEmpty(privateBin))
            {
                foreach (string p in privateBin.Split(';'))
                {
                    if (p.Length > 0) dirs.Add(Path.Combine(baseDir, p));
                }
            }
            dirs.Add(baseDir);
            return dirs;
        }

        // dlopen(path, RTLD_NOW | RTLD_GLOBAL); null on success, else why not. glibc before 2.34 has dlopen in
        // libdl.so.2 only, later ones in libc.so.6 too; elsewhere (macOS) neither is found and the platform's
        // own search applies.
        private static string DlOpen(string path)
        {
            const int RtldNowGlobal = 0x2 | 0x100;
            try
            {
                try
                {
                    return dlopen_libdl(path, RtldNowGlobal) != IntPtr.Zero ? null : "dlopen failed: " + Marshal.PtrToStringAnsi(dlerror_libdl());
                }
                catch (DllNotFoundException)
                {
                    return dlopen_libc(path, RtldNowGlobal) != IntPtr.Zero ? null : "dlopen failed: " + Marshal.PtrToStringAnsi(dlerror_libc());
                }
            }
            catch (Exception e)
            {
                return "dlopen unavailable: " + e.GetType().Name;
            }
        }

        [DllImport("libdl.so.2", EntryPoint = "dlopen", CharSet = CharSet.Ansi, BestFitMapping = false)]
        private static extern IntPtr dlopen_libdl(string path, int flags);

        [DllImport("libdl.so.2", EntryPoint = "dlerror")]
        private static extern IntPtr dlerror_libdl();

        [DllImport("libc.so.6", EntryPoint = "dlopen", CharSet = CharSet.Ansi, BestFitMapping = false)]
        private static extern IntPtr dlopen_libc(string path, int flags);

        [DllImport("libc.so.6", EntryPoint = "dlerror")]
        private static extern IntPtr dlerror_libc();

        [MethodImpl(MethodImplOptions.NoInlining)]
        internal static string Version()
        {
            return ReadUtf8(NativeMethods.certless_version());
        }

        /// <summary>
        /// Called first in every native callback: the native thread running it is now known to
        /// the runtime, and must not keep the process alive. .NET Framework and .NET mark such threads
        /// as background; Mono does not, and then waits for them forever when Main returns.
        /// </summary>
        internal static void MarkBackground()
        {
            try
            {
                Thread current = Thread.CurrentThread;
                if (!current.IsBackground) current.IsBackground = true;
            }
            catch (Exception)
            {
                // Never let this escape into native code.
            }
        }

        [DllImport("kernel32", CharSet = CharSet.Unicode, SetLastError = true)]
        private static extern IntPtr LoadLibraryW(string path);

        internal static byte[] Utf8(string s)
        {
            byte[] bytes = new byte[Encoding.UTF8.GetByteCount(s) + 1];
            Encoding.UTF8.GetBytes(s, 0, s.Length, bytes, 0);
            return bytes;
        }

        internal static string ReadUtf8(IntPtr p)
        {
            if (p == IntPtr.Zero) return null;
            int length = 0;
            while (Marshal.ReadByte(p, length) != 0) length++;
            byte[] bytes = new byte[length];
            Marshal.Copy(p, bytes, 0, length);
            return Encoding.UTF8.GetString(bytes);
        }

        internal static void ThrowIfFailed(uint status, IntPtr error)
        {
            if (status == Ok)
            {
                return;
            }
            if (error == IntPtr.Zero)
            {
                throw new CertlessException("certless failed with code " + status, (int)status, "internal", null, null, null,
                    new int[0], null, null, null, null, new CertlessException[0], false);
            }
            throw TakeError(error);
        }

        /// <summary>Copies and frees a native token.</summary>
        internal static CertlessToken TakeToken(IntPtr token)
        {
            using (var h = new TokenHandle(token))
            {
                return ReadToken(h);
            }
        }

        /// <summary>Copies a native token, which stays alive.</summary>
        internal static CertlessToken ReadToken(TokenHandle h)
        {
            return new CertlessToken(
                ReadUtf8(NativeMethods.certless_token_value(h)),
                ReadUtf8(NativeMethods.certless_token_type(h)),
                NativeMethods.certless_token_expires_on(h),
                NativeMethods.certless_token_refresh_on(h),
                ReadUtf8(NativeMethods.certless_token_source(h)));
        }

        /// <summary>The native pointer of a handle the caller keeps alive; null for none.</summary>
        internal static IntPtr OrNull(SafeHandle handle)
        {
            return handle == null ? IntPtr.Zero : handle.DangerousGetHandle();
        }

        /// <summary>Copies and frees a native error.</summary>
        internal static CertlessException TakeError(IntPtr error)
        {
            using (var h = new ErrorHandle(error))
            {
                bool added = false;
                try
                {
                    h.DangerousAddRef(ref added);
                    return Copy(h.DangerousGetHandle());
                }
                finally
                {
                    if (added) h.DangerousRelease();
                }
            }
        }

        // `e` is borrowed: the error itself (kept alive by its handle) or one of its causes.
        private static CertlessException Copy(IntPtr e)
        {
            int count = (int)NativeMethods.certless_error_aadsts_count(e).ToUInt32();
            var codes = new int[count];
            for (int i = 0; i < count; i++)
            {
                codes[i] = (int)NativeMethods.certless_error_aadsts_code(e, new UIntPtr((uint)i));
            }
            int causeCount = (int)NativeMethods.certless_error_cause_count(e).ToUInt32();
            var causes = new CertlessException[causeCount];
            for (int i = 0; i < causeCount; i++)
            {
                causes[i] = Copy(NativeMethods.certless_error_cause(e, new UIntPtr((uint)i)));
            }
            ushort status = NativeMethods.certless_error_http_status(e);
            string text = ReadUtf8(NativeMethods.certless_error_text(e));
            int code = (int)NativeMethods.certless_error_code(e);
            string leg = ReadUtf8(NativeMethods.certless_error_leg(e));
            string detail = ReadUtf8(NativeMethods.certless_error_message(e));
            string remedy = ReadUtf8(NativeMethods.certless_error_remedy(e));
            int? httpStatus = status == 0 ? (int?)null : status;
            string oauthError = ReadUtf8(NativeMethods.certless_error_oauth_error(e));
            string traceId = ReadUtf8(NativeMethods.certless_error_trace_id(e));
            string correlationId = ReadUtf8(NativeMethods.certless_error_correlation_id(e));
            string source = ReadUtf8(NativeMethods.certless_error_credential_source(e));
            if (NativeMethods.certless_error_is_unavailable(e))
            {
                return new CertlessCredentialUnavailableException(text, code, leg, detail, remedy, httpStatus, codes,
                    oauthError, traceId, correlationId, source, causes);
            }
            return new CertlessException(text, code, leg, detail, remedy, httpStatus, codes, oauthError, traceId,
                correlationId, source, causes, false);
        }
    }

    /// <summary>The C ABI (include/certless.h). Every function is cdecl; strings are UTF-8.</summary>
    internal static class NativeMethods
    {
        private const string Lib = "certless";

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        internal delegate void TokenCallback(IntPtr userdata, IntPtr token, IntPtr error);

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        internal delegate void LogCallback(IntPtr userdata, uint level, IntPtr message);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr certless_version();

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern uint certless_diagnose(byte[] config_path, byte[] config_json, byte[] scope, ref IntPtr report_out, ref IntPtr error_out);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern uint certless_explain_refusal(byte[] url, ushort status, byte[] www_authenticate, byte[] body,
            byte[] token, ref IntPtr error_out);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr certless_report_json(IntPtr report);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern void certless_report_free(IntPtr report);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern uint certless_credential_from_config_json(byte[] json, ref IntPtr credential_out, ref IntPtr error_out);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern uint certless_credential_from_config_file(byte[] path, ref IntPtr credential_out, ref IntPtr error_out);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern uint certless_credential_from_env(ref IntPtr credential_out, ref IntPtr error_out);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern void certless_credential_free(IntPtr credential);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern uint certless_options_new(ref IntPtr options_out, ref IntPtr error_out);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern uint certless_options_set(OptionsHandle options, byte[] name, byte[] value, ref IntPtr error_out);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern uint certless_options_set_number(OptionsHandle options, byte[] name, double value, ref IntPtr error_out);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern uint certless_options_set_flag(OptionsHandle options, byte[] name,
            [MarshalAs(UnmanagedType.U1)] bool value, ref IntPtr error_out);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern uint certless_options_unset(OptionsHandle options, byte[] name, ref IntPtr error_out);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern uint certless_options_set_environment_variable(OptionsHandle options, byte[] name, byte[] value,
            ref IntPtr error_out);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern uint certless_options_isolate_environment(OptionsHandle options, ref IntPtr error_out);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern uint certless_credential_from_options(OptionsHandle options, ref IntPtr credential_out, ref IntPtr error_out);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern uint certless_diagnose_options(OptionsHandle options, byte[] scope, ref IntPtr report_out, ref IntPtr error_out);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern void certless_options_free(IntPtr options);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr certless_credential_tenant_id(CredentialHandle credential);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr certless_credential_client_id(CredentialHandle credential);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern uint certless_credential_get_token(CredentialHandle credential, IntPtr[] scopes, UIntPtr scopes_len,
            IntPtr options, ref IntPtr token_out, ref IntPtr error_out);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern uint certless_credential_cached_token(CredentialHandle credential, IntPtr[] scopes, UIntPtr scopes_len,
            ref IntPtr token_out, ref IntPtr error_out);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        [return: MarshalAs(UnmanagedType.U1)]
        internal static extern bool certless_credential_token_is_current(CredentialHandle credential, ScopeHandle scopes,
            UIntPtr scopes_len, IntPtr options, TokenHandle token);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr certless_token_options_new();

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern uint certless_token_options_set_claims(TokenOptionsHandle options, byte[] claims, ref IntPtr error_out);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern uint certless_token_options_set_tenant_id(TokenOptionsHandle options, byte[] tenant_id, ref IntPtr error_out);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern uint certless_token_options_set_force_refresh(TokenOptionsHandle options,
            [MarshalAs(UnmanagedType.U1)] bool force_refresh, ref IntPtr error_out);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern void certless_token_options_free(IntPtr options);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern uint certless_credential_get_token_async(CredentialHandle credential, IntPtr[] scopes, UIntPtr scopes_len,
            IntPtr options, TokenCallback callback, IntPtr userdata, ref IntPtr pending_out, ref IntPtr error_out);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        [return: MarshalAs(UnmanagedType.U1)]
        internal static extern bool certless_pending_cancel(PendingHandle pending);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        [return: MarshalAs(UnmanagedType.U1)]
        internal static extern bool certless_pending_abandon(PendingHandle pending);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern void certless_pending_free(IntPtr pending);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr certless_token_value(TokenHandle token);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr certless_token_type(TokenHandle token);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern long certless_token_expires_on(TokenHandle token);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern long certless_token_refresh_on(TokenHandle token);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr certless_token_source(TokenHandle token);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern void certless_token_free(IntPtr token);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern uint certless_error_code(IntPtr error);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr certless_error_leg(IntPtr error);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr certless_error_message(IntPtr error);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr certless_error_text(IntPtr error);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr certless_error_remedy(IntPtr error);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern ushort certless_error_http_status(IntPtr error);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern UIntPtr certless_error_aadsts_count(IntPtr error);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern uint certless_error_aadsts_code(IntPtr error, UIntPtr index);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr certless_error_oauth_error(IntPtr error);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr certless_error_trace_id(IntPtr error);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr certless_error_correlation_id(IntPtr error);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr certless_error_credential_source(IntPtr error);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern UIntPtr certless_error_cause_count(IntPtr error);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr certless_error_cause(IntPtr error, UIntPtr index);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        [return: MarshalAs(UnmanagedType.U1)]
        internal static extern bool certless_error_is_unavailable(IntPtr error);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern void certless_error_free(IntPtr error);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern uint certless_log_subscribe(LogCallback callback, IntPtr userdata, uint max_level,
            ref IntPtr subscription_out, ref IntPtr error_out);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern void certless_log_unsubscribe(IntPtr subscription);
    }
}
