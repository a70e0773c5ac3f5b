import { appendFileSync } from 'node:fs';
import { relative } from 'node:path';
import type { Reporter, TestModule } from 'vitest/node';

/**
 * A vitest reporter for scripts/test.ts: appends one JSON line per test file started (`{ file, state: 'started', at }`)
 * and finished (`{ file, state, at }`, with `failedTests` when some failed) and one for the run's unhandled errors
 * to TEST_PROGRESS_FILE, so a run stopped before its summary still tells which files passed, failed or never ran, a
 * run that stops starting files is seen at once, and the summary can name each failed test (a CI log may keep only
 * its tail).
 */
export default class TestProgressReporter implements Reporter {
  readonly #path = process.env.TEST_PROGRESS_FILE;

  onTestModuleStart(module: TestModule): void {
    this.#write({ file: relative(process.cwd(), module.moduleId), state: 'started', at: Date.now() });
  }

  onTestModuleEnd(module: TestModule): void {
    // Each failed test's name and the first line of its first error.
    const failedTests = [...module.children.allTests('failed')].map((test) => {
      const result = test.result();
      const error = result.state === 'failed' ? result.errors[0]?.message.split('\n')[0] : undefined;
      return error ? `${test.fullName}: ${error.slice(0, 300)}` : test.fullName;
    });
    this.#write({ file: relative(process.cwd(), module.moduleId), state: module.state(), at: Date.now(), ...(failedTests.length > 0 ? { failedTests } : {}) });
  }

  onTestRunEnd(_modules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<unknown>): void {
    this.#write({ unhandledErrors: unhandledErrors.length });
  }

  #write(line: object): void {
    if (this.#path) appendFileSync(this.#path, `${JSON.stringify(line)}\n`);
  }
}
