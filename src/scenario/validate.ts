/**
 * Schema validation of scenario files with ajv, and the error messages a user sees: each names
 * the field (the JSON pointer, written as `vms[0].vcpus`), what was expected (the schema node's
 * `expected` annotation, or one derived from the keyword) and what was found, e.g.
 * `vms[0].vcpus: expected an integer 1..64, found "two"`. Errors of alternatives (anyOf/oneOf)
 * are reported once, at the alternative, not once per branch.
 *
 * Reference: docs/scenarios.md "Errors"; schema.ts (the schema and its annotations).
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { scenarioSchema } from './schema.js';

/** One problem with a scenario file. */
export interface ScenarioError {
  /** JSON pointer of the field ("/vms/0/vcpus"; "" for the whole file). */
  readonly pointer: string;
  /** The same, as a path: "vms[0].vcpus" ("(scenario)" for the whole file). */
  readonly path: string;
  readonly expected: string;
  readonly found: string;
  /** `${path}: expected ${expected}, found ${found}`. */
  readonly message: string;
}

type Node = Record<string, unknown>;

/** A compiled validator with the schema it came from (one per call site; no module state). */
export interface SchemaValidator {
  readonly schema: Node;
  readonly validate: ValidateFunction;
}

export function createSchemaValidator(): SchemaValidator {
  const schema = scenarioSchema();
  const ajv = new Ajv({ allErrors: true, verbose: true, discriminator: true, strictSchema: true, strictNumbers: true, strictRequired: false, strictTypes: false, strictTuples: false });
  ajv.addKeyword({ keyword: 'expected', schemaType: 'string' });
  return { schema, validate: ajv.compile(schema) };
}

/** "/vms/0/vcpus" → "vms[0].vcpus". */
export function pointerToPath(pointer: string): string {
  if (pointer === '') return '(scenario)';
  let out = '';
  for (const raw of pointer.split('/').slice(1)) {
    const seg = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    if (/^[0-9]+$/.test(seg)) out += `[${seg}]`;
    else out += out === '' ? seg : `.${seg}`;
  }
  return out;
}

const child = (pointer: string, key: string): string => `${pointer}/${key.replaceAll('~', '~0').replaceAll('/', '~1')}`;

/** A short description of a JSON value, for "found …". */
export function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (typeof v === 'string') return v.length > 48 ? `${JSON.stringify(v.slice(0, 45))}…` : JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  if (Array.isArray(v)) return v.length === 0 ? 'an empty list' : `a list of ${v.length} ${v.length === 1 ? 'entry' : 'entries'}`;
  const keys = Object.keys(v as object);
  return keys.length === 0 ? 'an empty object' : `an object with ${keys.join(', ')}`;
}

export function makeError(pointer: string, expected: string, found: string): ScenarioError {
  const path = pointerToPath(pointer);
  return { pointer, path, expected, found, message: `${path}: expected ${expected}, found ${found}` };
}

/** Follow a local `$ref` ("#/$defs/x") of the root schema. */
function deref(root: Node, s: unknown): Node | undefined {
  if (typeof s !== 'object' || s === null) return undefined;
  const n = s as Node;
  const r = n['$ref'];
  if (typeof r !== 'string' || !r.startsWith('#/')) return n;
  let cur: unknown = root;
  for (const seg of r.slice(2).split('/')) cur = (cur as Node | undefined)?.[seg];
  return deref(root, cur);
}

/** The expected text of a schema node: its annotation, else one derived from its keywords. */
function expectedOf(root: Node, s: unknown, fallback: string): string {
  const n = deref(root, s);
  if (!n) return fallback;
  if (typeof n['expected'] === 'string') return n['expected'];
  if (Array.isArray(n['enum'])) return `one of ${(n['enum'] as unknown[]).map((x) => JSON.stringify(x)).join(', ')}`;
  if ('const' in n) return JSON.stringify(n['const']);
  if (n['type'] === 'string') return 'a string';
  if (n['type'] === 'boolean') return 'true or false';
  if (n['type'] === 'object') return 'an object';
  return fallback;
}

/** Turn ajv's errors into one message per problem. */
export function formatAjvErrors(root: Node, errors: readonly ErrorObject[]): ScenarioError[] {
  // Alternatives that failed as a whole: their branch errors are noise.
  const composites = errors.filter(
    (e) => (e.keyword === 'anyOf' || e.keyword === 'oneOf') && !(e.parentSchema && 'discriminator' in e.parentSchema),
  );
  const underComposite = (e: ErrorObject): boolean =>
    composites.some((c) => c !== e && e.schemaPath.startsWith(`${c.schemaPath}/`) && e.instancePath.startsWith(c.instancePath));
  const unknownFieldAt = new Set(errors.filter((e) => e.keyword === 'additionalProperties').map((e) => e.instancePath));
  const out: ScenarioError[] = [];
  const seen = new Set<string>();
  const push = (err: ScenarioError): void => {
    if (seen.has(err.message)) return;
    seen.add(err.message);
    out.push(err);
  };
  for (const e of errors) {
    if (underComposite(e)) continue;
    const parent = (e.parentSchema ?? {}) as Node;
    const params = e.params as Record<string, unknown>;
    switch (e.keyword) {
      case 'required': {
        const field = String(params['missingProperty']);
        // A missing discriminator tag is reported by the discriminator error.
        if ((parent['discriminator'] as Node | undefined)?.['propertyName'] === field) break;
        const props = (parent['properties'] ?? {}) as Node;
        push(makeError(child(e.instancePath, field), expectedOf(root, props[field], `a "${field}" field`), 'nothing'));
        break;
      }
      case 'additionalProperties': {
        const field = String(params['additionalProperty']);
        const known = Object.keys((parent['properties'] ?? {}) as Node);
        push(makeError(child(e.instancePath, field), `one of the fields ${known.join(', ')}`, `an unknown field "${field}"`));
        break;
      }
      case 'discriminator': {
        const tag = String(params['tag']);
        const names = ((parent['oneOf'] ?? []) as Node[]).map((b) => ((b['properties'] as Node)[tag] as Node)['const']);
        const data = e.data as Node | undefined;
        push(makeError(child(e.instancePath, tag), `one of ${names.map((x) => JSON.stringify(x)).join(', ')}`, describeValue(data?.[tag])));
        break;
      }
      case 'propertyNames': {
        const name = String(params['propertyName']);
        const names = expectedOf(root, parent['propertyNames'], 'a known name');
        push(makeError(child(e.instancePath, name), names, `an unknown field "${name}"`));
        break;
      }
      case 'oneOf':
      case 'anyOf': {
        if (parent && 'discriminator' in parent) break; // the chosen branch's errors say it better
        if (e.keyword === 'oneOf' && unknownFieldAt.has(e.instancePath)) break; // the unknown field says it
        push(makeError(e.instancePath, expectedOf(root, parent, 'one of the allowed forms'), describeValue(e.data)));
        break;
      }
      default: {
        // A propertyNames sub-error (reported by its own error above).
        if (e.propertyName !== undefined) break;
        push(makeError(e.instancePath, expectedOf(root, parent, e.message ?? 'something else'), describeValue(e.data)));
      }
    }
  }
  return out;
}

/** Validate `data` against the schema: the errors (empty when it conforms). */
export function schemaErrors(v: SchemaValidator, data: unknown): ScenarioError[] {
  if (v.validate(data)) return [];
  return formatAjvErrors(v.schema, v.validate.errors ?? []);
}
