/**
 * Scenarios: a JSON file that reproduces an exit-reason situation (a machine, VMs built through
 * /dev/gunyah, the VMM's answers, fault injections) and the ordered expectations its run must
 * meet. `loadScenario` parses and validates (schema errors and cross-reference errors in one
 * form), `runScenario` runs one on a fresh emulator and matches the expectations.
 *
 * Reference: docs/scenarios.md.
 */
import { readFile } from 'node:fs/promises';
import { compileScenario, type ScenarioPlan } from './compile.js';
import { matchExpectations } from './match.js';
import { runPlan, type RunOptions } from './run.js';
import type { ScenarioReport } from './report.js';
import type { Scenario } from './types.js';
import { createSchemaValidator, makeError, schemaErrors, type ScenarioError, type SchemaValidator } from './validate.js';

export type { Scenario } from './types.js';
export type { Observation } from './observations.js';
export { formatObservation } from './observations.js';
export type { ExpectationResult } from './match.js';
export { formatExpectation } from './match.js';
export type { ScenarioError } from './validate.js';
export type { RunOptions } from './run.js';
export { scenarioSchema } from './schema.js';
export { formatScenarioReport, formatScenarioErrors, type ScenarioReport } from './report.js';

/** A scenario that passed validation, with its plan. */
export interface LoadedScenario {
  readonly ok: true;
  readonly scenario: Scenario;
  readonly plan: ScenarioPlan;
}
export type LoadResult = LoadedScenario | { readonly ok: false; readonly errors: readonly ScenarioError[] };

/**
 * Validates scenarios with one compiled schema (compiling it takes a while; a loader that is
 * kept saves it for every further file).
 */
export class ScenarioLoader {
  readonly #validator: SchemaValidator = createSchemaValidator();

  /** Validate a parsed JSON value as a scenario. */
  validate(data: unknown): LoadResult {
    const errors = schemaErrors(this.#validator, data);
    if (errors.length) return { ok: false, errors };
    const s = data as Scenario;
    const c = compileScenario(s);
    if (!c.ok) return { ok: false, errors: c.errors };
    return { ok: true, scenario: s, plan: c.plan };
  }

  /** Parse and validate scenario text (JSON). */
  parse(text: string): LoadResult {
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (err) {
      return { ok: false, errors: [makeError('', 'a JSON document', `invalid JSON (${err instanceof Error ? err.message : String(err)})`)] };
    }
    return this.validate(data);
  }

  /** Read, parse and validate a scenario file. */
  async load(path: string): Promise<LoadResult> {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      return { ok: false, errors: [makeError('', 'a readable scenario file', err instanceof Error ? err.message : String(err))] };
    }
    return this.parse(text);
  }
}

/** Validate a parsed JSON value as a scenario (with a loader made for the call). */
export function validateScenario(data: unknown): LoadResult {
  return new ScenarioLoader().validate(data);
}

/** Parse and validate scenario text (with a loader made for the call). */
export function parseScenario(text: string): LoadResult {
  return new ScenarioLoader().parse(text);
}

/** Read, parse and validate a scenario file (with a loader made for the call). */
export function loadScenarioFile(path: string): Promise<LoadResult> {
  return new ScenarioLoader().load(path);
}

/**
 * Run a scenario (a validated one, or a value to validate first) on a fresh emulator;
 * `seed` replaces the scenario's machine seed; `loader` validates a scenario given as a value.
 * @throws TypeError with every validation error when `s` is not a valid scenario
 */
export async function runScenario(
  s: LoadedScenario | Scenario,
  opts: RunOptions & { readonly seed?: number; readonly loader?: ScenarioLoader } = {},
): Promise<ScenarioReport> {
  const loaded: LoadResult = 'plan' in s && 'ok' in s ? s : (opts.loader ?? new ScenarioLoader()).validate(s);
  if (!loaded.ok) throw new TypeError(`invalid scenario:\n${loaded.errors.map((e) => `  ${e.message}`).join('\n')}`);
  const scenario = loaded.scenario;
  const plan = opts.seed !== undefined ? { ...loaded.plan, seed: opts.seed } : loaded.plan;
  const out = await runPlan(plan, opts);
  const results = matchExpectations(plan.expectations, out.observations);
  const failed = results.filter((r) => !r.pass).length;
  return {
    description: scenario.description,
    seed: plan.seed,
    results,
    passed: results.length - failed,
    failed,
    observations: out.observations,
    steps: out.steps,
  };
}
