import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

/** One span as a test reads it: ids in hex, attributes flattened to strings, numbers and booleans. */
export interface ReceivedSpan {
  service: string;
  name: string;
  kind: number;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  attributes: Record<string, unknown>;
  resource: Record<string, unknown>;
}

interface AnyValue {
  stringValue?: string;
  intValue?: number | string;
  doubleValue?: number;
  boolValue?: boolean;
  arrayValue?: { values?: AnyValue[] };
}
type KeyValue = { key: string; value?: AnyValue };

const valueOf = (v: AnyValue | undefined): unknown =>
  v === undefined ? undefined
    : v.stringValue ?? v.boolValue ?? v.doubleValue ?? (v.intValue !== undefined ? Number(v.intValue) : v.arrayValue ? (v.arrayValue.values ?? []).map(valueOf) : undefined);
const flatten = (kvs: KeyValue[] | undefined) => Object.fromEntries((kvs ?? []).map((kv) => [kv.key, valueOf(kv.value)]));

type ProtoType = { decode(b: Uint8Array): unknown; toObject(m: unknown, o: object): unknown };
// The message types the exporter encodes with (the package's generated protobuf code).
const ExportTraceServiceRequest = (require('@opentelemetry/otlp-transformer/build/src/generated/root') as {
  opentelemetry: { proto: { collector: { trace: { v1: { ExportTraceServiceRequest: ProtoType } } } } };
}).opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;

/** A protobuf export request as OTLP's JSON encoding writes it (ids in hex), so one reader serves both. */
const ID_FIELDS = new Set(['traceId', 'spanId', 'parentSpanId']);
function protobufAsJson(body: Buffer): string {
  const obj = ExportTraceServiceRequest.toObject(ExportTraceServiceRequest.decode(body), { longs: String, enums: Number, bytes: String });
  return JSON.stringify(obj, (key, value) => (ID_FIELDS.has(key) && typeof value === 'string' ? Buffer.from(value, 'base64').toString('hex') : value));
}

/**
 * An OTLP/HTTP trace receiver in the test's own memory: our processes export to it like they
 * export to Jaeger (protobuf, what @opentelemetry/exporter-trace-otlp-proto sends; JSON is read
 * too), and the test reads every span they sent. The bench uses it as a local sink too.
 */
export class OtlpSink {
  readonly spans: ReceivedSpan[] = [];
  /** Every request body as received, for checks on everything exported (resource included). */
  readonly raw: string[] = [];
  private constructor(private readonly server: Server, readonly url: string) {}

  static async start(): Promise<OtlpSink> {
    let sink: OtlpSink | undefined;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        try {
          let body = Buffer.concat(chunks);
          if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
          const protobuf = /protobuf/.test(req.headers['content-type'] ?? '');
          if (req.url === '/v1/traces' && sink) sink.receive(protobuf ? protobufAsJson(body) : body.toString('utf8'));
          // An empty export response in the request's encoding (no partial success to report).
          if (protobuf) res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
          else res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
        } catch {
          res.writeHead(400).end();
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    sink = new OtlpSink(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    return sink;
  }

  private receive(text: string): void {
    this.raw.push(text);
    const body = JSON.parse(text) as {
      resourceSpans?: { resource?: { attributes?: KeyValue[] }; scopeSpans?: { spans?: { name: string; kind: number; traceId: string; spanId: string; parentSpanId?: string; attributes?: KeyValue[] }[] }[] }[];
    };
    for (const rs of body.resourceSpans ?? []) {
      const resource = flatten(rs.resource?.attributes);
      for (const ss of rs.scopeSpans ?? []) {
        for (const s of ss.spans ?? []) {
          this.spans.push({
            service: String(resource['service.name']),
            name: s.name,
            kind: s.kind,
            traceId: s.traceId,
            spanId: s.spanId,
            parentSpanId: s.parentSpanId || undefined,
            attributes: flatten(s.attributes),
            resource,
          });
        }
      }
    }
  }

  inTrace(traceId: string): ReceivedSpan[] {
    return this.spans.filter((s) => s.traceId === traceId);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
