// certless for Node: an @azure/core-auth TokenCredential over the certless core.
//
// This file is glue only: it checks argument types (so bad input is an error, never a crash),
// picks the cache-hit fast path, wires `abortSignal`, and turns the addon's error objects into
// `Error` subclasses. Every token decision is made in the Rust core.
'use strict';

const path = require('node:path');
const { fileURLToPath } = require('node:url');

/** @type {typeof import('./native')} */
const native = loadAddon();

function loadAddon() {
  // A computed path: the addon is typed by native.d.ts, not resolved by tsc.
  // certless.node beside this file is a from-source build (a checkout, or `npm install`'s fallback
  // where no prebuilt addon fits); otherwise the prebuilt addon of this platform, an optional
  // dependency that npm installs only where its os/cpu/libc fit (scripts/build.js has the same table).
  const fs = require('node:fs');
  const local = path.join(__dirname, 'certless.node');
  if (fs.existsSync(local)) return require(local);
  const platform = `${process.platform}-${process.arch}`;
  /** @type {Record<string, string>} */
  const prebuiltPackages = {
    'linux-x64': '@certless/linux-x64-gnu',
    'win32-x64': '@certless/win32-x64-gnu',
  };
  const prebuilt = prebuiltPackages[platform];
  let why = `there is no prebuilt addon for ${platform}`;
  if (prebuilt) {
    try {
      return require(prebuilt);
    } catch (e) {
      const err = /** @type {NodeJS.ErrnoException} */ (e);
      if (!(err && err.code === 'MODULE_NOT_FOUND' && err.message.includes(prebuilt))) {
        throw new Error(`certless: the prebuilt addon ${prebuilt} does not load here (${err && err.message}). ` +
          "To build one from source instead, install Rust (https://rustup.rs) and run " +
          "'CERTLESS_NODE_FROM_SOURCE=1 npm rebuild certless'.", { cause: e });
      }
      why = `its prebuilt addon ${prebuilt} is not installed (optional dependencies omitted?)`;
    }
  }
  throw new Error(
    `certless: the native addon is missing: ${why}, and none was built from source (npm builds one ` +
    'when it installs certless, unless install scripts are skipped). Build it: install Rust ' +
    "(https://rustup.rs), then run 'npm rebuild certless' (or 'node scripts/build.js --release' in " +
    'the package directory).');
}

/** Longest string accepted for any argument: far above any real value, far below trouble. */
const MAX_STRING = 1024 * 1024;

/**
 * Stable numeric error codes, the same in every certless binding (docs/errors.md).
 */
const ErrorCode = Object.freeze({
  InvalidArgument: 100,
  InvalidConfig: 101,
  UnknownConfigKey: 102,
  MissingConfig: 103,
  UnsupportedCredentialSource: 104,
  InsecureAuthority: 105,
  InvalidScope: 106,
  ConfigFileUnreadable: 107,
  UnsupportedManagedIdentitySource: 108,
  AssertionFileUnusable: 109,
  CertificateUnusable: 110,
  CertificateNotInStore: 111,
  CertificateStoreUnavailable: 112,
  ManagedIdentityUnreachable: 200,
  ManagedIdentityTimeout: 201,
  ManagedIdentityRejected: 202,
  ManagedIdentityInvalidResponse: 203,
  ManagedIdentityKeyFileUnreadable: 204,
  ManagedIdentityWrongIdentity: 205,
  ExchangeUnreachable: 300,
  ExchangeTimeout: 301,
  ExchangeRejected: 302,
  ExchangeInvalidResponse: 303,
  AllCredentialSourcesFailed: 400,
  Cancelled: 500,
  KeyVaultUnreachable: 600,
  KeyVaultAccessDenied: 601,
  KeyVaultCertificateNotFound: 602,
  KeyVaultRejected: 603,
  KeyVaultInvalidResponse: 604,
  ResourceRefused: 700,
  Internal: 900,
});

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
class CertlessError extends Error {
  /**
   * @param {ErrorInfo} info
   * @param {{ cause?: unknown }} [options]
   */
  constructor(info, options) {
    super(info.message, options);
    /** The stable numeric code (see {@link ErrorCode}). */
    this.code = info.code;
    /** `config`, `managed_identity`, `exchange`, `key_vault`, `chain`, `caller` or `internal`. */
    this.leg = info.leg;
    /** What went wrong, without the details and the fix. @type {string} */
    this.reason = info.reason;
    /** How to fix the common causes, when known. @type {string | undefined} */
    this.remedy = info.remedy ?? undefined;
    /** The HTTP status of the failing endpoint. @type {number | undefined} */
    this.status = info.status ?? undefined;
    /** The same as `status`, under the name Azure SDK errors use (`RestError`, `AuthenticationError`). @type {number | undefined} */
    this.statusCode = this.status;
    /** The OAuth `error` field, when the server sent one. @type {string | undefined} */
    this.oauthError = info.oauthError ?? undefined;
    /** Entra's AADSTS codes. @type {number[]} */
    this.aadstsCodes = info.aadstsCodes ?? [];
    /** Entra's trace id: quote it in a support ticket. @type {string | undefined} */
    this.traceId = info.traceId ?? undefined;
    /** The correlation id sent or returned. @type {string | undefined} */
    this.correlationId = info.correlationId ?? undefined;
    /** The credential source that failed. @type {string | undefined} */
    this.credentialSource = info.credentialSource ?? undefined;
    /** For a failed credential chain: each source's own failure, in order. @type {CertlessError[]} */
    this.causes = (info.causes ?? []).map(toError);
  }
}
CertlessError.prototype.name = 'CertlessError';

