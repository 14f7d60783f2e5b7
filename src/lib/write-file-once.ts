import { linkSync, unlinkSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';

/**
 * Create `path` with `data` only if it does not exist yet, atomically: readers never see a
 * half-written file and two racing writers leave exactly one version. Returns false when the
 * file already existed (the caller should read it instead).
 */
export function writeFileOnce(path: string, data: string | Buffer, mode = 0o600): boolean {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(tmp, data, { mode, flag: 'wx' });
  try {
    linkSync(tmp, path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    unlinkSync(tmp);
  }
}
