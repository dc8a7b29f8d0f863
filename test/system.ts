// Tests that need a Debian package: skipped with the install command where it is missing, required under CI.
/** `bash scripts/install-test-deps.sh` installs every package these tests need (root and apt-get). */
export const INSTALL_ALL = 'bash scripts/install-test-deps.sh';

/**
 * The `skip` option for a test or suite that needs a system package: false where it is present or under CI
 * (CI=true, where the test runs and its own assertion fails on the missing package), else the reason to print.
 */
export function unlessInstalled(present: boolean, what: string, install: string): string | false {
  if (present || process.env.CI === 'true') return false;
  return `needs ${what}: ${install} (or ${INSTALL_ALL}); required when CI=true`;
}
