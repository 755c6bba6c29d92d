/**
 * Microsoft Graph, to read the app's federated credentials from.
 */
export type DiagnoseGraph = {
    /**
     * the environment variable that holds a Graph token (read access to the app)
     */
    tokenEnv?: string | undefined;
    /**
     * a command that prints one (or `az`'s JSON with `accessToken`)
     */
    tokenCommand?: string | undefined;
    /**
     * Graph's URL (default: the configured cloud's)
     */
    url?: string | undefined;
};
export type DiagnoseSettings = {
    /**
     * the scope to get a token for (default Microsoft Graph)
     */
    scope?: string | undefined;
    /**
     * the app's
     * federated credentials: a file's path or `file:` URL, or the list itself
     */
    federatedCredentials?: string | URL | object[] | {
        value: object[];
    } | undefined;
    /**
     * read them from Microsoft Graph instead
     */
    graph?: DiagnoseGraph | undefined;
};
export type AccessToken = import("./native").AccessToken;
export type ErrorInfo = import("./native").ErrorInfo;
export type SharedCacheStats = import("./native").SharedCacheStats;
/**
 * Options of `new Credential(options)`: certless's options (docs/configuration.md, "Options by name"), checked
 * by its core with the same rules and error text in every language. A misspelt name is a
 * {@link ConfigurationError} (code 102) naming the option meant; a duration must be more than 0
 * and at most one hour. `undefined` or `null` leaves an option unset.
 */
export type CredentialOptions = {
    /**
     * The app registration's directory (tenant): a GUID or a verified domain.
     */
    tenantId?: string | undefined;
    /**
     * The app registration's Application (client) ID.
     */
    clientId?: string | undefined;
    /**
     * The cloud's login host (default `https://login.microsoftonline.com`).
     */
    authorityHost?: string | undefined;
    /**
     * A user-assigned managed identity by client id (at most one of the three; none: system-assigned).
     */
    managedIdentityClientId?: string | undefined;
    /**
     * A user-assigned managed identity by object (principal) id.
     */
    managedIdentityObjectId?: string | undefined;
    /**
     * A user-assigned managed identity by ARM resource id.
     */
    managedIdentityResourceId?: string | undefined;
    /**
     * Use this managed-identity source (`imds`, `app_service`, `service_fabric`, `azure_arc`, `cloud_shell`, `azure_ml`) instead of detecting it.
     */
    managedIdentitySource?: string | undefined;
    /**
     * The managed-identity token's audience (default `api://AzureADTokenExchange`, or the cloud's).
     */
    tokenExchangeAudience?: string | undefined;
    /**
     * Time to establish a connection, in milliseconds (default 5000).
     */
    connectTimeoutMs?: number | undefined;
    /**
     * The same in seconds.
     */
    connectTimeout?: number | undefined;
    /**
     * Time for one HTTP request, in milliseconds (default 30000).
     */
    requestTimeoutMs?: number | undefined;
    /**
     * The same in seconds.
     */
    requestTimeout?: number | undefined;
    /**
     * Time for one token request, retries included, in milliseconds (default 120000, or `CERTLESS_REQUEST_DEADLINE` seconds).
     */
    deadlineMs?: number | undefined;
    /**
     * The same in seconds.
     */
    deadline?: number | undefined;
    /**
     * A PEM file of extra CA certificates to trust for Entra.
     */
    caFile?: string | undefined;
    /**
     * Share tokens with every machine on this Redis (`redis://host:port`, `rediss://` for TLS, `redis+sentinel://host1,host2/MASTER`, `redis+cluster://host1,host2`), or `off` (default `CERTLESS_SHARED_CACHE`; docs/shared-cache.md).
     */
    sharedCache?: string | undefined;
    /**
     * The file of the keys that seal the shared cache's entries (default `CERTLESS_SHARED_CACHE_KEY_FILE`).
     */
    sharedCacheKeyFile?: string | undefined;
    /**
     * A PEM file of the CAs that sign the shared cache's TLS certificate (default the system's).
     */
    sharedCacheCaFile?: string | undefined;
    /**
     * Start from this Microsoft.Identity.Web configuration (`appsettings.json` or its `AzureAd` section) as JSON.
     */
    configJson?: string | undefined;
    /**
     * Start from this Microsoft.Identity.Web configuration file.
     */
    configFile?: string | undefined;
    /**
     * Start from the environment variables (`AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, ...).
     */
    fromEnv?: boolean | undefined;
    /**
     * Read these variables instead of the process's environment (managed-identity detection, `fromEnv`).
     */
    environment?: Record<string, string> | undefined;
};
/**
 * The part of `AbortSignal` certless uses (@azure/abort-controller's `AbortSignalLike`).
 */
