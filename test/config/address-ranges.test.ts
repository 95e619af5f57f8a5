import { describe, expect, test } from "bun:test";
import { clientAddress, inRange, parseAddress, parseRange, type AddressRange } from "../../src/config/address-ranges.ts";

const ranges = (...texts: string[]): AddressRange[] => texts.map((t) => parseRange(t)!);

describe("addresses and ranges", () => {
  test("IPv4, IPv6 with :: and an embedded IPv4, brackets and zones are read; anything else is not an address", () => {
    expect([...parseAddress("192.168.1.5")!]).toEqual([192, 168, 1, 5]);
    expect(parseAddress("::1")).toHaveLength(16);
    expect([...parseAddress("[fe80::1%eth0]")!].slice(0, 2)).toEqual([0xfe, 0x80]);
    expect([...parseAddress("64:ff9b::192.0.2.33")!].slice(12)).toEqual([192, 0, 2, 33]);
    // IPv4-mapped IPv6 is the IPv4 address (a dual-stack socket reports IPv4 peers that way).
    expect([...parseAddress("::ffff:10.1.2.3")!]).toEqual([10, 1, 2, 3]);
    for (const bad of ["", "256.0.0.1", "1.2.3", "1.2.3.4.5", "proxy.internal", "1::2::3", "1:2:3:4:5:6:7:8:9", "12345::", "::g"]) expect(parseAddress(bad)).toBeNull();
  });

  test("a range matches the addresses under its prefix, of its own family only", () => {
    const [ten, one, six, mapped] = ranges("10.0.0.0/8", "192.168.1.5", "fd00::/8", "::ffff:172.16.0.0/108");
    expect(inRange(parseAddress("10.255.0.1")!, ten!)).toBe(true);
    expect(inRange(parseAddress("11.0.0.1")!, ten!)).toBe(false);
    expect(inRange(parseAddress("192.168.1.5")!, one!)).toBe(true);
    expect(inRange(parseAddress("192.168.1.6")!, one!)).toBe(false);
    expect(inRange(parseAddress("fd12::7")!, six!)).toBe(true);
    expect(inRange(parseAddress("fe80::1")!, six!)).toBe(false);
    expect(inRange(parseAddress("10.0.0.1")!, six!)).toBe(false);
    expect(inRange(parseAddress("172.31.9.9")!, mapped!)).toBe(true);
    expect(inRange(parseAddress("172.32.0.1")!, mapped!)).toBe(false);
    expect(parseRange("0.0.0.0/0")!.prefix).toBe(0);
    for (const bad of ["10.0.0.0/33", "10.0.0.0/", "10.0.0.0/x", "::/129", "localhost"]) expect(parseRange(bad)).toBeNull();
  });
});

describe("the client behind trusted proxies", () => {
  const proxies = ranges("10.0.0.0/8", "::1");

  test("without trusted proxies, or from a peer that is not one, the peer is the client whatever the header says", () => {
    expect(clientAddress("203.0.113.7", "198.51.100.1", [])).toBe("203.0.113.7");
    expect(clientAddress("203.0.113.7", "198.51.100.1", proxies)).toBe("203.0.113.7");
    expect(clientAddress("10.0.0.2", null, proxies)).toBe("10.0.0.2");
  });

  test("the right-most forwarded address that is not a trusted proxy is the client; what the client wrote to its left is ignored", () => {
    expect(clientAddress("10.0.0.2", "203.0.113.7", proxies)).toBe("203.0.113.7");
    expect(clientAddress("10.0.0.2", "1.2.3.4, 203.0.113.7", proxies)).toBe("203.0.113.7");
    expect(clientAddress("::1", "203.0.113.7, 10.9.9.9", proxies)).toBe("203.0.113.7");
    expect(clientAddress("::ffff:10.0.0.2", "[2001:db8::5]", proxies)).toBe("2001:db8::5");
    // Only proxies all the way: the left-most hop is as far as the chain goes.
    expect(clientAddress("10.0.0.2", "10.0.0.7, 10.0.0.8", proxies)).toBe("10.0.0.7");
  });

  test("an unreadable hop where the chain is read leaves the peer's address", () => {
    expect(clientAddress("10.0.0.2", "203.0.113.7, garbage", proxies)).toBe("10.0.0.2");
    expect(clientAddress("10.0.0.2", "", proxies)).toBe("10.0.0.2");
  });
});
