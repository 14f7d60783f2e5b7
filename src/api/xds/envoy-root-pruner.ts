import protobuf from 'protobufjs';

/**
 * A protobufjs JSON descriptor holding only part of a Root: every message and enum defined in
 * `files` (paths as given to `Root.loadSync`, e.g. `envoy/config/listener/v3/listener.proto`),
 * the extra types named in `types`, and everything their fields reference, transitively. The
 * unit kept is the outermost declaration (a message is kept with all its nested types), so the
 * descriptor loads with `Root.fromJSON` and resolves on its own. Imported files that only
 * provide annotations (validate, udpa/xds annotations, descriptor.proto) or types nothing kept
 * refers to (admin, bootstrap) are left out.
 */
export function pruneRoot(root: protobuf.Root, files: readonly string[], types: readonly string[] = []): protobuf.INamespace {
  const keep = new Set<protobuf.ReflectionObject>();
  const queue: protobuf.ReflectionObject[] = [];
  const add = (o: protobuf.ReflectionObject): void => {
    let top = o;
    while (top.parent instanceof protobuf.Type) top = top.parent;
    if (!keep.has(top)) {
      keep.add(top);
      queue.push(top);
    }
  };
  const fromFile = (o: protobuf.ReflectionObject): boolean => {
    const f = o.filename;
    return f !== null && files.some((want) => f === want || f.endsWith(`/${want}`));
  };
  const walk = (ns: protobuf.NamespaceBase): void => {
    for (const o of ns.nestedArray) {
      if ((o instanceof protobuf.Type || o instanceof protobuf.Enum) && fromFile(o)) add(o);
      if (o instanceof protobuf.Namespace || o instanceof protobuf.Type) walk(o);
    }
  };
  walk(root);
  for (const name of types) add(root.lookupTypeOrEnum(name));
  const visit = (o: protobuf.ReflectionObject): void => {
    if (!(o instanceof protobuf.Type)) return;
    for (const f of o.fieldsArray) {
      f.resolve();
      if (f.resolvedType) add(f.resolvedType);
    }
    for (const n of o.nestedArray) visit(n);
  };
  for (let o = queue.shift(); o; o = queue.shift()) visit(o);

  const json: { nested: Record<string, protobuf.AnyNestedObject> } = { nested: {} };
  // deterministic output (same descriptor text for the same inputs)
  for (const t of [...keep].sort((a, b) => (a.fullName < b.fullName ? -1 : 1))) {
    const path = t.fullName.slice(1).split('.');
    let ns = json;
    for (const part of path.slice(0, -1)) {
      ns.nested[part] ??= { nested: {} };
      ns = ns.nested[part] as { nested: Record<string, protobuf.AnyNestedObject> };
    }
    ns.nested[path[path.length - 1]] = (t as protobuf.Type | protobuf.Enum).toJSON();
  }
  return json;
}
