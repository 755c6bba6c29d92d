using System;
using System.Collections.Generic;

namespace Certless
{
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

        /// <summary>Share tokens with every machine of the farm on this Redis (<c>redis://host:port</c>, <c>rediss://</c> for TLS, <c>redis+sentinel://host1,host2/MASTER</c>, <c>redis+cluster://host1,host2</c>), or <c>off</c>; default <c>CERTLESS_SHARED_CACHE</c> (docs/shared-cache.md).</summary>
        public string SharedCache { get { return (string)Get("SharedCache"); } set { Put("SharedCache", value); } }

        /// <summary>The file of the keys that seal the shared cache's entries; default <c>CERTLESS_SHARED_CACHE_KEY_FILE</c>.</summary>
        public string SharedCacheKeyFile { get { return (string)Get("SharedCacheKeyFile"); } set { Put("SharedCacheKeyFile", value); } }

        /// <summary>A PEM file of the CAs that sign the shared cache's TLS certificate, instead of the system's.</summary>
        public string SharedCacheCaFile { get { return (string)Get("SharedCacheCaFile"); } set { Put("SharedCacheCaFile", value); } }

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
}
