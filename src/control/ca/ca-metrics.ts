import { Counter, Gauge, type Registry } from 'prom-client';
import type { Clock } from '../../lib/clock.ts';

/**
 * The CA's metrics under istiod's names (security/pkg/server/ca/monitoring.go), registered on the
 * Registry the composition root passes in.
 */
export interface CaMetrics {
  csrCount: Counter;
  authenticationFailureCount: Counter;
  csrParsingErrorCount: Counter;
  idExtractionErrorCount: Counter;
  csrSignErrorCount: Counter<'error_type'>;
  successCertIssuanceCount: Counter;
}

export interface CaExpiry {
  rootNotAfter: number;
  chainNotAfter: number;
}

export function createCaMetrics(registry: Registry, clock: Clock, expiry: () => CaExpiry): CaMetrics {
  const registers = [registry];
  const seconds = (ms: number): number => Math.floor(ms / 1000);
  new Gauge({
    name: 'citadel_server_root_cert_expiry_timestamp',
    help: 'The unix timestamp, in seconds, when the root CA certificate expires.',
    registers,
    collect() {
      this.set(seconds(expiry().rootNotAfter));
    },
  });
  new Gauge({
    name: 'citadel_server_root_cert_expiry_seconds',
    help: 'The time remaining, in seconds, before the root CA certificate expires.',
    registers,
    collect() {
      this.set(seconds(expiry().rootNotAfter - clock.now()));
    },
  });
  new Gauge({
    name: 'citadel_server_cert_chain_expiry_timestamp',
    help: 'The unix timestamp, in seconds, when the CA signing certificate chain expires.',
    registers,
    collect() {
      this.set(seconds(expiry().chainNotAfter));
    },
  });
  new Gauge({
    name: 'citadel_server_cert_chain_expiry_seconds',
    help: 'The time remaining, in seconds, before the CA signing certificate chain expires.',
    registers,
    collect() {
      this.set(seconds(expiry().chainNotAfter - clock.now()));
    },
  });
  return {
    csrCount: new Counter({ name: 'citadel_server_csr_count', help: 'The number of CSRs received by the CA server.', registers }),
    authenticationFailureCount: new Counter({
      name: 'citadel_server_authentication_failure_count',
      help: 'The number of authentication failures.',
      registers,
    }),
    csrParsingErrorCount: new Counter({ name: 'citadel_server_csr_parsing_err_count', help: 'The number of errors occurred when parsing the CSR.', registers }),
    idExtractionErrorCount: new Counter({
      name: 'citadel_server_id_extraction_err_count',
      help: 'The number of errors occurred when extracting the ID from the CSR.',
      registers,
    }),
    csrSignErrorCount: new Counter({
      name: 'citadel_server_csr_sign_err_count',
      help: 'The number of errors occurred when signing the CSR.',
      labelNames: ['error_type'],
      registers,
    }),
    successCertIssuanceCount: new Counter({
      name: 'citadel_server_success_cert_issuance_count',
      help: 'The number of certificates issuances that have succeeded.',
      registers,
    }),
  };
}
