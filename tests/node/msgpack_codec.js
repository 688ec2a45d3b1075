// socket.io-msgpack-parser's Encoder and Decoder, driven by JSON lines (one answer a line).
//
// Usage: node msgpack_codec.js. stdin, one JSON object a line:
//   {"encode": packet}   -> {"hex": "..."}: Encoder.encode(packet), one Buffer
//   {"decode": "hex"}    -> {"packet": ...}, or {"error": message} (Decoder.add refused it)
// Values carry tags for what JSON cannot: {"$bin": base64} a Buffer, {"$ab": base64} an
// ArrayBuffer, {"$undefined": true} undefined (kept as a member, as notepack 2 writes it).
"use strict";

const readline = require("readline");
const parser = require("socket.io-msgpack-parser");

function fromJson(value) {
  if (Array.isArray(value)) return value.map(fromJson);
  if (value && typeof value === "object") {
    if (typeof value.$bin === "string") return Buffer.from(value.$bin, "base64");
    if (typeof value.$ab === "string") {
      const bytes = Buffer.from(value.$ab, "base64");
      return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length);
    }
    if (value.$undefined === true) return undefined;
    const out = {};
    for (const [k, v] of Object.entries(value)) out[k] = fromJson(v);
    return out;
  }
  return value;
}

function toJson(value) {
  if (value === undefined) return { $undefined: true };
  if (Buffer.isBuffer(value)) return { $bin: value.toString("base64") };
  if (value instanceof ArrayBuffer) return { $ab: Buffer.from(value).toString("base64") };
  if (value instanceof Date) return { $date: value.getTime() };
  if (Array.isArray(value)) return value.map(toJson);
  if (value && typeof value === "object") {
    const out = {};
    for (const [k, v] of Object.entries(value)) out[k] = toJson(v);
    return out;
  }
  return value;
}

const encoder = new parser.Encoder();

function answer(request) {
  if ("encode" in request) {
    const [buffer] = encoder.encode(fromJson(request.encode));
    return { hex: Buffer.from(buffer).toString("hex") };
  }
  const decoder = new parser.Decoder();
  let decoded = null;
  decoder.on("decoded", (packet) => (decoded = packet));
  try {
    decoder.add(Buffer.from(request.decode, "hex"));
  } catch (err) {
    return { error: err.message };
  }
  return { packet: toJson(decoded) };
}

const lines = readline.createInterface({ input: process.stdin });
lines.on("line", (line) => {
  if (!line.trim()) return;
  process.stdout.write(JSON.stringify(answer(JSON.parse(line))) + "\n");
});
