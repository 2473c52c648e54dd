/**
 * Loaded once before the test files (`bunfig.toml` `[test] preload`). End-to-end tests drive the
 * real claude CLI, real sandboxes and a real browser, so each test gets up to 120 s; a waiting test
 * still ends as soon as its condition holds. Bun 1.4.5 applies this default to the first file of a
 * run only, so `requires()` (`prereq.ts`), which every slow suite calls at its top, sets it again
 * for its own file.
 */
import { setDefaultTimeout } from 'bun:test';

setDefaultTimeout(120_000);
