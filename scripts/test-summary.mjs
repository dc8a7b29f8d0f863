// A node:test reporter that ends the run with one line a person and CI can read: "N passed, N failed, N skipped",
// preceded by every skipped test with its reason (most are tests that need a system package; the reason names it).
export default async function* summary(source) {
  let passed = 0;
  let failed = 0;
  const skipped = [];
  const failures = [];
  for await (const event of source) {
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    const { data } = event;
    const skip = data.skip !== undefined && data.skip !== false ? (typeof data.skip === 'string' ? data.skip : 'skipped') : null;
    // Suites (describe) report too; only count the tests inside them, or the suite itself when it was skipped whole.
    if (data.details?.type === 'suite' && skip !== null) {
      skipped.push({ name: `${data.name} (the whole suite)`, reason: skip });
      continue;
    }
    if (data.details?.type === 'suite') {
      if (event.type === 'test:fail' && data.details.error?.failureType === 'hookFailed') failures.push(`${data.name}: a hook failed`);
      continue;
    }
    if (skip !== null) {
      skipped.push({ name: data.name, reason: skip });
    } else if (data.todo !== undefined && data.todo !== false) {
      passed += event.type === 'test:pass' ? 1 : 0;
    } else if (event.type === 'test:pass') {
      passed += 1;
    } else {
      failed += 1;
      failures.push(data.name);
    }
  }
  let text = '\n';
  if (failures.length > 0) text += `failed (${failures.length}):\n${failures.map((name) => `  - ${name}\n`).join('')}`;
  if (skipped.length > 0) {
    // One line per distinct reason, with the tests it skipped.
    const byReason = new Map();
    for (const { name, reason } of skipped) byReason.set(reason, [...(byReason.get(reason) ?? []), name]);
    text += `skipped (${skipped.length}):\n`;
    for (const [reason, names] of byReason) text += `  - ${names.length <= 3 ? names.join('; ') : `${names.length} tests`}: ${reason}\n`;
  }
  text += `${passed} passed, ${failed} failed, ${skipped.length} skipped\n`;
  yield text;
}