export type AbortSignalLike = {
    aborted: boolean;
    reason?: unknown;
    addEventListener: (type: "abort", listener: () => void, options?: {
        once?: boolean;
    }) => void;
    removeEventListener: (type: "abort", listener: () => void) => void;
};
/**
 * Options of {@link Credential.getToken}, as in `@azure/core-auth` (other fields are ignored).
 */
export type GetTokenOptions = {
    /**
     * Rejects the call with an {@link AbortError} and cancels the request.
     */
    abortSignal?: AbortSignalLike | undefined;
    /**
     * Claims from a Continuous Access Evaluation challenge; bypasses the cache.
     */
    claims?: string | undefined;
    /**
     * Another tenant than the configured one (multi-tenant apps).
     */
    tenantId?: string | undefined;
    /**
     * Accepted for compatibility; certless always honours `claims`.
     */
    enableCae?: boolean | undefined;
    /**
     * A W3C `traceparent` (`00-<trace id>-<span id>-<flags>`): the
     * request's OpenTelemetry span becomes a child of the caller's span (docs/telemetry.md); a
     * malformed one rejects with `ErrorCode.InvalidArgument`.
     */
    traceparent?: string | undefined;
};
/**
 * Gets Microsoft Entra access tokens for one app registration from a managed identity through a
 * federated identity credential. A drop-in @azure/core-auth `TokenCredential`: pass it wherever
 * an Azure SDK client takes `credential`. Create one per app registration and share it: tokens
 * are cached, and concurrent callers share one request.
 */
