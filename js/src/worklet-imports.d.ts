// `import source from "worklet:./x.js"`: build.mjs bundles the module and gives its code
// as a string (the worklets and the I/O worker are loaded from blob URLs).
declare module "worklet:*" {
  const source: string;
  export default source;
}
