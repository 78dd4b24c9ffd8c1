/**
 * CRC-32 of two byte strings joined, from the CRC of each and the second's
 * length, as zlib's crc32_combine (which node:zlib does not expose). It lets
 * the threads that deflate a gzip stream's blocks also checksum them, and the
 * caller join their checksums in order, instead of running crc32 over every
 * byte on its own thread.
 *
 * The arithmetic is over GF(2) polynomials modulo the CRC-32 polynomial, in
 * the reflected bit order CRC-32 uses: appending n zero bytes to a message
 * multiplies its CRC by x^(8n), and x^(2^k) is tabulated, so combining costs
 * O(log n) multiplications.
 */
const POLYNOMIAL = 0xedb88320;
/** The polynomial 1, as a reflected 32-bit value (x^0 is the top bit). */
const ONE = 0x80000000;

/** a(x) · b(x) modulo the CRC polynomial. */
function multiplyModP(a: number, b: number): number {
  let product = 0;
  let bits = b >>> 0;
  for (let mask = ONE; mask !== 0; mask >>>= 1) {
    if ((a & mask) !== 0) product ^= bits;
    bits = (bits & 1) !== 0 ? (bits >>> 1) ^ POLYNOMIAL : bits >>> 1;
  }
  return product >>> 0;
}

/** X_TO_2K[k] = x^(2^k) modulo the CRC polynomial. */
const X_TO_2K: number[] = [];
for (let k = 0, power = ONE >>> 1; k < 64; k++) {
  X_TO_2K.push(power);
  power = multiplyModP(power, power);
}

/** x^(8 · bytes) modulo the CRC polynomial: the effect of appending `bytes` zero bytes. */
function zeroBytesOperator(bytes: number): number {
  let result = ONE;
  let remaining = bytes;
  for (let k = 3; remaining > 0; k++, remaining = Math.floor(remaining / 2)) {
    if (remaining % 2 === 1) result = multiplyModP(X_TO_2K[k % 64] ?? ONE, result);
  }
  return result;
}

/** The CRC-32 of A followed by B, given crc32(A), crc32(B) and B's length in bytes. */
export function crc32Combine(crcA: number, crcB: number, lengthB: number): number {
  return (multiplyModP(zeroBytesOperator(lengthB), crcA) ^ crcB) >>> 0;
}