/** The configuration or an argument is wrong (codes 1xx); nothing went on the wire. */
class ConfigurationError extends CertlessError {}
ConfigurationError.prototype.name = 'ConfigurationError';

/** The managed-identity endpoint (IMDS, App Service, ...) failed (codes 2xx). */
class ManagedIdentityError extends CertlessError {}
ManagedIdentityError.prototype.name = 'ManagedIdentityError';

/**
 * There is no managed identity on this host (nothing answers at IMDS, or Docker Desktop answers
 * for it) and no other entry of the credential list produced a token: the credential cannot work
 * here, as opposed to failing. Its `name` is `CredentialUnavailableError`, which is what
 * @azure/identity's `ChainedTokenCredential` and `DefaultAzureCredential` look for to move on to
 * their next credential.
 */
class CredentialUnavailableError extends ManagedIdentityError {}
CredentialUnavailableError.prototype.name = 'CredentialUnavailableError';

/** Entra refused or failed the token exchange (codes 3xx; see `aadstsCodes`). */
class TokenExchangeError extends CertlessError {}
TokenExchangeError.prototype.name = 'TokenExchangeError';

/**
 * The caller aborted the request (`abortSignal`, code 500). Named `AbortError`, as the Azure SDK
 * and the platform name theirs; `cause` is the signal's reason.
 */
class AbortError extends CertlessError {}
AbortError.prototype.name = 'AbortError';

/** @type {Record<string, typeof CertlessError>} */
const classByLeg = {
  config: ConfigurationError,
  managed_identity: ManagedIdentityError,
  exchange: TokenExchangeError,
  caller: AbortError,
};

/**
 * @param {ErrorInfo} info
 * @returns {CertlessError}
 */
function toError(info) {
  // Core flags only managed-identity failures (and lists of them) as unavailable.
  const Class = info.unavailable ? CredentialUnavailableError : classByLeg[info.leg] || CertlessError;
  return new Class(info);
}

/**
 * @param {string} message
 * @returns {ConfigurationError}
 */
function invalidArgument(message) {
  return new ConfigurationError({
    code: ErrorCode.InvalidArgument, leg: 'config', reason: message, aadstsCodes: [], causes: [], unavailable: false,
    message: `configuration failed: ${message} [certless code ${ErrorCode.InvalidArgument}]`,
  });
}

/** @param {unknown} value */
function describe(value) {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : typeof value;
}

/**
 * @param {unknown} value
 * @param {string} name
 * @returns {string}
 */
function checkString(value, name) {
  if (typeof value !== 'string') throw invalidArgument(`${name} must be a string, not ${describe(value)}`);
  if (value.length > MAX_STRING) throw invalidArgument(`${name} is longer than ${MAX_STRING} characters`);
  return value;
}

/**
 * @param {unknown} value
 * @param {string} name
 * @returns {string | undefined}
 */
function optionalString(value, name) {
  return value === undefined || value === null ? undefined : checkString(value, name);
}

/**
 * @param {unknown} scopes
 * @returns {string | string[]}
 */
