using System;
using System.Runtime.InteropServices;

namespace Certless
{
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

        // certless_diagnose_with, with an options object or without one (NULL).
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern uint certless_diagnose_with(byte[] config_path, byte[] config_json, OptionsHandle options,
            byte[] settings_json, ref IntPtr report_out, ref IntPtr error_out);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern uint certless_diagnose_with(byte[] config_path, byte[] config_json, IntPtr options,
            byte[] settings_json, ref IntPtr report_out, ref IntPtr error_out);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern uint certless_diagnose_options(OptionsHandle options, byte[] scope, ref IntPtr report_out, ref IntPtr error_out);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern void certless_options_free(IntPtr options);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr certless_credential_tenant_id(CredentialHandle credential);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr certless_credential_client_id(CredentialHandle credential);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr certless_credential_shared_cache_target(CredentialHandle credential);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr certless_credential_shared_cache_state(CredentialHandle credential);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern uint certless_credential_shared_cache_counter(CredentialHandle credential, byte[] name, ref ulong value_out,
            ref IntPtr error_out);

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
        internal static extern uint certless_token_options_set_traceparent(TokenOptionsHandle options, byte[] traceparent,
            ref IntPtr error_out);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern void certless_token_options_free(IntPtr options);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern uint certless_telemetry_set_host(byte[] host, ref IntPtr error_out);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        [return: MarshalAs(UnmanagedType.U1)]
        internal static extern bool certless_telemetry_flush(uint timeout_ms);

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
