// An ES module consumer: certless is an @azure/core-auth TokenCredential.
import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/core-auth';
import {
  AbortError, CertlessError, ConfigurationError, Credential, CredentialUnavailableError, ErrorCode, ManagedIdentityError,
  TokenExchangeError, version,
} from 'certless';

const fromOptions: TokenCredential = new Credential({ tenantId: 't', clientId: 'c', managedIdentityClientId: 'm', requestTimeoutMs: 1000,
  deadlineMs: 30000, environment: { AZURE_POD_IDENTITY_AUTHORITY_HOST: 'http://127.0.0.1:1' } });
const withDeadline: TokenCredential = new Credential({ tenantId: 't', clientId: 'c', deadline: 30, connectTimeout: 2 });
const fromEnv: TokenCredential = Credential.fromEnv();
const fromConfig: TokenCredential = Credential.fromConfig('appsettings.json');
const fromObject: TokenCredential = Credential.fromConfig({ AzureAd: {} });
const fromUrl: TokenCredential = Credential.fromConfig(new URL('file:///etc/appsettings.json'));

export async function get(credential: Credential, options: GetTokenOptions): Promise<AccessToken | null> {
  const token = await credential.getToken(['https://graph.microsoft.com/.default'], options);
  if (token) {
    const ms: number = token.expiresOnTimestamp;
    const refresh: number | undefined = token.refreshAfterTimestamp;
    const type: string = token.tokenType;
    void [ms, refresh, type];
  }
  return credential.getToken('https://graph.microsoft.com/.default', { abortSignal: AbortSignal.timeout(10), claims: 'c', tenantId: 't' });
}

export function describe(e: unknown): string {
  if (e instanceof TokenExchangeError || e instanceof ManagedIdentityError || e instanceof ConfigurationError || e instanceof AbortError) {
    const code: number = e.code;
    const leg: string = e.leg;
    const status: number | undefined = e.status;
    const aadsts: number[] = e.aadstsCodes;
    const traceId: string | undefined = e.traceId;
    const correlationId: string | undefined = e.correlationId;
    return `${code} ${leg} ${status} ${aadsts} ${traceId} ${correlationId}`;
  }
  if (e instanceof CredentialUnavailableError) {
    const inChain: ManagedIdentityError = e;
    const statusCode: number | undefined = e.statusCode;
    return `${inChain.name} ${statusCode}`;
  }
  return e instanceof CertlessError && e.code === ErrorCode.ExchangeRejected ? e.message : String(e);
}

// @ts-expect-error scopes are strings
new Credential({ tenantId: 't', clientId: 'c' }).getToken(42);
// @ts-expect-error an unknown option
new Credential({ tenantID: 't' });
// @ts-expect-error a duration is a number
new Credential({ tenantId: 't', deadlineMs: '30000' });

export const all = [fromOptions, withDeadline, fromEnv, fromConfig, fromObject, fromUrl, version.length];