function checkScopes(scopes) {
  if (typeof scopes === 'string') return checkString(scopes, 'scopes');
  if (!Array.isArray(scopes)) {
    throw invalidArgument(`scopes must be a string or an array of strings, not ${describe(scopes)}`);
  }
  if (scopes.length > 64) throw invalidArgument('scopes has more than 64 entries');
  for (let i = 0; i < scopes.length; i++) checkString(scopes[i], `scopes[${i}]`);
  return scopes;
}

/**
 * @param {unknown} signal
 * @returns {AbortSignalLike | undefined}
 */
function checkSignal(signal) {
  if (signal === undefined || signal === null) return undefined;
  const s = /** @type {AbortSignalLike} */ (signal);
  if (typeof s !== 'object' || typeof s.aborted !== 'boolean' || typeof s.addEventListener !== 'function' ||
      typeof s.removeEventListener !== 'function') {
    throw invalidArgument('options.abortSignal must be an AbortSignal');
  }
  return s;
}

/**
 * @param {AbortSignalLike} signal
 * @returns {AbortError}
 */
function abortError(signal) {
  return new AbortError({
    code: ErrorCode.Cancelled, leg: 'caller', reason: 'the token request was aborted', aadstsCodes: [], causes: [],
    unavailable: false,
    message: `token request failed: the token request was aborted [certless code ${ErrorCode.Cancelled}]`,
  }, { cause: signal.reason });
}

/** Written by `cachedTokenInto`: expiry, refresh time, source index, token type code. */
const hitInfo = new Float64Array(4);
const SOURCE_KINDS = native.sourceKinds();

/**
 * The cache-hit fast path: the addon hands over the token string and four numbers, and the
 * object is built here (N-API property sets cost microseconds, a JS literal nanoseconds). Core
 * decides whether the request may be answered from the cache (not with `claims`) and from which
 * tenant's.
 * @param {import('./native').NativeCredential} credential
 * @param {string | string[]} scopes
 * @param {string} [claims]
 * @param {string} [tenantId]
 * @param {string} [traceparent]
 * @returns {AccessToken | ErrorInfo | null}
 */
function cached(credential, scopes, claims, tenantId, traceparent) {
  const hit = credential.cachedTokenInto(scopes, hitInfo, claims, tenantId, traceparent);
  if (typeof hit !== 'string') return hit;
  const source = SOURCE_KINDS[hitInfo[2]];
  const type = hitInfo[3];
  if (source === undefined || type < 0) return credential.cachedToken(scopes, claims, tenantId, traceparent);
  const tokenType = type === 0 ? 'Bearer' : 'pop';
  const refresh = hitInfo[1];
  return refresh === refresh
    ? { token: hit, expiresOnTimestamp: hitInfo[0], refreshAfterTimestamp: refresh, tokenType, source }
    : { token: hit, expiresOnTimestamp: hitInfo[0], tokenType, source };
}

/**
 * @param {AccessToken | ErrorInfo} outcome
 * @returns {AccessToken}
 */
function settle(outcome) {
  if ('code' in outcome) throw toError(outcome);
  return outcome;
}

/**
 * @param {import('./native').NativeCredential | ErrorInfo} built
 * @returns {import('./native').NativeCredential}
 */
function unwrap(built) {
  if (built instanceof native.NativeCredential) return built;
  throw toError(/** @type {ErrorInfo} */ (built));
}

/**
 * The options object; each of its properties is checked by core, by name.
 * @param {unknown} options
 * @returns {Record<string, unknown>}
 */
function checkOptions(options) {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw invalidArgument(`the Credential options must be an object, not ${describe(options)}`);
  }
  return /** @type {Record<string, unknown>} */ (options);
}

/**
 * Gets Microsoft Entra access tokens for one app registration from a managed identity through a
 * federated identity credential. A drop-in @azure/core-auth `TokenCredential`: pass it wherever
 * an Azure SDK client takes `credential`. Create one per app registration and share it: tokens
 * are cached, and concurrent callers share one request.
 */
class Credential {
  /** @type {import('./native').NativeCredential} */
  #native;

  /**
   * @param {CredentialOptions} options `tenantId` and `clientId` of the app registration, and
   *   optionally the managed identity (`managedIdentityClientId`, ...; none: system-assigned).
   */
  constructor(options) {
    // The factories hand in a ready native credential.
    if (options instanceof native.NativeCredential) {
      this.#native = options;
      return;
    }
    this.#native = unwrap(native.NativeCredential.fromOptions(checkOptions(options)));
  }

