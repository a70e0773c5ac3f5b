// What a file may be: an allowlist of content types, each checked against the bytes themselves, so neither
// the name nor the Content-Type header can smuggle in what a browser or an OS would run.

/** Types with a signature: the first bytes must match. */
const SIGNATURES = {
  'image/png': [[0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]],
  'image/jpeg': [[0xff, 0xd8, 0xff]],
  'image/gif': [ascii('GIF87a'), ascii('GIF89a')],
  'image/webp': [[...ascii('RIFF'), -1, -1, -1, -1, ...ascii('WEBP')]],
  'application/pdf': [ascii('%PDF-')],
  'application/zip': [[0x50, 0x4b, 0x03, 0x04], [0x50, 0x4b, 0x05, 0x06]],
} as const satisfies Record<string, ReadonlyArray<readonly number[]>>;

/** Text types: valid UTF-8 without NUL, and no binary signature at the start. */
const TEXT_TYPES = ['text/plain', 'text/csv', 'application/json'] as const;

export const FILE_TYPES = [...(Object.keys(SIGNATURES) as Array<keyof typeof SIGNATURES>), ...TEXT_TYPES] as const;
export type FileType = (typeof FILE_TYPES)[number];

/** Executables and scripts, refused whatever they claim to be: PE (MZ), ELF, Mach-O (thin and fat), shebang. */
const EXECUTABLES: ReadonlyArray<readonly number[]> = [
  ascii('MZ'),
  [0x7f, 0x45, 0x4c, 0x46],
  [0xfe, 0xed, 0xfa, 0xce],
  [0xfe, 0xed, 0xfa, 0xcf],
  [0xce, 0xfa, 0xed, 0xfe],
  [0xcf, 0xfa, 0xed, 0xfe],
  [0xca, 0xfe, 0xba, 0xbe],
  ascii('#!'),
];

/** How many leading bytes the signatures need. */
export const SNIFF_BYTES = 12;

function ascii(text: string): number[] {
  return [...text].map((char) => char.charCodeAt(0));
}

const matches = (head: Uint8Array, signature: readonly number[]) =>
  head.length >= signature.length && signature.every((byte, index) => byte === -1 || head[index] === byte);

/** The allowlisted type a Content-Type header names (parameters and case ignored), or undefined. */
export function allowedType(header: string | undefined): FileType | undefined {
  const type = header?.split(';')[0]?.trim().toLowerCase();
  return FILE_TYPES.find((allowed) => allowed === type);
}

export const isTextType = (type: FileType): boolean => (TEXT_TYPES as readonly string[]).includes(type);

/**
 * Whether a file's first bytes (up to SNIFF_BYTES; fewer only if the file is shorter) fit `type`: a binary
 * type's signature, or for text no signature of any binary type. Executables never fit.
 */
export function bytesFitType(head: Uint8Array, type: FileType): boolean {
  if (EXECUTABLES.some((signature) => matches(head, signature))) return false;
  if (type in SIGNATURES) return SIGNATURES[type as keyof typeof SIGNATURES].some((signature) => matches(head, signature));
  return !Object.values(SIGNATURES).some((signatures) => signatures.some((signature: readonly number[]) => matches(head, signature)));
}
