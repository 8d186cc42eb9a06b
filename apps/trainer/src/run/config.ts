/**
 * The CLI side of the run config: read a JSON/YAML file, apply `--set key.path=value` overrides, then
 * validate with @altar/recipes' schema (the one the playground and checkpoint loading use too).
 * Config errors become usage errors naming the file and the key path.
 */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from '@altar/backend';
import { FORBIDDEN_KEYS, parseRunConfig, type RunConfig } from '@altar/recipes';
import { UsageError } from '../io.js';

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Parse `key.path=value` (value: JSON if it parses, else a string) into the config object. Path segments
 * that reach an object's prototype (`__proto__`, `constructor`, `prototype`) are refused.
 */
export function applySet(obj: Record<string, unknown>, assignment: string): void {
  const eq = assignment.indexOf('=');
  if (eq <= 0) throw new UsageError(`--set: expected key.path=value, got '${assignment}'`);
  const path = assignment.slice(0, eq).trim();
  const raw = assignment.slice(eq + 1);
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    value = raw;
  }
  const keys = path.split('.');
  const bad = keys.find((k) => k === '' || FORBIDDEN_KEYS.includes(k));
  if (bad !== undefined)
    throw new UsageError(`--set ${path}: ${bad === '' ? 'empty key in the path' : `'${bad}' is not a config key`}`);
  let cur: Record<string, unknown> = obj;
  for (let i = 0; i < keys.length - 1; i++) {
    const k = keys[i]!;
    if (!Object.hasOwn(cur, k)) cur[k] = {};
    const next = cur[k];
    if (!isObj(next)) throw new UsageError(`--set ${path}: '${keys.slice(0, i + 1).join('.')}' is not an object`);
    cur = next;
  }
  cur[keys[keys.length - 1]!] = value;
}

/** Read a .json / .yaml / .yml config file; parse errors name the file. */
export function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const yaml = /^\.ya?ml$/.test(extname(file).toLowerCase());
  let v: unknown;
  try {
    v = yaml ? parseYaml(text) : JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${file}: not valid ${yaml ? 'YAML' : 'JSON'} (${(e as Error).message.split('\n')[0]})`);
  }
  if (!isObj(v)) throw new UsageError(`${file}: the config must be an object at the top level`);
  return v;
}

/** Validate a config object; ConfigErrors become usage errors prefixed with `where` (a file name). */
export function validateAt(where: string, raw: unknown): RunConfig {
  try {
    return parseRunConfig(raw);
  } catch (e) {
    if (e instanceof ConfigError) throw new UsageError(`${where}: ${e.message}`);
    throw e;
  }
}

/** Load, apply --set overrides, validate. ConfigErrors are rethrown as usage errors naming the file. */
export function loadRunConfig(file: string, sets: string[] = []): RunConfig {
  const raw = readConfigFile(file);
  for (const s of sets) applySet(raw, s);
  return validateAt(file, raw);
}
