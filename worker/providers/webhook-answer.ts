import { ApiError, ApiErrorCode } from '../errors.ts'
import type { Outcome } from '../service-object.ts'

/** The answer to an event that is not (or no longer) zkrunner's: a 200, so providers keep the hook. */
export const ignored = (why: string) => ({ accepted: false, ignored: why })

/** The answer to an applied event: an authentication refusal is an error, anything else a 200. */
export function answer(outcome: Outcome<{ applied: boolean }>) {
  if (outcome.ok) return { accepted: outcome.value.applied }
  if (outcome.code === ApiErrorCode.UNAUTHORIZED || outcome.code === ApiErrorCode.WRONG_PROJECT) {
    throw new ApiError(outcome.status as 401 | 403, outcome.code, outcome.message)
  }
  return ignored(outcome.code)
}
