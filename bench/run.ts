// `npm run bench [-- contracts agent worker]`: each benchmark in its own process, one after
// another, so none measures another's load. Each prints its figures as ratios against a baseline
// it measures in the same run.
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const ALL = ['contracts', 'agent', 'worker'] as const
type Part = (typeof ALL)[number]

const asked = process.argv.slice(2).filter((a) => !a.startsWith('-'))
if (process.argv.includes('--help')) {
  console.log(
    `usage: npm run bench [-- ${ALL.join(' ')}]\nRuns the named benchmarks (all by default).`,
  )
  process.exit(0)
}
const unknown = asked.filter((a) => !(ALL as readonly string[]).includes(a))
if (unknown.length > 0) {
  console.error(`bench: unknown benchmark ${unknown.join(', ')} (known: ${ALL.join(', ')})`)
  process.exit(2)
}
const parts = (asked.length > 0 ? asked : ALL) as Part[]

const run = (part: Part) =>
  new Promise<number | null>((resolve) => {
    const file = fileURLToPath(new URL(`./${part}.ts`, import.meta.url))
    const child = spawn(
      process.execPath,
      ['--import', fileURLToPath(new URL('../scripts/swc-register.mjs', import.meta.url)), file],
      {
        stdio: 'inherit',
      },
    )
    child.once('exit', resolve)
  })

let failed = 0
for (const part of parts) {
  console.log(`\n== ${part} ==`)
  const code = await run(part)
  if (code !== 0) {
    failed++
    console.error(`bench ${part}: exited with ${code}`)
  }
}
process.exit(failed === 0 ? 0 : 1)
