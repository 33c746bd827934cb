// The globals of AudioWorkletGlobalScope (Web Audio API, section 1.32), which TypeScript's
// "dom" lib does not declare. Types only: esbuild bundles the .js worklets from their
// imports, and nothing imports this file. Ambient, so the main-thread files see these
// names too: only the worklets (worklets/*.js) may use them.

/** The context's sample rate, in Hz (IDL float). */
declare const sampleRate: number;
/** The context time of the render quantum being processed, in seconds (IDL double). */
declare const currentTime: number;
/** The frame number of the render quantum being processed (IDL unsigned long long). */
declare const currentFrame: number;

declare class AudioWorkletProcessor {
  readonly port: MessagePort;
  constructor();
}

/**
 * processorCtor is called with the node's options (structured-cloned). `process` is the
 * spec's AudioWorkletProcessCallback, looked up on the instance at each render quantum:
 * it is required here so that registering a processor without one does not check.
 */
declare function registerProcessor(
  name: string,
  processorCtor: new (options: AudioWorkletNodeOptions) => AudioWorkletProcessor & {
    process(inputs: Float32Array[][], outputs: Float32Array[][], parameters: Record<string, Float32Array>): boolean;
  },
): void;
