// ES module entry: the same objects as `require('certless')`.
import certless from './index.js';

export const {
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
} = certless;
export default certless;