  /**
   * From a Microsoft.Identity.Web configuration: the path of an `appsettings.json` (a string or a
   * `file:` URL), or the parsed object (the whole file or its `AzureAd` section).
   * @param {string | URL | object} pathOrObject
   * @returns {Credential}
   */
  static fromConfig(pathOrObject) {
    if (pathOrObject instanceof URL) {
      if (pathOrObject.protocol !== 'file:') throw invalidArgument('a configuration URL must be a file: URL');
      return new Credential(unwrap(native.NativeCredential.fromConfigFile(fileURLToPath(pathOrObject))));
    }
    if (typeof pathOrObject === 'string') {
      return new Credential(unwrap(native.NativeCredential.fromConfigFile(checkString(pathOrObject, 'the configuration path'))));
    }
    if (pathOrObject === null || typeof pathOrObject !== 'object' || Array.isArray(pathOrObject)) {
      throw invalidArgument(`fromConfig takes a file path or a configuration object, not ${describe(pathOrObject)}`);
    }
    let json;
    try {
      json = JSON.stringify(pathOrObject);
    } catch (e) {
      throw invalidArgument(`the configuration object cannot be serialised as JSON: ${/** @type {Error} */ (e).message}`);
    }
    return new Credential(unwrap(native.NativeCredential.fromConfigJson(checkString(json, 'the configuration'))));
  }

  /**
   * From `AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, `AZURE_AUTHORITY_HOST` and
   * `CERTLESS_MANAGED_IDENTITY_CLIENT_ID` (or `_OBJECT_ID` / `_RESOURCE_ID`).
   * @returns {Credential}
   */
  static fromEnv() {
    return new Credential(unwrap(native.NativeCredential.fromEnv()));
  }

  /** The app registration's tenant. @returns {string} */
  get tenantId() {
    return this.#native.tenantId;
  }

  /** The app registration's Application (client) ID. @returns {string} */
  get clientId() {
    return this.#native.clientId;
  }

  /** The entries of the credential list, in order (Microsoft.Identity.Web `SourceType` names). @returns {string[]} */
  get sources() {
    return this.#native.sources;
  }

  /**
   * What the shared cache (`sharedCache` option, `CERTLESS_SHARED_CACHE`) did since this
   * credential was made, and its breaker's state now; `null` when there is none. Never waits.
   * docs/shared-cache.md says what each counter counts.
   * @returns {SharedCacheStats | null}
   */
  sharedCacheStats() {
    return this.#native.sharedCacheStats();
  }