export class Credential {
    /**
     * From a Microsoft.Identity.Web configuration: the path of an `appsettings.json` (a string or a
     * `file:` URL), or the parsed object (the whole file or its `AzureAd` section).
     * @param {string | URL | object} pathOrObject
     * @returns {Credential}
     */
    static fromConfig(pathOrObject: string | URL | object): Credential;
    /**
     * From `AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, `AZURE_AUTHORITY_HOST` and
     * `CERTLESS_MANAGED_IDENTITY_CLIENT_ID` (or `_OBJECT_ID` / `_RESOURCE_ID`).
     * @returns {Credential}
     */
    static fromEnv(): Credential;
    /**
     * @param {CredentialOptions} options `tenantId` and `clientId` of the app registration, and
     *   optionally the managed identity (`managedIdentityClientId`, ...; none: system-assigned).
     */
    constructor(options: CredentialOptions);
    /** The app registration's tenant. @returns {string} */
    get tenantId(): string;
    /** The app registration's Application (client) ID. @returns {string} */
    get clientId(): string;
    /** The entries of the credential list, in order (Microsoft.Identity.Web `SourceType` names). @returns {string[]} */
    get sources(): string[];
    /**
     * What the shared cache (`sharedCache` option, `CERTLESS_SHARED_CACHE`) did since this
     * credential was made, and its breaker's state now; `null` when there is none. Never waits.
     * docs/shared-cache.md says what each counter counts.
     * @returns {SharedCacheStats | null}
     */
    sharedCacheStats(): SharedCacheStats | null;
    /**
     * An access token for `scopes` (one resource, e.g. `https://graph.microsoft.com/.default`).
     * A cached token resolves at once, without leaving the JS thread; otherwise the request runs
     * off the event loop. Rejects with a {@link CertlessError} subclass; never resolves `null`.
     * @param {string | string[]} scopes
     * @param {GetTokenOptions} [options]
     * @returns {Promise<AccessToken | null>}
     */
    getToken(scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken | null>;
    #private;
}
/**
 * @typedef {import('./native').AccessToken} AccessToken
 * @typedef {import('./native').ErrorInfo} ErrorInfo
 * @typedef {import('./native').SharedCacheStats} SharedCacheStats
 */
/**
 * Options of `new Credential(options)`: certless's options (docs/configuration.md, "Options by name"), checked
 * by its core with the same rules and error text in every language. A misspelt name is a
 * {@link ConfigurationError} (code 102) naming the option meant; a duration must be more than 0
 * and at most one hour. `undefined` or `null` leaves an option unset.
 * @typedef {object} CredentialOptions
 * @property {string} [tenantId] The app registration's directory (tenant): a GUID or a verified domain.
 * @property {string} [clientId] The app registration's Application (client) ID.
 * @property {string} [authorityHost] The cloud's login host (default `https://login.microsoftonline.com`).
 * @property {string} [managedIdentityClientId] A user-assigned managed identity by client id (at most one of the three; none: system-assigned).
 * @property {string} [managedIdentityObjectId] A user-assigned managed identity by object (principal) id.
 * @property {string} [managedIdentityResourceId] A user-assigned managed identity by ARM resource id.
 * @property {string} [managedIdentitySource] Use this managed-identity source (`imds`, `app_service`, `service_fabric`, `azure_arc`, `cloud_shell`, `azure_ml`) instead of detecting it.
 * @property {string} [tokenExchangeAudience] The managed-identity token's audience (default `api://AzureADTokenExchange`, or the cloud's).
 * @property {number} [connectTimeoutMs] Time to establish a connection, in milliseconds (default 5000).
 * @property {number} [connectTimeout] The same in seconds.
 * @property {number} [requestTimeoutMs] Time for one HTTP request, in milliseconds (default 30000).
 * @property {number} [requestTimeout] The same in seconds.
 * @property {number} [deadlineMs] Time for one token request, retries included, in milliseconds (default 120000, or `CERTLESS_REQUEST_DEADLINE` seconds).
 * @property {number} [deadline] The same in seconds.
 * @property {string} [caFile] A PEM file of extra CA certificates to trust for Entra.
 * @property {string} [sharedCache] Share tokens with every machine on this Redis (`redis://host:port`, `rediss://` for TLS, `redis+sentinel://host1,host2/MASTER`, `redis+cluster://host1,host2`), or `off` (default `CERTLESS_SHARED_CACHE`; docs/shared-cache.md).
 * @property {string} [sharedCacheKeyFile] The file of the keys that seal the shared cache's entries (default `CERTLESS_SHARED_CACHE_KEY_FILE`).
 * @property {string} [sharedCacheCaFile] A PEM file of the CAs that sign the shared cache's TLS certificate (default the system's).
 * @property {string} [configJson] Start from this Microsoft.Identity.Web configuration (`appsettings.json` or its `AzureAd` section) as JSON.
 * @property {string} [configFile] Start from this Microsoft.Identity.Web configuration file.
 * @property {boolean} [fromEnv] Start from the environment variables (`AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, ...).
 * @property {Record<string, string>} [environment] Read these variables instead of the process's environment (managed-identity detection, `fromEnv`).
 */
/**
 * The part of `AbortSignal` certless uses (@azure/abort-controller's `AbortSignalLike`).
 * @typedef {object} AbortSignalLike
 * @property {boolean} aborted
 * @property {unknown} [reason]
 * @property {(type: 'abort', listener: () => void, options?: { once?: boolean }) => void} addEventListener
 * @property {(type: 'abort', listener: () => void) => void} removeEventListener
 */
/**
 * Options of {@link Credential.getToken}, as in `@azure/core-auth` (other fields are ignored).
 * @typedef {object} GetTokenOptions
 * @property {AbortSignalLike} [abortSignal] Rejects the call with an {@link AbortError} and cancels the request.
 * @property {string} [claims] Claims from a Continuous Access Evaluation challenge; bypasses the cache.
 * @property {string} [tenantId] Another tenant than the configured one (multi-tenant apps).
 * @property {boolean} [enableCae] Accepted for compatibility; certless always honours `claims`.
 * @property {string} [traceparent] A W3C `traceparent` (`00-<trace id>-<span id>-<flags>`): the
 *   request's OpenTelemetry span becomes a child of the caller's span (docs/telemetry.md); a
 *   malformed one rejects with `ErrorCode.InvalidArgument`.
 */
/**
 * A certless failure. `code` is stable across releases and bindings; `leg` names the part of the
 * flow that failed; the rest is what the server said. The message says how to fix common causes.
 */
export class CertlessError extends Error {
    /**
     * @param {ErrorInfo} info
     * @param {{ cause?: unknown }} [options]
     */
    constructor(info: ErrorInfo, options?: {
        cause?: unknown;
    });
    /** The stable numeric code (see {@link ErrorCode}). */
    code: number;
    /** `config`, `managed_identity`, `exchange`, `key_vault`, `chain`, `caller` or `internal`. */
    leg: string;
    /** What went wrong, without the details and the fix. @type {string} */
    reason: string;
    /** How to fix the common causes, when known. @type {string | undefined} */
    remedy: string | undefined;
    /** The HTTP status of the failing endpoint. @type {number | undefined} */
    status: number | undefined;
    /** The same as `status`, under the name Azure SDK errors use (`RestError`, `AuthenticationError`). @type {number | undefined} */
    statusCode: number | undefined;
    /** The OAuth `error` field, when the server sent one. @type {string | undefined} */
    oauthError: string | undefined;
    /** Entra's AADSTS codes. @type {number[]} */
    aadstsCodes: number[];
    /** Entra's trace id: quote it in a support ticket. @type {string | undefined} */
    traceId: string | undefined;
    /** The correlation id sent or returned. @type {string | undefined} */
    correlationId: string | undefined;
    /** The credential source that failed. @type {string | undefined} */
    credentialSource: string | undefined;
    /** For a failed credential chain: each source's own failure, in order. @type {CertlessError[]} */
    causes: CertlessError[];
}
/** The configuration or an argument is wrong (codes 1xx); nothing went on the wire. */
export class ConfigurationError extends CertlessError {
}
/** The managed-identity endpoint (IMDS, App Service, ...) failed (codes 2xx). */
export class ManagedIdentityError extends CertlessError {
}
/**
 * There is no managed identity on this host (nothing answers at IMDS, or Docker Desktop answers
 * for it) and no other entry of the credential list produced a token: the credential cannot work
 * here, as opposed to failing. Its `name` is `CredentialUnavailableError`, which is what
 * @azure/identity's `ChainedTokenCredential` and `DefaultAzureCredential` look for to move on to
 * their next credential.
 */
export class CredentialUnavailableError extends ManagedIdentityError {
}
/** Entra refused or failed the token exchange (codes 3xx; see `aadstsCodes`). */
export class TokenExchangeError extends CertlessError {
}
/**
 * The caller aborted the request (`abortSignal`, code 500). Named `AbortError`, as the Azure SDK
 * and the platform name theirs; `cause` is the signal's reason.
 */
export class AbortError extends CertlessError {
}
/**
 * Stable numeric error codes, the same in every certless binding (docs/errors.md).
 */
export const ErrorCode: Readonly<{
    InvalidArgument: 100;
    InvalidConfig: 101;
    UnknownConfigKey: 102;
    MissingConfig: 103;
    UnsupportedCredentialSource: 104;
    InsecureAuthority: 105;
    InvalidScope: 106;
    ConfigFileUnreadable: 107;
    UnsupportedManagedIdentitySource: 108;
    AssertionFileUnusable: 109;
    CertificateUnusable: 110;
    CertificateNotInStore: 111;
    CertificateStoreUnavailable: 112;
    ManagedIdentityUnreachable: 200;
    ManagedIdentityTimeout: 201;
    ManagedIdentityRejected: 202;
    ManagedIdentityInvalidResponse: 203;
    ManagedIdentityKeyFileUnreadable: 204;
    ManagedIdentityWrongIdentity: 205;
    ExchangeUnreachable: 300;
    ExchangeTimeout: 301;
    ExchangeRejected: 302;
    ExchangeInvalidResponse: 303;
    AllCredentialSourcesFailed: 400;
    Cancelled: 500;
    KeyVaultUnreachable: 600;
    KeyVaultAccessDenied: 601;
    KeyVaultCertificateNotFound: 602;
    KeyVaultRejected: 603;
    KeyVaultInvalidResponse: 604;
    ResourceRefused: 700;
    Internal: 900;
}>;
/**
 * Walks the flow leg by leg — configuration, managed-identity endpoint, what a matching federated
 * credential needs, the exchange, the token — and resolves to the report (the same as
 * `certless doctor --json`): `report.headline` is the cause and the fix in one line, `report.ok`
 * whether a token was obtained. A failing flow is the report, not a rejection.
 *
 * To name the app's federated credential that matches the managed identity (`... through federated
 * credential '<name>'` on the headline), or the one that nearly does and the `az` command that fixes
 * it, read the app's list back, one way: `federatedCredentials`, a path (or `file:` URL) to what
 * `az ad app federated-credential list --id <app>` prints, or that list itself (an array, or
 * Graph's `{ value: [...] }`); or `graph`, to read it from Microsoft Graph with a token from
 * `tokenEnv` (an environment variable's name) or `tokenCommand` (e.g.
 * `az account get-access-token --resource-type ms-graph`), and optionally its `url`.
 * @param {string | URL | object | undefined} [config] an `appsettings.json` path or `file:` URL, its
 *   parsed object, or `{ options: CredentialOptions }`; omitted: the environment (`AZURE_TENANT_ID`, ...)
 * @param {DiagnoseSettings} [settings] the scope to get a token for (default Microsoft Graph) and
 *   where to read the app's federated credentials back from; an unknown key is refused
 * @returns {Promise<Record<string, any>>}
 */
export function diagnose(config?: string | URL | object | undefined, settings?: DiagnoseSettings): Promise<Record<string, any>>;
/**
 * Why a resource (SharePoint, Microsoft Graph, ...) refused a token certless obtained, as a
 * `CertlessError` (code 700, leg `resource`) to throw or log: `reason` names the resource, the
 * SharePoint site and what the token carried (roles, audience, app; never the token), `remedy` what
 * is missing and how to add it — for a `Sites.Selected` app without a grant on the site, the
 * Microsoft Graph requests that add it. Returned, not thrown.
 * @param {string | URL} url the refused request's URL
 * @param {number} status the answer's HTTP status (401 or 403)
 * @param {{ wwwAuthenticate?: string | null, body?: string | null, token?: string | null }} [answer]
 *   the answer's `WWW-Authenticate` header and body, and the bearer token that was sent (without
 *   it the explanation says less)
 * @returns {CertlessError}
 */
export function explainRefusal(url: string | URL, status: number, answer?: {
    wwwAuthenticate?: string | null;
    body?: string | null;
    token?: string | null;
}): CertlessError;
/**
 * Sends the OpenTelemetry metrics and spans recorded so far to the collector, blocking this thread
 * for at most `timeoutMs` (0 to 3,600,000; default 5,000). Telemetry is off unless the
 * `OTEL_EXPORTER_OTLP_*` variables turn it on (docs/telemetry.md); the process's exit flushes too
 * (for at most 2 s), so call this only to send sooner, e.g. before a serverless function returns.
 * @param {number} [timeoutMs]
 * @returns {boolean} true when everything was sent, or nothing needed sending (telemetry off)
 */
export function flushTelemetry(timeoutMs?: number): boolean;
/** The certless version of the addon. */
export const version: string;
