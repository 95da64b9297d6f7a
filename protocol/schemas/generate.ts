// Rewrites the committed JSON Schemas from their zod schemas (`npm run schemas`); a test checks
// the committed files still equal a fresh generation.
import { writeFileSync } from 'node:fs'
import { JSON_SCHEMAS } from './json-schemas.ts'

for (const [file, generate] of Object.entries(JSON_SCHEMAS)) {
  const out = new URL(`./${file}`, import.meta.url)
  writeFileSync(out, `${JSON.stringify(generate(), null, 2)}\n`)
  console.log(`wrote ${out.pathname}`)
}
