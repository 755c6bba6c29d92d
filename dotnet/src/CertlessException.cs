using System;
using System.Collections.Generic;

namespace Certless
{
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
}
