import { describe, expect, it } from 'vitest'
import { ResultManifestSchema } from '../protocol/index.ts'
import { truncatedLogsText } from './truncated-logs.ts'

describe('truncatedLogsText', () => {
  it('names each log the runner cut, with the bytes kept and dropped', () => {
    expect(
      truncatedLogsText({
        truncatedLogs: [
          { file: 'stdout.log', keptBytes: 67_108_864, droppedBytes: 12 },
          { file: 'stderr.log', keptBytes: 67_108_864, droppedBytes: 1 },
        ],
      }),
    ).toBe(
      [
        "stdout.log truncated by the runner: the first 67108864 bytes kept, 12 bytes of the job's output dropped after them",
        "stderr.log truncated by the runner: the first 67108864 bytes kept, 1 bytes of the job's output dropped after them",
      ].join('\n'),
    )
  })

  it('says nothing for a job whose logs are whole', () => {
    expect(truncatedLogsText({})).toBeNull()
  })

  it('a manifest cannot claim a cut of nothing, or of a file that is not a log', () => {
    const cut = ResultManifestSchema.shape.truncatedLogs
    const base = { file: 'stdout.log', keptBytes: 10, droppedBytes: 1 }
    expect(cut.safeParse([base]).success).toBe(true)
    expect(cut.safeParse([{ ...base, droppedBytes: 0 }]).success).toBe(false)
    expect(cut.safeParse([{ ...base, file: 'manifest.json' }]).success).toBe(false)
    expect(cut.safeParse([]).success).toBe(false)
  })
})