  /**
   * An access token for `scopes` (one resource, e.g. `https://graph.microsoft.com/.default`).
   * A cached token resolves at once, without leaving the JS thread; otherwise the request runs
   * off the event loop. Rejects with a {@link CertlessError} subclass; never resolves `null`.
   * @param {string | string[]} scopes
   * @param {GetTokenOptions} [options]
   * @returns {Promise<AccessToken | null>}
   */
  getToken(scopes, options) {
    try {
      const list = checkScopes(scopes);
      if (options === undefined || options === null) {
        const hit = cached(this.#native, list);
        if (hit !== null) return 'code' in hit ? Promise.reject(toError(hit)) : Promise.resolve(hit);
        return this.#native.getToken(list, undefined, undefined, undefined).then(settle);
      }
      if (typeof options !== 'object') throw invalidArgument(`options must be an object, not ${describe(options)}`);
      const claims = optionalString(options.claims, 'options.claims') || undefined;
      const tenantId = optionalString(options.tenantId, 'options.tenantId') || undefined;
      const traceparent = optionalString(options.traceparent, 'options.traceparent');
      const signal = checkSignal(options.abortSignal);
      if (signal && signal.aborted) return Promise.reject(abortError(signal));
      const hit = cached(this.#native, list, claims, tenantId, traceparent);
      if (hit !== null) return 'code' in hit ? Promise.reject(toError(hit)) : Promise.resolve(hit);
      if (!signal) return this.#native.getToken(list, claims, tenantId, undefined, traceparent).then(settle);
      return abortable(this.#native, list, claims, tenantId, traceparent, signal);
    } catch (e) {
      return Promise.reject(e);
    }
  }
}

/**
 * @param {import('./native').NativeCredential} credential
 * @param {string | string[]} scopes
 * @param {string | undefined} claims
 * @param {string | undefined} tenantId
 * @param {string | undefined} traceparent
 * @param {AbortSignalLike} signal
 * @returns {Promise<AccessToken>}
 */
function abortable(credential, scopes, claims, tenantId, traceparent, signal) {
  const request = new native.TokenRequest();
  const pending = credential.getToken(scopes, claims, tenantId, request, traceparent);
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      request.cancel();
      reject(abortError(signal));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    pending.then((outcome) => {
      signal.removeEventListener('abort', onAbort);
      try {
        resolve(settle(outcome));
      } catch (e) {
        reject(e);
      }
    });
  });
}

/**
 * @typedef {object} DiagnoseGraph Microsoft Graph, to read the app's federated credentials from.
 * @property {string} [tokenEnv] the environment variable that holds a Graph token (read access to the app)
 * @property {string} [tokenCommand] a command that prints one (or `az`'s JSON with `accessToken`)
 * @property {string} [url] Graph's URL (default: the configured cloud's)
 */

/**
 * @typedef {object} DiagnoseSettings
 * @property {string} [scope] the scope to get a token for (default Microsoft Graph)
 * @property {string | URL | object[] | { value: object[] }} [federatedCredentials] the app's
 *   federated credentials: a file's path or `file:` URL, or the list itself
 * @property {DiagnoseGraph} [graph] read them from Microsoft Graph instead
 */

/**
 * `diagnose`'s settings as core's JSON (`DiagnoseSettings`); core checks what they mean.
 * @param {unknown} settings
 * @returns {string}
 */
function diagnoseSettings(settings) {
  const given = /** @type {Record<string, unknown>} */ (checkKeys(settings ?? {}, 'the diagnose settings', ['scope', 'federatedCredentials', 'graph']));
  /** @type {Record<string, unknown>} */
  const out = { scope: checkString(given.scope ?? 'https://graph.microsoft.com/.default', 'the scope') };
  const credentials = given.federatedCredentials;
  if (credentials instanceof URL) {
    if (credentials.protocol !== 'file:') throw invalidArgument('a federated credentials URL must be a file: URL');
    out.federated_credentials_file = fileURLToPath(credentials);
  } else if (typeof credentials === 'string') {
    out.federated_credentials_file = checkString(credentials, 'the federated credentials path');
  } else if (credentials !== undefined && credentials !== null && typeof credentials === 'object') {
    out.federated_credentials = credentials;
  } else if (credentials !== undefined && credentials !== null) {
    throw invalidArgument(`federatedCredentials must be a file path, a list or Graph's { value: [...] }, not ${describe(credentials)}`);
  }
  if (given.graph !== undefined && given.graph !== null) {
    const graph = checkKeys(given.graph, 'the graph settings', ['tokenEnv', 'tokenCommand', 'url']);
    out.graph = {
      token_env: optionalString(graph.tokenEnv, 'graph.tokenEnv'),
      token_command: optionalString(graph.tokenCommand, 'graph.tokenCommand'),
      url: optionalString(graph.url, 'graph.url'),
    };
  }
  try {
    return checkString(JSON.stringify(out), 'the diagnose settings');
  } catch (e) {
    if (e instanceof CertlessError) throw e;
    throw invalidArgument(`the diagnose settings cannot be serialised as JSON: ${/** @type {Error} */ (e).message}`);
  }
}

/**
 * An object whose keys are all `known`.
 * @param {unknown} value
 * @param {string} name
 * @param {string[]} known
 * @returns {Record<string, unknown>}
 */
function checkKeys(value, name, known) {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw invalidArgument(`${name} must be an object, not ${describe(value)}`);
  }
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) {
      throw invalidArgument(`${name} have no '${key}': use ${known.join(', ')}`);
    }
  }
  return /** @type {Record<string, unknown>} */ (value);
}

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
async function diagnose(config, settings = {}) {
  const settingsJson = diagnoseSettings(settings);
  /** @type {import('./native').DiagnoseTarget} */
  let target = {};
  /** @type {Record<string, unknown> | undefined} */
  let options;
  if (config instanceof URL) {
    if (config.protocol !== 'file:') throw invalidArgument('a configuration URL must be a file: URL');
    target = { configFile: fileURLToPath(config) };
  } else if (typeof config === 'string') {
    target = { configFile: checkString(config, 'the configuration path') };
  } else if (config !== undefined && config !== null && typeof config === 'object' && !Array.isArray(config)) {
    if ('options' in config) {
      options = checkOptions(/** @type {any} */ (config).options);
    } else {
      let json;
      try {
        json = JSON.stringify(config);
      } catch (e) {
        throw invalidArgument(`the configuration object cannot be serialised as JSON: ${/** @type {Error} */ (e).message}`);
      }
      target = { configJson: checkString(json, 'the configuration') };
    }
  } else if (config !== undefined && config !== null) {
    throw invalidArgument(`diagnose takes a file path, a configuration object or { options }, not ${describe(config)}`);
  }
  const report = native.diagnose(target, settingsJson, options);
  if (typeof report === 'object' && 'code' in report) throw toError(report);
  return JSON.parse(await report);
}

