import { describe, expect, it } from 'vitest'
import { groupVersions, type Versioned } from './versions.ts'

const job = (project: string, name = 'zkrunner') => ({
  provider: 'gitlab' as const,
  providerUrl: 'https://gitlab.example.com',
  project,
  job: name,
})
const row = (id: string, operator: string, project: string, listedAt: number) => ({
  id,
  operator,
  descriptor: job(project),
  listedAt,
})

describe('groupVersions', () => {
  it('puts the versions of one job together, newest first, where the job first sorted', () => {
    const sorted = [
      row('a-old', 'B62op1', 'group/a', 10),
      row('b', 'B62op1', 'group/b', 11),
      row('a-new', 'B62op1', 'group/a', 30),
      row('a-mid', 'B62op1', 'group/a', 20),
    ]
    const out = groupVersions(sorted)
    expect(out.map((r) => [r.row.id, r.newest, r.versions])).toEqual([
      ['a-new', true, 3],
      ['a-mid', false, 3],
      ['a-old', false, 3],
      ['b', true, 1],
    ])
  })

  it('never groups another operator’s service, or rows whose job is unknown', () => {
    const unknown: Versioned & { id: string } = {
      id: 'x',
      operator: 'B62op1',
      descriptor: null,
      listedAt: 1,
    }
    const out = groupVersions([
      row('mine', 'B62op1', 'group/a', 10),
      row('theirs', 'B62op2', 'group/a', 20),
      unknown,
      { ...unknown, id: 'y' },
    ])
    expect(out.every((r) => r.newest && r.versions === 1)).toBe(true)
    expect(out.map((r) => r.row.id)).toEqual(['mine', 'theirs', 'x', 'y'])
  })
})
