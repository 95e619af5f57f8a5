// IP addresses and CIDR ranges (TRUSTED_PROXIES), and the client address behind trusted proxies. Pure: the config
// parses the setting with it, admission resolves each connection's address with it.

/** An address as bytes (4 for IPv4, IPv4-mapped IPv6 included; 16 for IPv6) and how many leading bits must match. */
export interface AddressRange {
  bytes: Uint8Array;
  prefix: number;
}

function parseIPv4(text: string): number[] | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  const bytes: number[] = [];
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return null;
    bytes.push(Number(p));
  }
  return bytes;
}

function parseIPv6(text: string): number[] | null {
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const groups = (s: string): number[] | null => {
    if (s === "") return [];
    const out: number[] = [];
    const parts = s.split(":");
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!;
      if (i === parts.length - 1 && p.includes(".")) {
        const v4 = parseIPv4(p);
        if (!v4) return null;
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else if (/^[0-9a-f]{1,4}$/i.test(p)) out.push(parseInt(p, 16));
      else return null;
    }
    return out;
  };
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  if (!head || !tail) return null;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  const all = [...head, ...new Array<number>(missing).fill(0), ...tail];
  return all.flatMap((g) => [g >> 8, g & 0xff]);
}

/** The address's bytes, or null when `text` is not an IP address. IPv4-mapped IPv6 (::ffff:a.b.c.d) is IPv4. */
export function parseAddress(text: string): Uint8Array | null {
  let t = text.trim();
  if (t.startsWith("[") && t.endsWith("]")) t = t.slice(1, -1);
  const zone = t.indexOf("%");
  if (zone >= 0) t = t.slice(0, zone);
  if (!t.includes(":")) {
    const v4 = parseIPv4(t);
    return v4 ? Uint8Array.from(v4) : null;
  }
  const v6 = parseIPv6(t);
  if (!v6) return null;
  const mapped = v6.slice(0, 10).every((b) => b === 0) && v6[10] === 0xff && v6[11] === 0xff;
  return Uint8Array.from(mapped ? v6.slice(12) : v6);
}

/** "10.0.0.0/8", "fd00::/8" or a single address; null when it is neither. */
export function parseRange(text: string): AddressRange | null {
  const slash = text.indexOf("/");
  const bytes = parseAddress(slash < 0 ? text : text.slice(0, slash));
  if (!bytes) return null;
  if (slash < 0) return { bytes, prefix: bytes.length * 8 };
  const bits = text.slice(slash + 1).trim();
  const written = text.includes(":") ? 128 : 32;
  if (!/^\d{1,3}$/.test(bits) || Number(bits) > written) return null;
  // A mapped IPv6 range (::ffff:10.0.0.0/104) counts its prefix over the IPv4 part.
  const prefix = Number(bits) - (written - bytes.length * 8);
  return prefix < 0 ? null : { bytes, prefix };
}

export function inRange(address: Uint8Array, range: AddressRange): boolean {
  if (address.length !== range.bytes.length) return false;
  let bits = range.prefix;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((address[i]! & mask) !== (range.bytes[i]! & mask)) return false;
  }
  return true;
}

const trusted = (bytes: Uint8Array | null, ranges: readonly AddressRange[]) => bytes !== null && ranges.some((r) => inRange(bytes, r));

/**
 * Who connected, behind the proxies in `ranges`: the TCP peer unless it is a trusted proxy; then the right-most
 * X-Forwarded-For entry that is not a trusted proxy (entries to its left were written by the client and prove
 * nothing). A header that is missing or malformed where it is read leaves the peer's address: an unreadable hop
 * never becomes a budget of its own.
 */
export function clientAddress(peer: string, forwardedFor: string | null, ranges: readonly AddressRange[]): string {
  if (ranges.length === 0 || forwardedFor === null || !trusted(parseAddress(peer), ranges)) return peer;
  const hops = forwardedFor.split(",").map((h) => h.trim());
  for (let i = hops.length - 1; i >= 0; i--) {
    const bytes = parseAddress(hops[i]!);
    if (bytes === null) return peer;
    if (!trusted(bytes, ranges)) return hops[i]!.replace(/^\[|\]$/g, "");
  }
  return hops[0]!.replace(/^\[|\]$/g, "");
}
