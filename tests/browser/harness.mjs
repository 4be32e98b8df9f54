// What the browser tests share: required settings, failures that carry their own message, a
// step log, a hard bound on the whole run, and Debian's Chromium started headless.

import { chromium } from 'playwright-core';

/** A check that failed: its message is the report (no stack). */
export class TestFailure extends Error {}

/**
 * The helpers of one test named `name` (the prefix of its lines), bounded to `totalMs`: past
 * it the process exits with 2 naming the step it was in.
 */
export function harness(name, totalMs) {
  let step = 'start';
  const watchdog = setTimeout(() => {
    console.error(`${name}: FAIL: timed out after ${totalMs / 1000} s during: ${step}`);
    process.exit(2);
  }, totalMs);
  watchdog.unref();
  return {
    /** A required environment variable (exit 1 when it is not set). */
    need(variable) {
      const value = process.env[variable];
      if (!value) {
        console.error(`${name}: FAIL: environment variable ${variable} is not set`);
        process.exit(1);
      }
      return value;
    },
    fail(message) {
      throw new TestFailure(message);
    },
    check(condition, message) {
      if (!condition) throw new TestFailure(message);
    },
    /** Starts a step (printed, and named if the run times out or fails). */
    log(text) {
      step = text;
      console.log(`${name}: ${text}`);
    },
    currentStep: () => step,
    done: () => clearTimeout(watchdog),
  };
}

/** Chromium at `path`, headless, as root in a container allows it. */
export function launchChromium(path, timeout) {
  return chromium.launch({
    executablePath: path,
    headless: true,
    // Root in a container: Chromium's sandbox needs user namespaces it may not have.
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
    timeout,
  });
}
