import type { Obj } from './proto-values.ts';

/** Builds a filter from its typed_config (throws ResourceRejection for invalid config). */
export type FilterFactory<F> = (name: string, config: Obj, path: string) => F;

/**
 * Filter factories by config type (`@type` of typed_config, full message name). The composition
 * root registers the built-in ones and other components add theirs (rbac, jwt_authn, ...).
 * Filters marked ignored are accepted and skipped (no traffic effect in this proxy); anything
 * else unknown is rejected unless the config marks it optional. Shared by HTTP and network filters.
 */
export class FilterFactoryRegistry<F> {
  private readonly factories = new Map<string, FilterFactory<F>>();
  private readonly ignoredTypes = new Set<string>();
  private readonly ignoredNames = new Set<string>();

  register(typeName: string, factory: FilterFactory<F>): this {
    this.factories.set(typeName, factory);
    return this;
  }

  ignoreType(typeName: string): this {
    this.ignoredTypes.add(typeName);
    return this;
  }

  ignoreName(name: string): this {
    this.ignoredNames.add(name);
    return this;
  }

  /** The factory for a type (e.g. envoy.extensions.filters.http.fault.v3.HTTPFault). */
  factory(typeName: string): FilterFactory<F> | undefined {
    return this.factories.get(typeName);
  }

  isIgnored(typeName: string, name: string): boolean {
    return this.ignoredTypes.has(typeName) || this.ignoredNames.has(name);
  }
}
