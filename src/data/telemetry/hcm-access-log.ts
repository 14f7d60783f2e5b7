import type { Writable } from 'node:stream';
import { createWriteStream } from 'node:fs';
import { messageNameOf } from '../../api/xds/type-urls.ts';
import { asArray, asObj, asString, isObj, structToJson, type Obj } from '../xds-client/proto-values.ts';
import { onlyFields, reject } from '../xds-client/resource-rejection.ts';
import type { HttpFilter } from '../l7/http-filter.ts';
import type { StreamInfo, StreamObserver } from '../l7/stream-info.ts';
import { compileJsonFormat, compileTextFormat, ISTIO_TEXT_FORMAT } from './access-log.ts';
import { compileCel, evalCel, streamAttributes, type CelProgram } from './cel-attributes.ts';

/** filterState key: the access loggers of the HCM a stream went through. */
export const HCM_ACCESS_LOG_KEY = 'envoy.access_log';

const FILE = 'envoy.extensions.access_loggers.file.v3.FileAccessLog';
const STDOUT = 'envoy.extensions.access_loggers.stream.v3.StdoutAccessLog';
const STDERR = 'envoy.extensions.access_loggers.stream.v3.StderrAccessLog';

interface CompiledLogger {
  out: Writable;
  format: (info: StreamInfo) => string;
  /** AccessLogFilter: log only the streams it admits. */
  admit: ((info: StreamInfo, headers: Readonly<Record<string, string>> | undefined) => boolean) | undefined;
  /** The filter reads request headers: captured at decode time. */
  readsHeaders: boolean;
}

/** filterState key: request headers captured for access log filters that read them. */
const HEADERS_KEY = 'envoy.access_log.headers';

const CEL = 'envoy.extensions.access_loggers.filters.cel.v3.ExpressionFilter';

type Admit = (info: StreamInfo, headers: Readonly<Record<string, string>> | undefined) => boolean;

/** envoy.config.accesslog.v3.AccessLogFilter: CEL extension filter, status code, response flags, and/or. */
function compileLogFilter(f: Obj, path: string, programs: CelProgram[]): Admit {
  if (f.extensionFilter !== undefined) {
    const ef = asObj(f.extensionFilter);
    const tc = asObj(ef.typedConfig);
    const type = messageNameOf(asString(tc['@type'] ?? tc.typeUrl));
    if (type !== CEL) return reject(`${path}.extensionFilter`, `access log filter ${asString(ef.name)} (${type || 'no type'}) is not supported (CEL is)`);
    const p = compileCel(asString(tc.expression), `${path}.extensionFilter.typedConfig.expression`);
    programs.push(p);
    return (info, headers) => evalCel(p, streamAttributes(info, headers)) === true;
  }
  if (f.statusCodeFilter !== undefined) {
    const cmp = asObj(asObj(f.statusCodeFilter).comparison);
    const value = Number(asObj(cmp.value).defaultValue ?? 0);
    const op = asString(cmp.op, 'EQ');
    return (info) => (op === 'GE' ? info.responseCode >= value : op === 'LE' ? info.responseCode <= value : info.responseCode === value);
  }
  if (f.responseFlagFilter !== undefined) {
    const flags = (asObj(f.responseFlagFilter).flags as string[] | undefined) ?? [];
    return (info) => (flags.length === 0 ? info.responseFlags !== '' : info.responseFlags.split(',').some((x) => flags.includes(x)));
  }
  if (f.andFilter !== undefined || f.orFilter !== undefined) {
    const and = f.andFilter !== undefined;
    const subs = asArray(asObj(and ? f.andFilter : f.orFilter).filters).map((x, i) => compileLogFilter(x, `${path}.${and ? 'andFilter' : 'orFilter'}.filters[${i}]`, programs));
    return and ? (info, h) => subs.every((s) => s(info, h)) : (info, h) => subs.some((s) => s(info, h));
  }
  return reject(path, 'access log filter kind not supported (extension CEL, status_code, response_flag, and, or are)');
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
 * loggers; `HcmAccessLogObserver` writes the lines when streams finish, for the streams each
 * logger's `filter` admits (Istio's Telemetry filter is a CEL expression).
 */
export function createHcmAccessLogFilter(entries: Obj[], path: string, sinks: AccessLogSinks): HttpFilter | undefined {
  const loggers: CompiledLogger[] = entries.map((e, i) => {
    const p = `${path}[${i}]`;
    onlyFields(e, p, ['name', 'typedConfig', 'filter']);
    const tc = asObj(e.typedConfig);
    const type = messageNameOf(asString(tc['@type'] ?? tc.typeUrl));
    const programs: CelProgram[] = [];
    const admit = e.filter !== undefined && e.filter !== null ? compileLogFilter(asObj(e.filter), `${p}.filter`, programs) : undefined;
    const readsHeaders = programs.some((x) => x.readsHeaders);
    if (type === FILE) {
      onlyFields(tc, `${p}.typedConfig`, ['path', 'format', 'jsonFormat', 'typedJsonFormat', 'logFormat']);
      const file = asString(tc.path);
      if (!file) reject(`${p}.typedConfig.path`, 'file access log needs a path');
      return { out: sinks.get(file), format: compileFormat(tc, `${p}.typedConfig`), admit, readsHeaders };
    }
    if (type === STDOUT || type === STDERR) {
      onlyFields(tc, `${p}.typedConfig`, ['logFormat']);
      return { out: sinks.get(type === STDOUT ? '/dev/stdout' : '/dev/stderr'), format: compileFormat(tc, `${p}.typedConfig`), admit, readsHeaders };
    }
    return reject(`${p}.typedConfig`, `access logger ${asString(e.name)} (${type || 'no type'}) is not supported`);
  });
  if (loggers.length === 0) return undefined;
  const captureHeaders = loggers.some((l) => l.readsHeaders);
  return {
    name: 'envoy.access_log',
    decodeHeaders(ctx) {
      ctx.info.filterState.set(HCM_ACCESS_LOG_KEY, loggers);
      if (captureHeaders) ctx.info.filterState.set(HEADERS_KEY, ctx.request.headers.toRecord());
      return undefined;
    },
  };
}

/** Writes the lines of streams tagged by `createHcmAccessLogFilter`. */
export class HcmAccessLogObserver implements StreamObserver {
  onStreamComplete(info: StreamInfo): void {
    const loggers = info.filterState.get(HCM_ACCESS_LOG_KEY) as CompiledLogger[] | undefined;
    if (!loggers) return;
    let headers: Readonly<Record<string, string>> | undefined;
    for (const l of loggers) {
      if (l.admit) {
        if (l.readsHeaders) headers ??= info.filterState.get(HEADERS_KEY) as Record<string, string> | undefined;
        if (!l.admit(info, headers)) continue;
      }
      l.out.write(l.format(info));
    }
  }
}
