// WGSL files are imported as text (esbuild's `text` loader), in Node, tests and the browser bundle alike.
declare module '*.wgsl' {
  const source: string;
  export default source;
}

// wgsl_reflect's package `main` is CommonJS inside a "type": "module" package, which Node's ESM
// loader rejects; its ES module build is imported by path instead, with the package's own types.
declare module 'wgsl_reflect/wgsl_reflect.module.js' {
  export * from 'wgsl_reflect';
}
