import {
  canonicalJson,
  isPrivateService,
  type ParameterSpec,
  type PublicServiceDescriptor,
  type ServiceDescriptor,
  type Voucher,
} from '../../protocol/index.ts'
import { JOB_ID_VARIABLE, SERVICE_VARIABLE } from './variables.ts'

/** What one admitted job sends its provider besides the descriptor. */
export interface TriggerJob {
  requestId: string
  service: string
  user: string
  /** The validated parameters, defaults filled in, as CI variable values. */
  parameters: Record<string, string>
  voucher: Voucher
  /** The service versions above a driver call; absent or empty for a user's own request. */
  callPath?: readonly string[]
}

/**
 * The variables (GitLab) or inputs (GitHub) a job is triggered with: its parameters under their
 * own names and the `ZKRUNNER_*` identity. Built here alone, so admission and registration (its
 * largest case, below) check the provider's limits on one shape.
 */
export function triggerVariables(
  runsOn: Pick<PublicServiceDescriptor, 'job' | 'sourceCommitment' | 'outputs'>,
  job: TriggerJob,
): Record<string, string> {
  return {
    ...job.parameters,
    [JOB_ID_VARIABLE]: job.requestId,
    [SERVICE_VARIABLE]: job.service,
    ZKRUNNER_USER: job.user,
    ZKRUNNER_JOB_NAME: runsOn.job,
    ZKRUNNER_SOURCE_COMMITMENT: runsOn.sourceCommitment,
    // The parameters as one value too: the runner hashes them into the manifest's
    // requestDigest, so the page can tell its own request's result from any other.
    ZKRUNNER_PARAMETERS: canonicalJson(job.parameters),
    // The runner settles with the user's latest voucher; it is a signed promise, not a secret.
    ZKRUNNER_VOUCHER: canonicalJson(job.voucher),
    // The declared outputs, which the runner checks the job's written values against before
    // it signs them. Only when declared: a GitHub workflow then declares this input too.
    ...(runsOn.outputs?.length ? { ZKRUNNER_OUTPUTS: canonicalJson(runsOn.outputs) } : {}),
    // A driver call's path: the runner hashes it into requestDigest, and a call the job makes
    // carries it on one level down. Only when present: a GitHub workflow then declares it too.
    ...(job.callPath?.length ? { ZKRUNNER_CALL_PATH: canonicalJson(job.callPath) } : {}),
  }
}

// Upper bounds of what a request can put in a variable: the longest values the protocol's
// schemas accept (a Mina address is 55 characters, a signature at most 200, amounts 64-bit).
const LONGEST_ADDRESS = `B62${'q'.repeat(52)}`
const LONGEST_UINT64 = '18446744073709551615'
const LONGEST_SIGNATURE = '1'.repeat(200)
const LONGEST_JOB_ID = 'f'.repeat(32)
// A private service's job name is sealed, so registration bounds it by the longest the sealed
// coordinates accept (PrivateCoordinatesSchema: 255 characters).
const LONGEST_JOB_NAME = 'j'.repeat(255)

/** The longest value a parameter can take, counting JSON escapes (a quote is two characters). */
function longestValue(spec: ParameterSpec): string {
  switch (spec.type) {
    case 'string':
      return '"'.repeat(spec.maxLength)
    case 'integer': {
      const ends = [spec.min ?? Number.MIN_SAFE_INTEGER, spec.max ?? Number.MAX_SAFE_INTEGER]
      return ends.map(String).reduce((a, b) => (b.length > a.length ? b : a))
    }
    case 'boolean':
      return 'false'
    case 'enum':
      return spec.values.reduce((a, b) =>
        JSON.stringify(b).length > JSON.stringify(a).length ? b : a,
      )
    case 'service':
      return LONGEST_ADDRESS
  }
}

/**
 * The largest variables any request to this descriptor can produce: every parameter set to its
 * longest value and the identity at its longest. A provider's limits that hold for these hold for
 * every job, so registration refuses a descriptor whose jobs a provider could refuse.
 */
export function largestTriggerVariables(descriptor: ServiceDescriptor): Record<string, string> {
  const runsOn = {
    job: isPrivateService(descriptor) ? LONGEST_JOB_NAME : descriptor.job,
    sourceCommitment: descriptor.sourceCommitment,
    outputs: descriptor.outputs,
  }
  return triggerVariables(runsOn, {
    requestId: LONGEST_JOB_ID,
    service: LONGEST_ADDRESS,
    user: LONGEST_ADDRESS,
    parameters: Object.fromEntries(descriptor.parameters.map((p) => [p.name, longestValue(p)])),
    voucher: {
      v: 1,
      user: LONGEST_ADDRESS,
      service: LONGEST_ADDRESS,
      cumulativeAmount: LONGEST_UINT64,
      nonce: LONGEST_UINT64,
      signature: LONGEST_SIGNATURE,
    },
  })
}
