import { MizzenError } from '../../lib/errors.ts';
import { isObj } from './proto-values.ts';

/**
 * Compilers of xDS resources throw this (and only this) for invalid input or fields the proxy
 * cannot honour; the config applier turns it into a NACK value naming the resource and field.
 */
export class ResourceRejection extends MizzenError {
  readonly field: string;

  constructor(field: string, message: string) {
    super('XDS_RESOURCE_REJECTED', `${field}: ${message}`);
    this.field = field;
  }
}

export function reject(field: string, message: string): never {
  throw new ResourceRejection(field, message);
}

/**
 * The supported-subset check: every field set on `obj` must be in `allowed` (fields the proxy
 * honours, plus ones with no effect on traffic that it may safely ignore). See docs/envoy-subset.md.
 */
export function onlyFields(obj: unknown, path: string, allowed: readonly string[]): void {
  if (!isObj(obj)) return;
  for (const key of Object.keys(obj)) {
    if (key === '@type') continue;
    if (!allowed.includes(key)) reject(`${path}.${key}`, 'field not supported by mizzen proxy');
  }
}
