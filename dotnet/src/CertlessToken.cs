using System;

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
}
