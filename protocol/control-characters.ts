// Apart from parameters.ts so that outputs.ts and parameters.ts (whose `service` type names output
// types) can both use it without importing each other.

// C0 and C1 controls: a newline in a CI variable can forge a dotenv line or a log line.
/** Whether a string holds a control character (newline, tab, escape, …). */
export function hasControlCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) return true
  }
  return false
}
