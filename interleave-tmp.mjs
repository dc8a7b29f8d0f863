// Winograd off (TEMPER_WINOGRAD=0) and on in turn, one process: images/s per step kind, and the median per-pair ratio.
const root = process.argv[2];
const models = process.argv[3].split(',');
const batch = Number(process.argv[4]);
const reps = Number(process.argv[5]);
const tf = await import('@tensorflow/tfjs');
const { initBackend } = await import(`${root}/dist/src/backend/index.js`);
const { measureStep } = await import(`${root}/dist/src/bench/measure.js`);
await initBackend('wasm');
const plan = { batch, warmupSteps: 1, minSteps: 2, minSeconds: 3, maxSeconds: 60 };
for (const model of models) for (const kind of ['train', 'pgd']) {
  const ratios = [], off = [], on = [];
  for (let r = 0; r < reps; r++) {
    const pair = {};
    for (const mode of r % 2 ? ['on', 'off'] : ['off', 'on']) {
      if (mode === 'off') process.env.TEMPER_WINOGRAD = '0'; else delete process.env.TEMPER_WINOGRAD;
      const m = await measureStep(model, kind, plan, 0);
      if (m.error) throw new Error(m.error);
      pair[mode] = m.imagesPerSecond;
    }
    off.push(pair.off); on.push(pair.on); ratios.push(pair.on / pair.off);
  }
  const med = (a) => [...a].sort((p, q) => p - q)[Math.floor(a.length / 2)];
  console.log(`${model} b${batch} ${kind}: off ${off.map((v) => v.toFixed(1)).join('/')} on ${on.map((v) => v.toFixed(1)).join('/')} img/s, median ratio ${med(ratios).toFixed(2)} (${ratios.map((v) => v.toFixed(2)).join(' ')}) numTensors ${tf.memory().numTensors}`);
}
