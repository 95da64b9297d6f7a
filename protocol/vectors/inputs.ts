import {
  type OutputSpec,
  type RequestBinding,
  type ResultManifest,
  requestDigest,
  type ServiceDescriptor,
  type ServiceParameterSpec,
  type SettledLeaves,
  type UnsignedVoucher,
} from '../index.ts'

// Fixed inputs of the committed test vectors. These keys are public test keys: never fund them.

/** Test keys (Mina base58 and HPKE base64url). */
export const keys = {
  user: {
    publicKey: 'B62qkmSLJVkBYf82Ja5Nrx6N2AvWUEbf7dRfy1Wmh3SjvHwpT5UBstJ',
    privateKey: 'EKEuNF1CzLdERBS8PzZqgrf4ria1TMnEfPepwmG63vVdhFcHKzU1',
  },
  runner: {
    publicKey: 'B62qqEc9dEctNXNTmwoJfUxdd42F9CFzPPtGWnu1fLaokR3x53jNFWj',
    privateKey: 'EKDqPzgb2Rx3fSwm2gFzkfGy5T4RfifJVDM8iKpfzPFVxtTi39RL',
  },
  service: {
    publicKey: 'B62qkx9aSYUXWUCqQQbdP8dqPUBWFcY4HX1RqLVv4Fn5bJpZn1rnfKc',
    privateKey: 'EKExV9mf1K8r2aZqyemSSxZo1P5LbwNq2JLAV9HmnoM8ZknMVsnh',
  },
  hpke: {
    kid: '8e42b7c74965c40c',
    publicKey: '9OBIjAZmFQo0ktHADYbSq3DNwTj4enwdR_9VBkBO1UU',
    privateKey: 'oDQ7Si0ZDroRlexJT8MooqrxHrcT8iq0l8RrN6yznks',
  },
} as const

/** A service descriptor with every kind of parameter. */
export const descriptor: ServiceDescriptor = {
  v: 1,
  name: 'Build and test primes',
  description: 'Compiles a small C program and runs its tests.',
  provider: 'gitlab',
  providerUrl: 'https://gitlab.example.com',
  project: 'zkrunner/sample-primes',
  ref: 'main',
  job: 'test',
  sourceCommitment: '3f786850e387550fdab836ed7e6dc881de23001b',
  pricePerJob: '1000000',
  runnerPublicKey: keys.runner.publicKey,
  workerPublicKey: keys.hpke.publicKey,
  parameters: [
    { name: 'LIMIT', type: 'integer', required: true, min: 1, max: 10000000 },
    { name: 'OPT', type: 'enum', required: false, values: ['O0', 'O2'], default: 'O2' },
    { name: 'VERBOSE', type: 'boolean', required: false, default: false },
    { name: 'LABEL', type: 'string', required: false, maxLength: 32, pattern: '[a-z0-9-]*' },
  ],
}

/** A `service` parameter whose driver sets OPT and LIMIT and writes `primes` (the driver rule's vectors). */
export const driverSpec: ServiceParameterSpec = {
  name: 'DRIVER',
  type: 'service',
  required: true,
  interface: {
    parameters: [
      { name: 'OPT', type: 'enum' },
      { name: 'LIMIT', type: 'integer' },
    ],
    outputs: [{ name: 'primes', type: 'integer' }],
  },
}

/** A voucher for 3 jobs at the descriptor's price. */
export const voucher: UnsignedVoucher = {
  v: 1,
  user: keys.user.publicKey,
  service: keys.service.publicKey,
  cumulativeAmount: '3000000',
  nonce: '3',
}

/** What the job of `manifest` answers. */
export const request: RequestBinding = {
  requestId: '00112233445566778899aabbccddeeff',
  service: keys.service.publicKey,
  user: keys.user.publicKey,
  parameters: { TARGET: 'release', RUNS: '3' },
}

/** How a job ran, as the signer records it: its mode and the command line it started. */
export const ran: NonNullable<ResultManifest['ran']> = {
  mode: 'signer',
  command: ['bash', '--noprofile', '--norc', '-eo', 'pipefail', '/runner/_work/_temp/step.sh'],
}

/** A result manifest of a finished job. */
export const manifest: ResultManifest = {
  v: 1,
  jobId: '00112233445566778899aabbccddeeff',
  service: keys.service.publicKey,
  sourceCommitment: descriptor.sourceCommitment,
  runner: keys.runner.publicKey,
  user: keys.user.publicKey,
  requestDigest: requestDigest(request),
  exitCode: 0,
  signal: null,
  startedAt: '2026-11-29T12:00:00.000Z',
  endedAt: '2026-11-29T12:00:01.500Z',
  wallMs: 1500,
  cpuMs: 1420,
  peakRssBytes: 10485760,
  sampling: {
    source: 'perf',
    intervalMs: 100,
    sampleCount: 15,
    events: [
      { event: 'task-clock', supported: true, total: 1420.5, unit: 'msec' },
      { event: 'cycles', supported: false, total: null, unit: '' },
    ],
    samplesPath: 'samples.jsonl',
  },
  files: [
    {
      path: 'stdout.log',
      size: 12,
      sha256: 'a948904f2f0f479b8f8197694b30184b0d2ed1c1cd2a1ec0fb85d299a192a447',
      cid: 'bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4',
    },
  ],
}

/** Bytes whose SHA-256 and raw CID are vectors. */
export const helloBytes = new TextEncoder().encode('hello world\n')

/** The leaves behind a settlement of two jobs of the user with the service. */
export const settledLeaves: SettledLeaves = {
  v: 1,
  service: keys.service.publicKey,
  user: keys.user.publicKey,
  manifestDigests: [
    'a948904f2f0f479b8f8197694b30184b0d2ed1c1cd2a1ec0fb85d299a192a447',
    'b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9',
  ],
}

/** A settlement of those two jobs at the voucher's amount and nonce (the root is an arbitrary Field here). */
export const settlement = {
  resultsRoot: 12345678901234567890n,
  resultsCount: 2n,
  cumulativeAmount: 3000000n,
  nonce: 3n,
}

/** The opening of a private service's source commitment (a project path longer than 31 bytes). */
export const sourceOpening = {
  salt: '0f1e2d3c4b5a69788796a5b4c3d2e1f00112233445566778899aabbccddeef',
  providerUrl: 'https://gitlab.example.com',
  project: 'acme/private-benchmarks/nightly-suite',
  commit: '3f786850e387550fdab836ed7e6dc881de23001b',
}

/** Declared outputs of every type, for the outputs vectors. */
export const outputSpecs: OutputSpec[] = [
  { name: 'primes', type: 'integer', required: true, max: '18446744073709551615' },
  { name: 'passed', type: 'boolean', required: true },
  { name: 'report', type: 'sha256', required: false },
  { name: 'bundle', type: 'cid', required: false },
  { name: 'label', type: 'string', required: false, maxBytes: 64 },
]

/** What a job wrote: every output, as `zkrunner-agent output` writes them (text). */
export const writtenOutputs = [
  { name: 'primes', value: '78498' },
  { name: 'passed', value: 'true' },
  { name: 'report', value: 'b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9' },
  { name: 'bundle', value: 'bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e' },
  { name: 'label', value: 'pi(10^6) ✓ — a label that runs past one 31-byte Field' },
]

/** A job whose outputs do not match: a value that does not parse, a required one missing. */
export const invalidWrittenOutputs = [
  { name: 'primes', value: '-1' },
  { name: 'label', value: 'ok' },
]
