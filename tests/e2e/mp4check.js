#!/usr/bin/env node
// Reads an fMP4 rendition with GPAC's JavaScript parser (npm mp4box):
// the init segment and then each media segment given, appended in order,
// and prints one JSON document: the parser's errors, the tracks it found
// (codec, timescale) and the samples it extracted per segment. It decides
// nothing: tests/e2e/run.py holds the assertions.
//   node mp4check.js init.mp4 00000.m4s 00001.m4s ...
'use strict';
const fs = require('fs');
const MP4Box = require('mp4box');

const out = { errors: [], tracks: [], samples: [], ready: false };
const file = MP4Box.createFile();
file.onError = (e) => { out.errors.push(String(e)); };
file.onReady = (info) => {
  out.ready = true;
  out.tracks = info.tracks.map((t) => ({ id: t.id, codec: t.codec, timescale: t.timescale,
                                          type: t.type || (t.video ? 'video' : 'audio') }));
  for (const t of info.tracks)
    file.setExtractionOptions(t.id, null, { nbSamples: 1000000 });
  file.start();
};
let got = 0;
file.onSamples = (id, user, samples) => { got += samples.length; };

let offset = 0;
try {
  for (const path of process.argv.slice(2)) {
    const data = fs.readFileSync(path);
    const buf = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength);
    buf.fileStart = offset;
    offset += data.byteLength;
    const before = got;
    file.appendBuffer(buf);
    out.samples.push(got - before);
  }
  file.flush();
} catch (e) {
  out.errors.push(String(e && e.stack || e).split('\n')[0]);
}
process.stdout.write(JSON.stringify(out) + '\n');
