// TF.js reference runner for the MoveNet parity test (test/model/backbones/tfjs_reference.py).
//
// Runs a TF.js graph model (model.json + its weight shards, read from local files: no fetch, no network) on the
// pure-JavaScript 'cpu' backend and writes the raw tensors of the requested graph nodes, so that a PyTorch port
// can be compared with Google's own graph, intermediate activations included. It is a test reference only: nothing
// in hmr_ros ever runs it. Install it with `npm ci` in this folder (the exact versions are pinned by
// package-lock.json); tfjs_reference.py does that into a cache directory.
//
//   node run_graph.mjs MODEL_JSON RGB_FILE HEIGHT WIDTH OUT_DIR [NODE_NAME ...]
//
// RGB_FILE holds the raw uint8 bytes of an (HEIGHT, WIDTH, 3) RGB image; it is fed as the int32 tensor
// (1, HEIGHT, WIDTH, 3). NODE_NAME is a graph node ('StatefulPartitionedCall/center_0/conv2d_4/BiasAdd') or tensor
// ('Identity:0') name; the default is the model's outputs. Tensor i is written to OUT_DIR/<i>.bin as float32
// little-endian (integer tensors are cast) in the graph's own layout (NHWC for feature maps), and OUT_DIR/outputs.json
// lists [{"name", "shape", "dtype", "file"}] in the order requested. On error: one line on stderr, exit code 1.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { loadGraphModel } from '@tensorflow/tfjs-converter';

function fail(message) {
  process.stderr.write(`run_graph: ${String(message).replace(/\s+/g, ' ').trim()}\n`);
  process.exit(1);
}

function readFile(file, what) {
  if (!fs.existsSync(file)) fail(`${what} not found: ${file}`);
  return fs.readFileSync(file);
}

function positiveInt(text, what) {
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) fail(`${what} must be a positive integer, got '${text}'`);
  return value;
}

/** A tf.io.IOHandler over the local model.json and the weight shards that its weightsManifest names. */
function localModel(modelJsonPath) {
  const modelJson = JSON.parse(readFile(modelJsonPath, 'model json'));
  const dir = path.dirname(modelJsonPath);
  const loadWeights = async (manifest) => {
    const shards = manifest.flatMap((group) => group.paths.map((p) => readFile(path.join(dir, p), 'weights file')));
    const bytes = Buffer.concat(shards);
    const data = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    return [manifest.flatMap((group) => group.weights), data];
  };
  return { modelJson, handler: { load: () => tf.io.getModelArtifactsForJSON(modelJson, loadWeights) } };
}

/** 'node' or 'node:k' -> 'node:k' (k defaults to 0), after checking that the node is in the graph. */
function tensorName(name, graphNodes) {
  const [, node, index = '0'] = /^(.*?)(?::(\d+))?$/.exec(name);
  if (!graphNodes.has(node)) fail(`unknown node '${name}' (not in the model's graph)`);
  return `${node}:${index}`;
}

async function main() {
  const [modelJsonPath, rgbFile, heightText, widthText, outDir, ...requested] = process.argv.slice(2);
  if (outDir === undefined) fail('usage: node run_graph.mjs MODEL_JSON RGB_FILE HEIGHT WIDTH OUT_DIR [NODE_NAME ...]');
  const [height, width] = [positiveInt(heightText, 'HEIGHT'), positiveInt(widthText, 'WIDTH')];
  const rgb = readFile(rgbFile, 'RGB file');
  if (rgb.length !== height * width * 3) {
    fail(`RGB file has ${rgb.length} bytes, expected ${height} x ${width} x 3 = ${height * width * 3}`);
  }
  const { modelJson, handler } = localModel(modelJsonPath);
  const graphNodes = new Set(modelJson.modelTopology.node.map((n) => n.name));
  const names = requested.length > 0 ? requested : Object.values(modelJson.signature?.outputs ?? {}).map((o) => o.name);
  if (names.length === 0) fail('the model json has no signature outputs: name the nodes to evaluate');
  const tensorNames = names.map((n) => tensorName(n, graphNodes));

  tf.env().set('PROD', true); // silences tfjs-core's console warnings only (the 'install tfjs-node' banner)
  await tf.setBackend('cpu');
  const model = await loadGraphModel(handler);
  const input = tf.tensor4d(Int32Array.from(rgb), [1, height, width, 3], 'int32');
  let outputs;
  try {
    outputs = model.execute(input, tensorNames);
  } catch (error) {
    if (!/executeAsync/.test(error.message)) throw error; // a dynamic op (control flow, NMS, ...) on the path
    outputs = await model.executeAsync(input, tensorNames);
  }
  outputs = Array.isArray(outputs) ? outputs : [outputs];

  fs.mkdirSync(outDir, { recursive: true });
  const listing = outputs.map((tensor, i) => {
    const values = Float32Array.from(tensor.dataSync()); // a copy, cast to float32
    const bytes = Buffer.from(values.buffer);
    if (os.endianness() === 'BE') bytes.swap32();
    const file = `${i}.bin`;
    fs.writeFileSync(path.join(outDir, file), bytes);
    return { name: names[i], shape: tensor.shape, dtype: tensor.dtype, file };
  });
  fs.writeFileSync(path.join(outDir, 'outputs.json'), `${JSON.stringify(listing, null, 2)}\n`);
}

main().catch((error) => fail(error?.message ?? error));
