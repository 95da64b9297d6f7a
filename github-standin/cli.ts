import { readFileSync } from 'node:fs'
import { basename } from 'node:path'
import { parseArgs } from 'node:util'
import { startGithubStandin } from './server.ts'
import type { DispatchAnswer } from './types.ts'
import { parseWorkflow } from './workflow.ts'

const usage = `Usage: node --import ./scripts/swc-register.mjs github-standin/cli.ts [options]

A GitHub Actions REST + webhook stand-in for zkrunner's local stack and tests. The API is served
at / (as api.github.com) and /api/v3 (as GitHub Enterprise Server); runs are not executed.

Options:
  --port <n>               port to listen on (default 8930; 0 picks a free one)
  --host <addr>            address to bind (default 127.0.0.1)
  --repo <owner/name>      repository served (default zkrunner/sample-primes)
  --workflow <file.yml>    workflow file whose inputs and run-name are served (required)
  --token <t>              accepted bearer token (required)
  --webhook-url <url>      where to send workflow_run / workflow_job deliveries
  --webhook-secret <s>     HMAC secret of X-Hub-Signature-256 (default: $GITHUB_WEBHOOK_SECRET)
  --dispatch-answer <a>    run-details (github.com), no-content (204 always) or reject-field
  -h, --help               show this help
`

function main(): void {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '8930' },
      host: { type: 'string', default: '127.0.0.1' },
      repo: { type: 'string', default: 'zkrunner/sample-primes' },
      workflow: { type: 'string' },
      token: { type: 'string' },
      'webhook-url': { type: 'string' },
      'webhook-secret': { type: 'string' },
      'dispatch-answer': { type: 'string', default: 'run-details' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  if (values.help) {
    process.stdout.write(usage)
    return
  }
  const [owner, name] = (values.repo ?? '').split('/')
  const port = Number(values.port)
  const answer = values['dispatch-answer'] as DispatchAnswer
  if (
    !values.token ||
    !values.workflow ||
    !owner ||
    !name ||
    !Number.isInteger(port) ||
    !['run-details', 'no-content', 'reject-field'].includes(answer)
  ) {
    process.stderr.write(
      `github-standin: --token, --workflow, --repo owner/name and a numeric --port are required\n${usage}`,
    )
    process.exitCode = 2
    return
  }
  const parsed = parseWorkflow(readFileSync(values.workflow, 'utf8'))
  startGithubStandin({
    port,
    host: values.host,
    webhookUrl: values['webhook-url'],
    webhookSecret: values['webhook-secret'] ?? process.env.GITHUB_WEBHOOK_SECRET,
    dispatchAnswer: answer,
    control: true,
    repos: [
      {
        owner,
        name,
        tokens: [values.token],
        workflows: [{ id: 1, file: basename(values.workflow), ...parsed.workflow }],
      },
    ],
  }).then(
    (standin) => {
      process.stdout.write(`github-standin listening on ${standin.url} (API also at /api/v3)\n`)
      const stop = () => void standin.close().then(() => process.exit(0))
      process.on('SIGINT', stop)
      process.on('SIGTERM', stop)
    },
    (error: unknown) => {
      process.stderr.write(`github-standin: ${String(error)}\n`)
      process.exitCode = 1
    },
  )
}

main()
