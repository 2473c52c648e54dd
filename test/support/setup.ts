/**
 * Loaded before every test file (`bunfig.toml` `[test] preload`). End-to-end tests drive the real
 * claude CLI, real sandboxes and a real browser, so each test gets up to 120 s; a waiting test
 * still ends as soon as its condition holds.
 */
import { setDefaultTimeout } from 'bun:test';

setDefaultTimeout(120_000);
