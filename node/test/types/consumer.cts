// A CommonJS consumer (`require`) sees the same declarations.
import certless = require('certless');
import type { TokenCredential } from '@azure/core-auth';

const credential: TokenCredential = new certless.Credential({ tenantId: 't', clientId: 'c' });
const code: 302 = certless.ErrorCode.ExchangeRejected;
export = { credential, code };
