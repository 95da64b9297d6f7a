// Rewrites vectors.json from the fixed inputs. Run only on a deliberate protocol change:
//   node --import ./scripts/swc-register.mjs protocol/vectors/generate.ts
import { writeFileSync } from 'node:fs'
import { computeVectors } from './compute.ts'

const out = new URL('./vectors.json', import.meta.url)
writeFileSync(out, `${JSON.stringify(await computeVectors(), null, 2)}\n`)
console.log(`wrote ${out.pathname}`)
