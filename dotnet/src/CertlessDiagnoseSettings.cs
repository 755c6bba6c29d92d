using System.Text;

namespace Certless
{
    /// <summary>
    /// What <see cref="CertlessCredential.Diagnose(CertlessDiagnoseSettings, string, string)"/> asks for beyond walking
    /// the flow: the scope, and where to read the app's federated credentials back from, at most one of
    /// <see cref="FederatedCredentialsFile"/>, <see cref="FederatedCredentialsJson"/> and Microsoft Graph (exactly one of
    /// <see cref="GraphTokenEnvironmentVariable"/> and <see cref="GraphTokenCommand"/>, and optionally
    /// <see cref="GraphUrl"/>). The native library checks them; a plain object, not thread-safe while being modified.
    /// </summary>
    public sealed class CertlessDiagnoseSettings
    {
        /// <summary>The scope to get a token for; null: Microsoft Graph's default scope.</summary>
        public string Scope { get; set; }

        /// <summary>
        /// A file holding the app's federated credentials: what <c>az ad app federated-credential list --id &lt;app&gt;</c>
        /// prints, or Microsoft Graph's <c>{"value": [...]}</c>.
        /// </summary>
        public string FederatedCredentialsFile { get; set; }

        /// <summary>The same list as JSON text (an array, or Graph's <c>{"value": [...]}</c>), passed as it is.</summary>
        public string FederatedCredentialsJson { get; set; }

        /// <summary>Read the list from Microsoft Graph with the token this environment variable holds (read access to the app).</summary>
        public string GraphTokenEnvironmentVariable { get; set; }

        /// <summary>
        /// Read the list from Microsoft Graph with the token this command prints (or <c>az</c>'s JSON with
        /// <c>accessToken</c>), e.g. <c>az account get-access-token --resource-type ms-graph</c>. Run by the shell.
        /// </summary>
        public string GraphTokenCommand { get; set; }

        /// <summary>Microsoft Graph's URL; null: the configured cloud's.</summary>
        public string GraphUrl { get; set; }

        /// <summary>The native library's settings JSON (<c>certless_diagnose_with</c>).</summary>
        internal string ToJson()
        {
            var json = new StringBuilder("{");
            Member(json, "scope", Quoted(Scope));
            Member(json, "federated_credentials_file", Quoted(FederatedCredentialsFile));
            Member(json, "federated_credentials", FederatedCredentialsJson);
            if (GraphTokenEnvironmentVariable != null || GraphTokenCommand != null || GraphUrl != null)
            {
                var graph = new StringBuilder("{");
                Member(graph, "token_env", Quoted(GraphTokenEnvironmentVariable));
                Member(graph, "token_command", Quoted(GraphTokenCommand));
                Member(graph, "url", Quoted(GraphUrl));
                Member(json, "graph", graph.Append('}').ToString());
            }
            return json.Append('}').ToString();
        }

        /// <summary>Appends <c>"name": value</c> (value already JSON); nothing for null.</summary>
        private static void Member(StringBuilder json, string name, string value)
        {
            if (value == null) return;
            if (json.Length > 1) json.Append(',');
            json.Append('"').Append(name).Append("\":").Append(value);
        }

        /// <summary>A JSON string literal; null for null.</summary>
        private static string Quoted(string s)
        {
            if (s == null) return null;
            var json = new StringBuilder(s.Length + 2).Append('"');
            foreach (char c in s)
            {
                if (c == '"' || c == '\\') json.Append('\\').Append(c);
                else if (c < ' ') json.Append("\\u").Append(((int)c).ToString("x4"));
                else json.Append(c);
            }
            return json.Append('"').ToString();
        }
    }
}
