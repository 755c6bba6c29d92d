using System;

namespace Certless
{
    /// <summary>
    /// Options of one token request beyond the scopes: the claims of a Continuous Access Evaluation
    /// challenge, another tenant, a forced refresh, the caller's trace context. Null or a default instance means none.
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

        /// <summary>
        /// The W3C <c>traceparent</c> of the caller's span (<c>00-&lt;trace id&gt;-&lt;span id&gt;-&lt;flags&gt;</c>, e.g.
        /// <c>Activity.Current.Id</c> in W3C format): the request's OpenTelemetry span becomes its child
        /// (docs/telemetry.md). A malformed one fails the request with code <c>InvalidArgument</c> (100).
        /// </summary>
        public string Traceparent { get; set; }

        // Any option, the trace context included, goes through the native call with its options (core decides
        // what each means), not through the managed copy kept for the plain request.
        internal bool IsDefault
        {
            get { return Claims == null && TenantId == null && !ForceRefresh && Traceparent == null; }
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
                if (Traceparent != null)
                {
                    Native.ThrowIfFailed(NativeMethods.certless_token_options_set_traceparent(handle, Native.Utf8(Traceparent), ref error), error);
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
}
