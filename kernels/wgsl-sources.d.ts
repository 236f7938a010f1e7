// The module web/build.ts makes for a browser bundle: kernels/*.wgsl by file name (no extension).
declare module 'wgpt:wgsl-sources' {
  const sources: Record<string, string>;
  export default sources;
}
