import { BaseSequencer, type TestSpecification } from 'vitest/node'

/**
 * Vitest's order (project by project, larger or slower files first) with the e2e files moved to
 * the front. The e2e is the longest file by far and mostly waits (blocks, jobs, Chromium): started
 * first, it runs beside the unit tests on the other worker instead of extending the run at the
 * end. A fresh CI clone has no timing cache, so this cannot be left to Vitest's own ordering.
 */
export class E2eFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files)
    const e2e = (f: TestSpecification) => f.project.name === 'e2e'
    return [...sorted.filter(e2e), ...sorted.filter((f) => !e2e(f))]
  }
}
