import type { Writable } from 'node:stream';
import { createWriteStream } from 'node:fs';
import { messageNameOf } from '../../api/xds/type-urls.ts';
import { asObj, asString, isObj, structToJson, type Obj } from '../xds-client/proto-values.ts';
import { onlyFields, reject } from '../xds-client/resource-rejection.ts';
import type { HttpFilter } from '../l7/http-filter.ts';
import type { StreamInfo, StreamObserver } from '../l7/stream-info.ts';
import { compileJsonFormat, compileTextFormat, ISTIO_TEXT_FORMAT } from './access-log.ts';

/** filterState key: the access loggers of the HCM a stream went through. */
export const HCM_ACCESS_LOG_KEY = 'envoy.access_log';

const FILE = 'envoy.extensions.access_loggers.file.v3.FileAccessLog';
const STDOUT = 'envoy.extensions.access_loggers.stream.v3.StdoutAccessLog';
const STDERR = 'envoy.extensions.access_loggers.stream.v3.StderrAccessLog';

interface CompiledLogger {
  out: Writable;
  format: (info: StreamInfo) => string;
}

/** Output streams by path, shared by every listener config of one proxy (opened once, appended). */
export class AccessLogSinks {
  private readonly streams = new Map<string, Writable>();

  get(path: string): Writable {
    if (path === '/dev/stdout') return process.stdout;
    if (path === '/dev/stderr') return process.stderr;
    let s = this.streams.get(path);
    if (!s) {
      const w = createWriteStream(path, { flags: 'a' });
      w.on('error', () => undefined);
      s = w;
      this.streams.set(path, s);
    }
    return s;
  }

  close(): void {
    for (const s of this.streams.values()) s.end();
    this.streams.clear();
  }
}

function compileFormat(o: Obj, path: string): (info: StreamInfo) => string {
  // FileAccessLog: log_format (SubstitutionFormatString) or the deprecated format / json_format
  const lf = o.logFormat !== undefined ? asObj(o.logFormat) : undefined;
  if (lf) {
    onlyFields(lf, `${path}.logFormat`, ['textFormat', 'jsonFormat', 'textFormatSource', 'omitEmptyValues', 'contentType', 'formatters', 'jsonFormatOptions']);
    if (Array.isArray(lf.formatters) && lf.formatters.length > 0) reject(`${path}.logFormat.formatters`, 'formatter extensions are not supported');
    if (typeof lf.textFormat === 'string') return compileTextFormat(lf.textFormat);
    if (lf.textFormatSource !== undefined) {
      const src = asObj(lf.textFormatSource);
      if (typeof src.inlineString !== 'string') reject(`${path}.logFormat.textFormatSource`, 'only inline_string is supported');
      return compileTextFormat(src.inlineString);
    }
    if (lf.jsonFormat !== undefined) return compileJsonFormat(jsonFields(lf.jsonFormat));
  }
  if (typeof o.format === 'string' && o.format) return compileTextFormat(o.format);
  if (o.jsonFormat !== undefined) return compileJsonFormat(jsonFields(o.jsonFormat));
  return compileTextFormat(ISTIO_TEXT_FORMAT);
}

function jsonFields(v: unknown): Record<string, string> {
  const j = isObj(v) && isObj(v.fields) ? structToJson(v) : asObj(v);
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(j)) out[k] = String(val);
  return out;
}

/**
 * The HCM `access_log` list (envoy.access_loggers.file / stdout / stderr with text or JSON
 * formats) compiled once per listener config, as a filter that tags each stream with its
 * loggers; `HcmAccessLogObserver` writes the lines when streams finish. `filter` entries are
 * accepted and not evaluated (every request is logged).
 */
export function createHcmAccessLogFilter(entries: Obj[], path: string, sinks: AccessLogSinks): HttpFilter | undefined {
  const loggers: CompiledLogger[] = entries.map((e, i) => {
    const p = `${path}[${i}]`;
    onlyFields(e, p, ['name', 'typedConfig', 'filter']);
    const tc = asObj(e.typedConfig);
    const type = messageNameOf(asString(tc['@type'] ?? tc.typeUrl));
    if (type === FILE) {
      onlyFields(tc, `${p}.typedConfig`, ['path', 'format', 'jsonFormat', 'typedJsonFormat', 'logFormat']);
      const file = asString(tc.path);
      if (!file) reject(`${p}.typedConfig.path`, 'file access log needs a path');
      return { out: sinks.get(file), format: compileFormat(tc, `${p}.typedConfig`) };
    }
    if (type === STDOUT || type === STDERR) {
      onlyFields(tc, `${p}.typedConfig`, ['logFormat']);
      return { out: sinks.get(type === STDOUT ? '/dev/stdout' : '/dev/stderr'), format: compileFormat(tc, `${p}.typedConfig`) };
    }
    return reject(`${p}.typedConfig`, `access logger ${asString(e.name)} (${type || 'no type'}) is not supported`);
  });
  if (loggers.length === 0) return undefined;
  return {
    name: 'envoy.access_log',
    decodeHeaders(ctx) {
      ctx.info.filterState.set(HCM_ACCESS_LOG_KEY, loggers);
      return undefined;
    },
  };
}

/** Writes the lines of streams tagged by `createHcmAccessLogFilter`. */
export class HcmAccessLogObserver implements StreamObserver {
  onStreamComplete(info: StreamInfo): void {
    const loggers = info.filterState.get(HCM_ACCESS_LOG_KEY) as CompiledLogger[] | undefined;
    if (!loggers) return;
    for (const l of loggers) l.out.write(l.format(info));
  }
}