/** The parts of a refused answer `explainRefusal` reads. */
const REFUSAL_KEYS = ['wwwAuthenticate', 'body', 'token'];

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
function explainRefusal(url, status, answer = {}) {
  const target = url instanceof URL ? url.href : checkString(url, 'the URL');
  if (!Number.isInteger(status) || status < 100 || status > 999) {
    throw invalidArgument(`the status must be an HTTP status (an integer from 100 to 999), not ${describe(status)}`);
  }
  if (answer === null || typeof answer !== 'object' || Array.isArray(answer)) {
    throw invalidArgument(`the answer must be an object ({ wwwAuthenticate, body, token }), not ${describe(answer)}`);
  }
  for (const key of Object.keys(answer)) {
    if (!REFUSAL_KEYS.includes(key)) {
      throw invalidArgument(`the answer has no setting '${key}': it takes ${REFUSAL_KEYS.join(', ')}`);
    }
  }
  /** @param {'wwwAuthenticate' | 'body' | 'token'} key */
  const part = (key) => {
    const value = answer[key];
    if (value === undefined || value === null) return undefined;
    // A large error page is read only as far as the explanation needs.
    if (key === 'body' && typeof value === 'string') return value.slice(0, MAX_STRING);
    return checkString(value, key);
  };
  return toError(native.explainRefusal(target, status, part('wwwAuthenticate'), part('body'), part('token')));
}

/** The longest wait `flushTelemetry` takes, as for every other duration of certless: an hour. */
const MAX_FLUSH_MS = 3_600_000;

/**
 * Sends the OpenTelemetry metrics and spans recorded so far to the collector, blocking this thread
 * for at most `timeoutMs` (0 to 3,600,000; default 5,000). Telemetry is off unless the
 * `OTEL_EXPORTER_OTLP_*` variables turn it on (docs/telemetry.md); the process's exit flushes too
 * (for at most 2 s), so call this only to send sooner, e.g. before a serverless function returns.
 * @param {number} [timeoutMs]
 * @returns {boolean} true when everything was sent, or nothing needed sending (telemetry off)
 */
function flushTelemetry(timeoutMs = 5000) {
  if (typeof timeoutMs !== 'number' || !(timeoutMs >= 0 && timeoutMs <= MAX_FLUSH_MS)) {
    throw invalidArgument(`timeoutMs must be a number of milliseconds from 0 to ${MAX_FLUSH_MS}, not ${
      typeof timeoutMs === 'number' ? timeoutMs : describe(timeoutMs)}`);
  }
  return native.flushTelemetry(Math.ceil(timeoutMs));
}

// What was recorded since the last export reaches the collector when the process exits: 'exit'
// listeners run synchronously, so the flush blocks, for 2 s at most (an unreachable collector must
// not hold up the exit). Once per process, whatever loads this module. With telemetry off (the
// default) the flush returns at once.
const EXIT_FLUSH_MS = 2000;
const exitFlushInstalled = Symbol.for('certless.telemetry.exitFlush');
if (!(/** @type {any} */ (process)[exitFlushInstalled])) {
  /** @type {any} */ (process)[exitFlushInstalled] = true;
  process.on('exit', () => {
    try {
      native.flushTelemetry(EXIT_FLUSH_MS);
    } catch {
      // Nothing to tell anyone at exit, and the exit code is the program's, not certless's.
    }
  });
}

/** The certless version of the addon. */
const version = native.VERSION;

module.exports = {
  Credential,
  CertlessError,
  ConfigurationError,
  ManagedIdentityError,
  CredentialUnavailableError,
  TokenExchangeError,
  AbortError,
  ErrorCode,
  diagnose,
  explainRefusal,
  flushTelemetry,
  version,
};
