import { main } from './main.ts'

// `npx zkrunner …` (bin/zkrunner): the process's streams, and its exit status from main. The exit
// is explicit: a gateway connection kept alive must not hold the command open after its verdict.
const status = await main(process.argv.slice(2), {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
})
process.exit(status)
