import type { Hono } from 'hono'
import type { AppEnv } from '../env.ts'
import { githubWebhook } from './github/webhook.ts'
import { gitlabWebhook } from './gitlab/webhook.ts'
import type { ProviderName } from './provider.ts'

/** Each provider's webhook route, mounted at `/v1/<provider>/webhook`. */
export const WEBHOOKS: { [N in ProviderName]: Hono<AppEnv> } = {
  gitlab: gitlabWebhook,
  github: githubWebhook,
}
