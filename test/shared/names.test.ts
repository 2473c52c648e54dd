import { describe, expect, test } from 'bun:test';
import { isAgentName, validateAgentName, validateRecipient, MAX_NAME_LENGTH } from '../../src/shared/names.ts';
import { HiveError } from '../../src/shared/errors.ts';

describe('agent names', () => {
  test.each(['a', 'alice', 'bob-2', 'x1', 'abcdefghi'])('accepts %p', (n) => {
    expect(validateAgentName(n)).toBe(n);
  });

  test.each([
    ['', /empty/],
    ['..', /must start with a lowercase letter/],
    ['.', /must start/],
    ['a/b', /only a-z/],
    ['../etc', /must start/],
    ['Alice', /must start/],
    ['al ice', /only a-z/],
    ['al_ice', /only a-z/],
    ['-a', /must start/],
    ['a-', /must not end/],
    ['abcdefghij', /longer than 9/],
    ['manager', /reserved/],
    ['operator', /reserved/],
    ['hm1nd', /reserved/],
    ['hive', /reserved/],
    ['ali\u0000ce', /only a-z/],
    ['ålice', /must start/],
  ])('refuses %p', (n, why) => {
    expect(() => validateAgentName(n)).toThrow(why);
    try {
      validateAgentName(n);
    } catch (err) {
      expect(err).toBeInstanceOf(HiveError);
      expect((err as HiveError).code).toBe('bad_name');
    }
    expect(isAgentName(n)).toBe(false);
  });

  test('the length limit leaves room for a runtime prefix in an 11-character container name', () => {
    expect(`h-${'x'.repeat(MAX_NAME_LENGTH)}`.length).toBeLessThanOrEqual(11);
  });

  test('recipients: agent names plus manager and operator', () => {
    expect(validateRecipient('manager')).toBe('manager');
    expect(validateRecipient('operator')).toBe('operator');
    expect(validateRecipient('alice')).toBe('alice');
    expect(() => validateRecipient('hive')).toThrow(/reserved/);
    expect(() => validateRecipient('../x')).toThrow();
  });
});
