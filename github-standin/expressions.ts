/**
 * The subset of GitHub's `${{ … }}` expressions a zkrunner workflow uses: `inputs.<name>`,
 * `github.event.inputs.<name>` and `github.<field>`. Anything else expands to the empty string, as
 * a missing context property does on GitHub; nothing is evaluated.
 */
export function expandExpressions(
  text: string,
  context: { inputs: Record<string, string>; github: Record<string, string> },
): string {
  return text.replace(/\$\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}/g, (_m, path: string) => {
    const parts = path.split('.')
    if (parts[0] === 'inputs' && parts.length === 2) return context.inputs[parts[1]!] ?? ''
    if (
      parts[0] === 'github' &&
      parts[1] === 'event' &&
      parts[2] === 'inputs' &&
      parts.length === 4
    )
      return context.inputs[parts[3]!] ?? ''
    if (parts[0] === 'github' && parts.length === 2) return context.github[parts[1]!] ?? ''
    return ''
  })
}
