// Test files must not `await` at their top level once a test or assertion has started. The root tap
// test ends itself two timer ticks after it goes idle (its teardown then closes the GPU device), so a
// top-level await that takes real time, such as a readback on a real GPU, is cut off with
// "DeviceLostError: ... Device.destroy() was called". On the software GPU a readback is nearly
// instant and the race never shows, so this check reads the sources instead: work goes inside
// `t.test(...)` subtests, which the root waits for.
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const dir = path.dirname(fileURLToPath(import.meta.url));

/** Top-level awaits (outside any function) that come after the first assertion or subtest: a call
 *  `t.<method>(...)` other than `t.teardown`, or a helper handed the root test (`checkOp(t, ...)`)
 *  other than `withDevice(t)`, which only registers a teardown. As "line: text". */
export function lateTopLevelAwaits(source: string, file = 'x.ts'): string[] {
  const sf = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  let started = false;
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) || ts.isClassLike(node)) return; // their awaits are not top-level
    // A loop whose body starts tests runs its awaits again after its first assertion.
    if (ts.isIterationStatement(node, false) && containsStart(node)) started = true;
    if (ts.isAwaitExpression(node) || (ts.isForOfStatement(node) && node.awaitModifier)) {
      if (started) {
        const line = sf.getLineAndCharacterOfPosition(node.getStart()).line + 1;
        found.push(`${line}: ${node.getText().split('\n')[0].slice(0, 80)}`);
      }
    }
    ts.forEachChild(node, visit);
    if (ts.isCallExpression(node) && startsTests(node)) started = true;
  };
  for (const statement of sf.statements) visit(statement);
  return found;
}

function containsStart(node: ts.Node): boolean {
  if (ts.isFunctionLike(node) || ts.isClassLike(node)) return false;
  if (ts.isCallExpression(node) && startsTests(node)) return true;
  return ts.forEachChild(node, containsStart) ?? false;
}

function startsTests(call: ts.CallExpression): boolean {
  const callee = call.expression;
  if (ts.isPropertyAccessExpression(callee) && ts.isIdentifier(callee.expression) && callee.expression.text === 't') {
    return callee.name.text !== 'teardown';
  }
  const handsRoot = call.arguments.some((a) => ts.isIdentifier(a) && a.text === 't');
  return handsRoot && !(ts.isIdentifier(callee) && callee.text === 'withDevice');
}

t.test('the checker finds a late top-level await and nothing else', async (t) => {
  const bad = `import t from 'tap';\nconst d = await open();\nt.test('a', async (t) => { await x(); });\n` +
    `for (const s of shapes) {\n  await checkOp(t, s);\n}\n`;
  t.same(lateTopLevelAwaits(bad), ['5: await checkOp(t, s)']);
  const assertsFirst = `import t from 'tap';\nawait withDevice(t);\nawait checkOp(t, 'a');\nawait checkOp(t, 'b');\n`;
  t.same(lateTopLevelAwaits(assertsFirst), ['4: await checkOp(t, \'b\')']);
  const loop = `import t from 'tap';\nfor (const s of shapes) {\n  await checkOp(t, s);\n}\n`;
  t.same(lateTopLevelAwaits(loop), ['3: await checkOp(t, s)']);
  const good = `import t from 'tap';\nconst d = await open();\nt.teardown(() => close(d));\n` +
    `await more();\nt.test('a', async (t) => { await x(); });\n`;
  t.same(lateTopLevelAwaits(good), []);
});

t.test('no test file awaits at its top level after its tests have started', async (t) => {
  const files = readdirSync(dir).filter((f) => f.endsWith('.test.ts')).sort();
  t.ok(files.length > 10, `${files.length} test files read`);
  for (const f of files) {
    const late = lateTopLevelAwaits(readFileSync(path.join(dir, f), 'utf8'), f);
    t.same(late, [], `${f}: move these into t.test subtests`);
  }
});
