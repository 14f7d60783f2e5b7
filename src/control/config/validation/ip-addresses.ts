import { isIP } from 'node:net';

/** IP addresses and CIDR blocks, as Go's netip parses them (no zones in prefixes, no leading zeros). */
export function isValidIP(s: string): boolean {
  if (typeof s !== 'string' || s === '') return false;
  const zone = s.indexOf('%');
  const addr = zone >= 0 && s.includes(':') ? s.slice(0, zone) : s;
  if (isIP(addr) === 4) return !/(^|\.)0\d/.test(addr);
  return isIP(addr) === 6;
}

export function validateIPAddress(addr: string): string | undefined {
  return isValidIP(addr) ? undefined : `${addr} is not a valid IP`;
}

export function isValidCIDR(s: string): boolean {
  const slash = s.indexOf('/');
  if (slash < 0) return false;
  const ip = s.slice(0, slash);
  const bits = s.slice(slash + 1);
  if (!/^\d{1,3}$/.test(bits) || ip.includes('%')) return false;
  const family = isIP(ip);
  if (family === 0 || (family === 4 && /(^|\.)0\d/.test(ip))) return false;
  return Number(bits) <= (family === 4 ? 32 : 128);
}

/** "a.b.c.d", "a.b.c.d/xx", "2001:db8::/64". */
export function validateIPSubnet(subnet: string): string | undefined {
  if ((subnet.match(/\//g) ?? []).length === 1) return isValidCIDR(subnet) ? undefined : `${subnet} is not a valid CIDR block`;
  return validateIPAddress(subnet);
}
