/**
 * @module names
 * The one place agent names are validated. A name becomes a directory, a socket path, a container
 * name and a broker recipient, so it is checked once here before any of those is built from it.
 *
 * Rules: 1–9 characters, lowercase ASCII letters, digits and `-`, starting with a letter and not
 * ending with `-`. Nine characters leave room for a runtime prefix (`h-`) inside the 11-character
 * container-name budget that the sandboxed runtimes work with. Reserved words are refused because
 * they are broker recipients or system senders in their own right.
 */
import { HiveError } from './errors.ts';

/** Longest accepted agent name, in characters. */
export const MAX_NAME_LENGTH = 9;

/** Inbox key of the manager agent. Its dashboard label is `hm1nd`. */
export const MANAGER = 'manager';
/** Inbox key of the human operator. */
export const OPERATOR = 'operator';
/** Sender name the core uses for its own notices (crashes, lifecycle). */
export const SYSTEM = 'hive';

/** Names no agent may take: recipients, senders and words that read as paths or roles. */
export const RESERVED_NAMES: ReadonlySet<string> = new Set([
  MANAGER,
  OPERATOR,
  SYSTEM,
  'hm1nd',
  'system',
  'core',
  'admin',
  'root',
  'all',
  'host',
  'run',
  'meta',
]);

const NAME_RE = /^[a-z][a-z0-9-]*$/;

/**
 * Checks an agent name and returns it unchanged.
 * @throws HiveError `bad_name` naming the rule that failed.
 * @example validateAgentName('alice') // 'alice'
 */
export function validateAgentName(name: string): string {
  if (typeof name !== 'string' || name.length === 0) throw new HiveError('bad_name', 'agent name is empty');
  if (name.length > MAX_NAME_LENGTH)
    throw new HiveError('bad_name', `agent name "${name.slice(0, 32)}" is longer than ${MAX_NAME_LENGTH} characters`);
  if (!NAME_RE.test(name))
    throw new HiveError(
      'bad_name',
      `agent name "${name}" must start with a lowercase letter and use only a-z, 0-9 and "-"`,
    );
  if (name.endsWith('-')) throw new HiveError('bad_name', `agent name "${name}" must not end with "-"`);
  if (RESERVED_NAMES.has(name)) throw new HiveError('bad_name', `agent name "${name}" is reserved`);
  return name;
}

/** True when `name` passes {@link validateAgentName}. */
export function isAgentName(name: string): boolean {
  try {
    validateAgentName(name);
    return true;
  } catch {
    return false;
  }
}

/** True when `name` passes {@link validateRecipient}: an agent name, `manager` or `operator`. */
export function isRecipient(name: string): boolean {
  try {
    validateRecipient(name);
    return true;
  } catch {
    return false;
  }
}

/**
 * Checks a broker recipient: an agent name, `manager` or `operator`.
 * @throws HiveError `bad_name` when it is none of those.
 */
export function validateRecipient(to: string): string {
  if (to === MANAGER || to === OPERATOR) return to;
  return validateAgentName(to);
}

/** Longest accepted hive name, in characters (it is a NATS subject token and part of message ids). */
export const MAX_HIVE_NAME_LENGTH = 32;

/**
 * Checks a hive name (`--hive`) and returns it unchanged: 1–32 characters, lowercase ASCII letters,
 * digits and `-`, starting with a letter and not ending with `-` (so it is one NATS subject token).
 * @throws HiveError `bad_name` naming the rule that failed.
 */
export function validateHiveName(name: string): string {
  if (typeof name !== 'string' || name.length === 0) throw new HiveError('bad_name', 'hive name is empty');
  if (name.length > MAX_HIVE_NAME_LENGTH) throw new HiveError('bad_name', `hive name "${name.slice(0, 40)}" is longer than ${MAX_HIVE_NAME_LENGTH} characters`);
  if (!NAME_RE.test(name) || name.endsWith('-'))
    throw new HiveError('bad_name', `hive name "${name}" must start with a lowercase letter, use only a-z, 0-9 and "-", and not end with "-"`);
  return name;
}

/**
 * A hive name made from a host name: lowercased, every other character as `-`, cut to
 * {@link MAX_HIVE_NAME_LENGTH}; `hive` when nothing usable is left.
 * @example hiveNameFromHost('Build-01.example.org') // 'build-01-example-org'
 */
export function hiveNameFromHost(host: string): string {
  const s = host
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^[^a-z]+/, '')
    .slice(0, MAX_HIVE_NAME_LENGTH)
    .replace(/-+$/, '');
  return s || SYSTEM;
}

/** A recipient as written: a name, and the hive after `@` when there is one. */
export interface Address {
  /** An agent name, `manager` or `operator`. */
  name: string;
  /** The hive it lives in, or null for this one. */
  hive: string | null;
}

/**
 * Splits `name@hive` (or a bare `name`) and checks both parts. `name@<this hive>` is this hive's
 * `name` (hive null).
 * @param here this hive's name.
 * @throws HiveError `bad_name` when either part fails its rules.
 * @example parseAddress('bob@lab', 'home') // { name: 'bob', hive: 'lab' }
 */
export function parseAddress(to: string, here: string): Address {
  const at = to.indexOf('@');
  if (at < 0) return { name: validateRecipient(to), hive: null };
  const name = validateRecipient(to.slice(0, at));
  const hive = validateHiveName(to.slice(at + 1));
  return { name, hive: hive === here ? null : hive };
}

/**
 * True when `text` is a recipient as written anywhere: `name`, or `name@hive` with a valid hive
 * name (which hive is not checked: a config does not know which hive it runs in).
 */
export function isAddress(text: string): boolean {
  try {
    parseAddress(text, '');
    return true;
  } catch {
    return false;
  }
}
