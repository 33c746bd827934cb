// Drives npm rt-client 0.5.1 (Azure-Samples/aoai-realtime-audio-sdk's JavaScript client)
// through one interop scenario and prints what its user saw as one JSON line.
//
//   node driver.mjs '<json spec>'
//
// spec: {route: "azure-preview"|"openai-preview", scenario, azure_endpoint, api_key,
//        model, deployment, origin: [host, port], inputs: {...prompts, audio_file}}
// out:  {text, transcript, audio_b64, user_transcript, status, tool_calls, truncated_ms,
//        errors, notes}
//
// rt-client's OpenAI mode always dials wss://api.openai.com/v1/realtime. For the
// openai-preview route the driver sends connections to that one host to the endpoint's
// origin instead (tls.connect -> a plain TCP socket there): what a hosts entry plus a TLS
// terminator would do. The client's own code builds the URL, headers and every event.
import fs from "node:fs";
import net from "node:net";
import tls from "node:tls";
import { LowLevelRTClient, RTClient } from "rt-client";

const spec = JSON.parse(process.argv[2]);
const inputs = spec.inputs;
const seen = {
  text: "",
  transcript: "",
  audio: [],
  user_transcript: null,
  status: null,
  tool_calls: [],
  truncated_ms: null,
  errors: [],
  notes: {},
};

if (spec.route === "openai-preview") {
  const [host, port] = spec.origin;
  const realConnect = tls.connect;
  tls.connect = function (options, ...rest) {
    if (options && options.host === "api.openai.com") {
      return net.connect({ host, port });
    }
    return realConnect.call(tls, options, ...rest);
  };
}

function makeArgs() {
  const key = { key: spec.api_key };
  if (spec.route === "azure-preview") {
    return [new URL(spec.azure_endpoint), key, { deployment: spec.deployment }];
  }
  if (spec.route === "openai-preview") {
    return [key, { model: spec.model }];
  }
  throw new Error(`rt-client has no ${spec.route} route`);
}

function highLevel() {
  return new RTClient(...makeArgs());
}

function lowLevel() {
  return new LowLevelRTClient(...makeArgs());
}

const userText = (text) => ({ type: "message", role: "user", content: [{ type: "input_text", text }] });
const pcm = () => new Uint8Array(fs.readFileSync(inputs.audio_file));

async function readContent(content) {
  if (content.type === "text") {
    for await (const chunk of content.textChunks()) seen.text += chunk;
    return;
  }
  const audio = (async () => {
    for await (const chunk of content.audioChunks()) seen.audio.push(Buffer.from(chunk));
  })();
  const transcript = (async () => {
    for await (const chunk of content.transcriptChunks()) seen.transcript += chunk;
  })();
  await Promise.all([audio, transcript]);
}

async function readResponse(response) {
  for await (const item of response) {
    if (item.type === "message") {
      for await (const content of item) await readContent(content);
    } else if (item.type === "function_call") {
      await item.waitForCompletion();
      seen.tool_calls.push([item.functionName, JSON.parse(item.arguments)]);
    }
  }
  seen.status = response.status;
}

async function sendAudioChunks(client, bytes) {
  for (let i = 0; i < bytes.length; i += inputs.chunk_bytes) {
    await client.sendAudio(bytes.subarray(i, i + inputs.chunk_bytes));
  }
}

const transcription = () => ({ model: inputs.transcription_model });

