import { appendFileSync } from 'node:fs';
import { relative } from 'node:path';
import type { Reporter, TestModule } from 'vitest/node';

/**
 * A vitest reporter for scripts/test.ts: appends one JSON line per test file started (`{ file, state: 'started', at }`)
 * and finished (`{ file, state, at }`) and one for the run's unhandled errors to TEST_PROGRESS_FILE, so a run stopped
 * before its summary still tells which files passed, failed or never ran, and a run that stops starting files is
 * seen at once.
 */
export default class TestProgressReporter implements Reporter {
  readonly #path = process.env.TEST_PROGRESS_FILE;

  onTestModuleStart(module: TestModule): void {
    this.#write({ file: relative(process.cwd(), module.moduleId), state: 'started', at: Date.now() });
  }

  onTestModuleEnd(module: TestModule): void {
    this.#write({ file: relative(process.cwd(), module.moduleId), state: module.state(), at: Date.now() });
  }

  onTestRunEnd(_modules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<unknown>): void {
    this.#write({ unhandledErrors: unhandledErrors.length });
  }

  #write(line: object): void {
    if (this.#path) appendFileSync(this.#path, `${JSON.stringify(line)}\n`);
  }
}
