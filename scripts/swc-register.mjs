// `node --import <this file>` runs TypeScript with @swc-node/register, which (unlike tsx) emits
// the decorator metadata o1js's @method needs. Unlike @swc-node/register/esm-register, it works
// from any working directory (GitLab Runner calls the agent from its builds dir): the loader and
// the tsconfig are resolved from this repository, not from the cwd.
import { register } from 'node:module'
import { fileURLToPath } from 'node:url'

process.env.SWC_NODE_PROJECT ??= fileURLToPath(new URL('../tsconfig.json', import.meta.url))
register('@swc-node/register/esm', import.meta.url)