const scenarios = {
  async text() {
    const c = highLevel();
    try {
      await c.init();
      await c.configure({ modalities: ["text"], turn_detection: null });
      await c.sendItem(userText(inputs.text_prompt));
      await readResponse(await c.generateResponse());
    } finally {
      await c.close();
    }
  },

  async text_low_level() {
    const c = lowLevel();
    try {
      await c.send({ type: "session.update", session: { modalities: ["text"], turn_detection: null } });
      await c.send({ type: "conversation.item.create", item: userText(inputs.text_prompt) });
      await c.send({ type: "response.create" });
      for await (const m of c.messages()) {
        if (m.type === "error") seen.errors.push(m.error.message);
        if (m.type === "response.text.delta") seen.text += m.delta;
        if (m.type === "response.done") {
          seen.status = m.response.status;
          break;
        }
      }
    } finally {
      await c.close();
    }
  },

  async server_vad_audio() {
    const c = highLevel();
    try {
      await c.init();
      await c.configure({
        modalities: ["text", "audio"],
        turn_detection: { type: "server_vad" },
        input_audio_transcription: transcription(),
      });
      await sendAudioChunks(c, pcm());
      for await (const event of c.events()) {
        if (event.type === "input_audio") {
          await event.waitForCompletion();
          seen.user_transcript = event.transcription ?? null;
          seen.notes.audio_start_ms = event.audioStartMillis;
        } else {
          await readResponse(event);
          break;
        }
      }
    } finally {
      await c.close();
    }
  },

  async manual_commit_audio() {
    const c = highLevel();
    try {
      await c.init();
      await c.configure({ turn_detection: null, input_audio_transcription: transcription() });
      await sendAudioChunks(c, pcm());
      const item = await c.commitAudio();
      await item.waitForCompletion();
      seen.user_transcript = item.transcription ?? null;
      await readResponse(await c.generateResponse());
    } finally {
      await c.close();
    }
  },

  async cancel() {
    const c = highLevel();
    try {
      await c.init();
      await c.configure({ turn_detection: null });
      await c.sendItem(userText(inputs.long_prompt));
      const response = await c.generateResponse();
      const items = response[Symbol.asyncIterator]();
      const item = (await items.next()).value;
      const content = (await item[Symbol.asyncIterator]().next()).value;
      for await (const chunk of content.audioChunks()) {
        seen.audio.push(Buffer.from(chunk));
        break;
      }
      await response.cancel();
      seen.status = response.status;
      const message = response.output.find((o) => o.type === "message");
      seen.transcript = (message && message.content[0] && message.content[0].transcript) || "";
    } finally {
      await c.close();
    }
  },

  async truncate() {
    const c = lowLevel();
    try {
      await c.send({ type: "session.update", session: { turn_detection: null } });
      await c.send({ type: "conversation.item.create", item: userText(inputs.text_prompt) });
      await c.send({ type: "response.create" });
      let itemId = null;
      let truncateSent = false;
      for await (const m of c.messages()) {
        if (m.type === "error") {
          seen.errors.push(m.error.message);
          break;
        }
        if (m.type === "response.audio.delta") {
          seen.audio.push(Buffer.from(m.delta, "base64"));
          itemId = m.item_id;
        }
        if (m.type === "response.done") {
          seen.status = m.response.status;
          const ms = Math.floor(Buffer.concat(seen.audio).length / 2 / 24 / 2);
          seen.notes.truncate_at_ms = ms;
          await c.send({ type: "conversation.item.truncate", item_id: itemId, content_index: 0, audio_end_ms: ms });
          truncateSent = true;
        }
        if (truncateSent && m.type === "conversation.item.truncated") {
          seen.truncated_ms = m.audio_end_ms;
          break;
        }
      }
    } finally {
      await c.close();
    }
  },

  async tool_call() {
    const c = highLevel();
    try {
      await c.init();
      await c.configure({ modalities: ["text"], turn_detection: null, tools: [inputs.tool] });
      await c.sendItem(userText(inputs.tool_prompt));
      const first = await c.generateResponse();
      const calls = [];
      for await (const item of first) {
        if (item.type === "function_call") {
          await item.waitForCompletion();
          calls.push(item);
          seen.tool_calls.push([item.functionName, JSON.parse(item.arguments)]);
        }
      }
      await c.sendItem({ type: "function_call_output", call_id: calls[0].callId, output: inputs.tool_output });
      await readResponse(await c.generateResponse());
    } finally {
      await c.close();
    }
  },
};

const timer = setTimeout(() => {
  seen.errors.push(`timed out after ${spec.timeout_s} s`);
  finish(1);
}, spec.timeout_s * 1000);

function finish(code) {
  clearTimeout(timer);
  const { audio, ...rest } = seen;
  const line = JSON.stringify({ ...rest, audio_b64: Buffer.concat(audio).toString("base64") }) + "\n";
  process.stdout.write(line, () => process.exit(code)); // exit only once the pipe has it all
}

try {
  await scenarios[spec.scenario]();
  finish(0);
} catch (error) {
  seen.errors.push(`${error && error.name}: ${error && error.message}`);
  finish(0);
}
