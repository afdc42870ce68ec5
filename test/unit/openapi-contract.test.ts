/**
 * The OpenAPI document and the validators are one contract: for each value below, the zod schema
 * the route parses with and the JSON Schema the document publishes (as a client or a fuzzer reads
 * it, with the `x-maxUtf8Bytes` extension) give the same, expected, answer.
 */
import Ajv2020 from 'ajv/dist/2020';
import type { z } from 'zod';
import * as S from '../../api/schemas';
import { AuditQuery } from '../../api/admin/admin.schemas';
import { openApiDocument } from '../../scripts/openapi-web';

const doc = openApiDocument() as unknown as { components: { schemas: Record<string, { properties: Record<string, object> }> } };
const ajv = new Ajv2020({ strict: false, allErrors: true });
ajv.addFormat('password', true);
ajv.addKeyword({ keyword: 'x-maxUtf8Bytes', type: 'string', validate: (max: number, s: string) => Buffer.byteLength(s, 'utf8') <= max });

function agree(component: string, field: string, zodField: z.ZodType, cases: [unknown, boolean][]) {
  const validate = ajv.compile(doc.components.schemas[component]!.properties[field]!);
  for (const [value, accepted] of cases) {
    expect({ value, zod: zodField.safeParse(value).success, document: validate(value) }).toEqual({ value, zod: accepted, document: accepted });
  }
}

describe('request fields: document and validator agree', () => {
  it('email: a dot-atom address at a host name, blanks around it allowed', () => {
    agree('SignupBody', 'email', S.Email, [
      ['ada@example.com', true],
      [' \tAda@Example.COM  ', true],
      ["7`rg#@3rambn7a.example", true],
      ['k!l_t@2b.9ka.com', true],
      ['a.b@x-y.io', true],
      [`${'x'.repeat(249)}@b.co`, true],
      [`${'x'.repeat(250)}@b.co`, false],
      ['\na@b.co', false],
      ['a@b.co\n', false],
      ['a..b@x.io', false],
      ['.a@x.io', false],
      ['a@b', false],
      ['a@b.c', false],
      ['a@-b.io', false],
      ['"q r"@x.io', false],
      ['é@x.io', false],
      ['', false],
    ]);
  });

  it('new password: 8 to 72 code points and at most 72 bytes', () => {
    agree('VerifyBody', 'password', S.NewPassword, [
      ['12345678', true],
      ['😀'.repeat(8), true],
      ['é'.repeat(36), true],
      ['a'.repeat(72), true],
      ['1234567', false],
      ['😀'.repeat(7), false],
      ['é'.repeat(37), false],
      ['a'.repeat(73), false],
      ['😀'.repeat(19), false],
    ]);
  });

  it('sign-in password: 1 to 72 code points and at most 72 bytes', () => {
    agree('SigninBody', 'password', S.SigninPassword, [
      ['p', true],
      ['a'.repeat(72), true],
      ['', false],
      ['a'.repeat(73), false],
      ['é'.repeat(37), false],
    ]);
  });

  it('name: 1 to 100 code points, not only blanks, no control characters', () => {
    agree('VerifyBody', 'name', S.Name, [
      ['Ada', true],
      [' Ada Lovelace ', true],
      ['😀'.repeat(100), true],
      ['x'.repeat(100), true],
      ['x'.repeat(101), false],
      ['', false],
      ['   ', false],
      ['\u00a0\u3000', false],
      ['\ufeff', false],
      ['a\u0000', false],
      ['a\u2028b', false],
      ['a\u0085', false],
    ]);
  });

  it('code: six digits', () => {
    agree('VerifyBody', 'otp', S.Otp, [
      ['012345', true],
      ['12345', false],
      ['1234567', false],
      ['١٢٣٤٥٦', false],
      ['12345\n', false],
    ]);
  });
});

/** The fields of the audit listing's query, each as the route parses it. */
const AuditQueryFields = AuditQuery.shape;

describe('admin API: document and validators agree', () => {
  type Operation = { security?: Record<string, string[]>[]; parameters?: { name: string; in: string; schema: object }[]; responses: Record<string, { headers?: Record<string, unknown>; content?: { 'application/json': { schema: { allOf: [unknown, { properties: { code: { enum: string[] } } }] } } } }> };
  const full = doc as unknown as { paths: Record<string, Record<string, Operation>>; components: { securitySchemes: Record<string, { type: string; scheme?: string }> } };
  const adminOps = Object.entries(full.paths)
    .filter(([p]) => p.startsWith('/api/v1/admin/'))
    .flatMap(([p, ops]) => Object.entries(ops).map(([method, op]) => ({ id: `${method.toUpperCase()} ${p}`, op })));
  const codes = (op: Operation, status: string) => op.responses[status]?.content?.['application/json'].schema.allOf[1].properties.code.enum ?? [];

  it('every admin call takes the bearer scheme alone, answers 401 with a challenge and 403 FORBIDDEN', () => {
    expect(full.components.securitySchemes.adminBearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(adminOps.map((o) => o.id).sort()).toEqual([
      'GET /api/v1/admin/audit',
      'GET /api/v1/admin/users/{id}',
      'POST /api/v1/admin/users/{id}/lock',
      'POST /api/v1/admin/users/{id}/revoke-sessions',
      'POST /api/v1/admin/users/{id}/unlock',
    ]);
    for (const { id, op } of adminOps) {
      expect({ id, security: op.security }).toEqual({ id, security: [{ adminBearer: [] }] });
      expect({ id, challenge: Object.keys(op.responses['401']?.headers ?? {}), unauthenticated: codes(op, '401') }).toEqual({ id, challenge: ['WWW-Authenticate'], unauthenticated: ['UNAUTHENTICATED'] });
      expect({ id, forbidden: codes(op, '403').includes('FORBIDDEN') }).toEqual({ id, forbidden: true });
    }
  });

  it('GET /audit: limit 1 to 200, a known action, a cursor of the listing’s alphabet', () => {
    const params = adminOps.find((o) => o.id === 'GET /api/v1/admin/audit')!.op.parameters!;
    const check = (name: keyof typeof AuditQueryFields, cases: [unknown, boolean][]) => {
      const validate = ajv.compile(params.find((p) => p.name === name)!.schema);
      for (const [value, accepted] of cases) {
        expect({ name, value, zod: AuditQueryFields[name].safeParse(value).success, document: validate(value) }).toEqual({ name, value, zod: accepted, document: accepted });
      }
    };
    check('limit', [[1, true], [200, true], [0, false], [201, false], [2.5, false]]);
    check('action', [['admin.user_locked', true], ['signin.failed', true], ['nope', false]]);
    check('cursor', [['eyJ0IjoiMjAyNi', true], ['a+b', false], ['', false]]);
  });
});
