import { github } from './github/provider.ts'
import { gitlab } from './gitlab/provider.ts'
import type { Provider, ProviderName } from './provider.ts'

export type {
  HookEvidence,
  Provider,
  ProviderContext,
  ProviderName,
  ReconcileOutcome,
  RunRef,
  TriggerOutcome,
} from './provider.ts'
export { backoffMs } from './retry.ts'
export {
  largestTriggerVariables,
  type TriggerJob,
  triggerVariables,
} from './trigger-variables.ts'
export { JOB_ID_VARIABLE, SERVICE_VARIABLE } from './variables.ts'

/** Every provider the Worker knows, by the descriptor's `provider`: a new one is one more folder. */
const PROVIDERS: { [N in ProviderName]: Provider } = { gitlab, github }

/** The provider a descriptor names. */
export const providerOf = (name: ProviderName): Provider => PROVIDERS[name]
