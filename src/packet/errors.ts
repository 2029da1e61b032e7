/**
 * The one exception a parser of untrusted bytes may throw. Anything else that
 * escapes a parser is a bug (the robustness property tests enforce this).
 */
export class PacketParseError extends Error {
  override readonly name = 'PacketParseError';
  constructor(
    message: string,
    /** Byte offset in the input where the problem was found, when known. */
    readonly offset = -1,
  ) {
    super(message);
  }
}
